#!/usr/bin/env python3
"""A real chat with a model, as README shows it: 20 user lines, the replies the model
gives with `chatbot chat`'s default decoding and the state carried, printed as a
Markdown block. The sampling seed is fixed, so the same model gives the same
transcript.

usage: python scripts/chat_transcript.py [--model starter] [--db chatbot.db]
"""

from __future__ import annotations

import argparse
import os
import random

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LINES = [
    "Hi there!",
    "How are you today?",
    "My name is Alice.",
    "What is your name?",
    "Are you a robot?",
    "What do you like to do?",
    "Do you like music?",
    "What is your favorite song?",
    "Tell me a joke.",
    "That is funny.",
    "What is AI?",
    "Can you learn?",
    "Do you have feelings?",
    "Are you happy?",
    "What do you eat?",
    "Do you like movies?",
    "What is the weather like?",
    "Who made you?",
    "Thank you for the chat.",
    "Goodbye!",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="starter")
    parser.add_argument("--db", default=None)
    args = parser.parse_args()

    from chatbot import Chatbot
    from chatbot.session import Session

    random.seed(0)  # the session draws each sampled reply from Python's random
    session = Session(Chatbot.load(args.model, db=args.db), None, args.model)
    session.configure(session.chat_decoding)
    print("```")
    for line in LINES:
        print(f"you> {line}")
        print(f"bot> {session.respond(line)}")
    print("```")


if __name__ == "__main__":
    main()
