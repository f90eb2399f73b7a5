#!/usr/bin/env python3
"""Replies for several conversations due at once: one by one (`Decoder.reply`, what a
server without batching does) against side by side (`Decoder.replies`, what `chatbot
serve` does), on the same states, settings and draws, measured in the same run.

Prints one JSON object: seconds per reply each way, for each batch size, and the ratio.

usage: python scripts/bench_serve.py [--model starter] [--sizes 1 4 8 16] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LINES = [
    "hello, how are you?",
    "my name is Zorblax.",
    "do you like music?",
    "i live in Paris.",
    "what do you do for fun?",
    "tell me about your day.",
    "i have a dog called Rex.",
    "what is your favourite food?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="starter")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from chatbot import Chatbot
    from chatbot.decode import DecodeSettings

    bot = Chatbot.load(args.model)
    settings = DecodeSettings(**{**bot.chat_decoding}).for_model(bot.config.max_len)
    states, memories = [], []
    for i in range(max(args.sizes)):
        bot.reset_hidden_state()
        bot.observe(LINES[i % len(LINES)])
        states.append(bot.state)
        memories.append(bot.memory)
    out: dict = {"model": args.model, "settings": settings.__dict__, "sizes": {}}
    for n in args.sizes:
        draws, banned = list(range(n)), [[] for _ in range(n)]
        batch = (states[:n], memories[:n], settings, draws, banned)
        bot.decoder.replies(*batch)  # compile both ways first
        bot.decoder.reply(states[0], memories[0], settings, 0)
        timings = {}
        for way in ("one_by_one", "side_by_side"):
            best = float("inf")
            for _ in range(args.rounds):
                start = time.perf_counter()
                if way == "side_by_side":
                    bot.decoder.replies(*batch)
                else:
                    for s, m, d in zip(states[:n], memories[:n], draws, strict=True):
                        bot.decoder.reply(s, m, settings, d)
                best = min(best, time.perf_counter() - start)
            timings[way] = best / n
        out["sizes"][n] = {
            "seconds_per_reply_one_by_one": round(timings["one_by_one"], 5),
            "seconds_per_reply_side_by_side": round(timings["side_by_side"], 5),
            "speedup": round(timings["one_by_one"] / timings["side_by_side"], 2),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
