#!/usr/bin/env python3
"""Choose the default chat decoding by measurement: every candidate decoding replies to
each exchange of a corpus split (the real conversation read with the state carried),
and its replies are scored against the human ones.

For each candidate: unigram F1 and BLEU-2 against the human reply, distinct-1/2,
the top-10 reply share, the average length, and the median milliseconds per
reply. The winner is the candidate with the best F1 among those with top-10
share <= 10% and distinct-2 >= 0.15 whose F1 is no worse than greedy's (issue
17's bar); if none qualifies, the one with the lowest top-10 share whose F1
is no worse than greedy's. Candidates with MMI over more than MMI_TOKENS
words (the whole reply) are measured but never chosen: in a chat they repeat
content words ("french french french strawberry"). Prints one JSON object.

With --save, the winner is written to the model folder's decoding.json, and
`chatbot chat` decodes a new conversation with that model that way.

usage: python scripts/choose_decoding.py --model dd --corpus dd [--split valid]
       [--conversations 1000] [--db chatbot.db] [--save]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The most words MMI may score in a chosen decoding (Li et al.'s γ, DecodeSettings'
# default): over the whole reply it repeated content words in a chat.
MMI_TOKENS = 5
CANDIDATES = {
    "greedy": {},
    "beam5": {"beam": 5},
    "beam5-ngram3": {"beam": 5, "no_repeat_ngram": 3},
    "greedy-mmi0.3": {"mmi": 0.3},
    "greedy-mmi0.5": {"mmi": 0.5},
    "greedy-mmi0.7": {"mmi": 0.7},
    "beam5-mmi0.5-ngram3": {"beam": 5, "mmi": 0.5, "no_repeat_ngram": 3},
    "sample-t0.5-p0.9": {"temperature": 0.5, "top_p": 0.9},
    "sample-t0.6-p0.9": {"temperature": 0.6, "top_p": 0.9},
    "sample-t0.7-p0.8": {"temperature": 0.7, "top_p": 0.8},
    "sample-t0.7-p0.9": {"temperature": 0.7, "top_p": 0.9},
    "sample-t0.7-p0.9-mmi0.3": {"temperature": 0.7, "top_p": 0.9, "mmi": 0.3},
    "sample-t1.0-p0.9-mmi0.5": {"temperature": 1.0, "top_p": 0.9, "mmi": 0.5},
    "sample-t0.5-p0.9-mmi0.3": {"temperature": 0.5, "top_p": 0.9, "mmi": 0.3},
    # Low-temperature sampling on top of MMI: MMI lifts greedy's F1, the draw its variety.
    "sample-t0.3-mmi0.5": {"temperature": 0.3, "mmi": 0.5},
    "sample-t0.4-p0.9-mmi0.5": {"temperature": 0.4, "top_p": 0.9, "mmi": 0.5},
    "sample-t0.5-p0.9-mmi0.5": {"temperature": 0.5, "top_p": 0.9, "mmi": 0.5},
    "sample-t0.3-mmi0.7": {"temperature": 0.3, "mmi": 0.7},
    "sample-t0.2-mmi0.5": {"temperature": 0.2, "mmi": 0.5},
    "sample-t0.3-p0.7-mmi0.5": {"temperature": 0.3, "top_p": 0.7, "mmi": 0.5},
    "sample-t0.5-p0.5-mmi0.5": {"temperature": 0.5, "top_p": 0.5, "mmi": 0.5},
    "sample-t0.3-mmi0.5-all": {"temperature": 0.3, "mmi": 0.5, "mmi_tokens": 20},
    "greedy-mmi0.5-all": {"mmi": 0.5, "mmi_tokens": 20},
    "greedy-mmi0.5-min3": {"mmi": 0.5, "min_length": 3},
    "greedy-mmi0.5-min4": {"mmi": 0.5, "min_length": 4},
    "sample-t0.2-mmi0.5-min3": {"temperature": 0.2, "mmi": 0.5, "min_length": 3},
    "sample-t0.3-min4": {"temperature": 0.3, "min_length": 4},
    "sample-t0.5-p0.9-min4": {"temperature": 0.5, "top_p": 0.9, "min_length": 4},
    "sample-t0.7-p0.9-min4": {"temperature": 0.7, "top_p": 0.9, "min_length": 4},
    "sample-t0.2-mmi0.5-min4": {"temperature": 0.2, "mmi": 0.5, "min_length": 4},
    "sample-t0.3-mmi0.5-min4": {"temperature": 0.3, "mmi": 0.5, "min_length": 4},
    "sample-t0.4-p0.9-mmi0.5-min4": {"temperature": 0.4, "top_p": 0.9, "mmi": 0.5, "min_length": 4},
    "sample-t0.3-mmi0.5-all-min4": {
        "temperature": 0.3,
        "mmi": 0.5,
        "mmi_tokens": 20,
        "min_length": 4,
    },
    # The chat default without a word run to the length limit ("thanks!!!!!!!!", the
    # chitchat starter's): n-gram blocking or a repetition penalty on top.
    "sample-t0.3-mmi0.5-min4-ngram2": {
        "temperature": 0.3,
        "mmi": 0.5,
        "min_length": 4,
        "no_repeat_ngram": 2,
    },
    "sample-t0.3-mmi0.5-min4-ngram3": {
        "temperature": 0.3,
        "mmi": 0.5,
        "min_length": 4,
        "no_repeat_ngram": 3,
    },
    "sample-t0.3-mmi0.5-min4-rep1.2": {
        "temperature": 0.3,
        "mmi": 0.5,
        "min_length": 4,
        "repetition_penalty": 1.2,
    },
    # Sample-and-rank: several draws, the best-scored kept.
    "rank4-t0.7-p0.9": {"temperature": 0.7, "top_p": 0.9, "samples": 4},
    "rank8-t0.7-p0.9": {"temperature": 0.7, "top_p": 0.9, "samples": 8},
    "rank4-t1.0-p0.9": {"temperature": 1.0, "top_p": 0.9, "samples": 4},
    "rank4-t0.7-p0.9-mmi0.3": {"temperature": 0.7, "top_p": 0.9, "samples": 4, "mmi": 0.3},
    "rank8-t1.0-p0.9-mmi0.3": {"temperature": 1.0, "top_p": 0.9, "samples": 8, "mmi": 0.3},
}


def measure(bot, conversations, settings) -> dict:
    from chatbot.evaluation.reply_metrics import reply_metrics

    bot = bot.fork(dataclasses.asdict(settings))
    replies, humans, times = [], [], []
    for conv in conversations:
        bot.reset_hidden_state()
        for source, reply, learn in conv:
            bot.read(source)
            if not learn:  # the user's side of a generated conversation
                continue
            start = time.perf_counter()
            replies.append(bot.vocab.decode(bot.reply_ids()))
            times.append(time.perf_counter() - start)
            humans.append(bot.vocab.decode(reply))
    metrics = reply_metrics(replies, humans)
    metrics["p50_ms"] = round(1000 * statistics.median(times[5:] or times), 2)
    return metrics


def choose(results: dict) -> str:
    floor = results["greedy"]["f1"]
    fair = {
        k: r
        for k, r in results.items()
        if r["f1"] >= floor and CANDIDATES[k].get("mmi_tokens", MMI_TOKENS) <= MMI_TOKENS
    }
    good = {k: r for k, r in fair.items() if r["generic_rate"] <= 0.10 and r["distinct_2"] >= 0.15}
    if good:
        return max(good, key=lambda k: good[k]["f1"])
    return min(fair, key=lambda k: fair[k]["generic_rate"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--db", default=None)
    parser.add_argument("--only", nargs="*", help="candidate names (default: all)")
    parser.add_argument(
        "--save",
        action="store_true",
        help="write the winner to the model folder's decoding.json, which `chatbot chat` "
        "then uses for that model instead of decode.CHAT_DEFAULT",
    )
    args = parser.parse_args()

    from dataclasses import replace

    from chatbot import Chatbot
    from chatbot.decode import DecodeSettings
    from chatbot.evaluation.reports import split_conversations
    from chatbot.store import Store

    with Store(args.db) as store:
        bot = Chatbot.load(args.model, db=store.path)
        convs, _ = split_conversations(
            store, args.corpus, args.split, bot.vocab, bot.config.max_len, rule=bot.slots
        )
    convs = convs[: args.conversations]
    base = DecodeSettings(max_length=bot.config.max_len)
    results = {}
    for name, changes in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        results[name] = measure(bot, convs, replace(base, **changes))
        print(
            name,
            json.dumps({k: v for k, v in results[name].items() if k != "top_replies"}),
            flush=True,
            file=sys.stderr,
        )
    chosen = choose(results) if "greedy" in results else None
    if args.save and chosen:
        from chatbot.files import write_atomic

        write_atomic(bot.path / "decoding.json", json.dumps(CANDIDATES[chosen]) + "\n")
    print(
        json.dumps(
            {
                "benchmark": "choose_decoding",
                "model": args.model,
                "split": args.split,
                "conversations": len(convs),
                "exchanges": results["greedy"]["replies"] if "greedy" in results else None,
                "candidates": {k: CANDIDATES[k] for k in results},
                "results": results,
                "chosen": chosen,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
