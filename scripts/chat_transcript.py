#!/usr/bin/env python3
"""A real chat with a model, as README shows it: 40 user lines (facts told, small talk,
the facts asked back), the replies the model gives with `chatbot chat`'s default
decoding, printed as a Markdown block. The sampling seed is fixed, so the same model
gives the same transcript. `--reset` holds the same chat with the state reset every
exchange (`remember-state off`), to see what the carried state is worth.

usage: python scripts/chat_transcript.py [--model starter] [--db chatbot.db] [--reset]
"""

from __future__ import annotations

import argparse
import os
import random

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LINES = [
    "Hi there!",
    "My name is Alice. How are you?",
    "What is your name?",
    "I have a dog called Rex.",
    "Do you like dogs?",
    "What is my name?",
    "I live in Boston.",
    "What do you like to do?",
    "Do you like music?",
    "What is my dog called?",
    "I work as a nurse.",
    "Tell me a joke.",
    "That is funny.",
    "Where do I live?",
    "What is your favourite food?",
    "I love pizza.",
    "Are you a robot?",
    "What do I do for a living?",
    "Do you have any pets?",
    "How is Rex?",
    "What is the weather like?",
    "My sister is called Zorblax.",
    "Do you like movies?",
    "What is my sister's name?",
    "What food do I like?",
    "Can you learn?",
    "Do you have feelings?",
    "Actually, I moved to Paris.",
    "Where do I live?",
    "What did you say your favourite food was?",
    "Are you happy?",
    "What do you do for fun?",
    "Do you remember my name?",
    "Who made you?",
    "What is my job?",
    "I am going to Tokyo next week.",
    "Where am I going?",
    "Thank you for the chat.",
    "What is my name?",
    "Goodbye!",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="starter")
    parser.add_argument("--db", default=None)
    parser.add_argument("--reset", action="store_true", help="the state reset every exchange")
    args = parser.parse_args()

    from chatbot import Chatbot
    from chatbot.session import Session

    random.seed(0)  # the session draws each sampled reply from Python's random
    session = Session(Chatbot.load(args.model, db=args.db), None, args.model)
    session.configure(session.chat_decoding)
    if args.reset:
        session.set("remember-state", "off")
    print("```")
    for line in LINES:
        print(f"you> {line}")
        print(f"bot> {session.respond(line)}")
    print("```")


if __name__ == "__main__":
    main()
