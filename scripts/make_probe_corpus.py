#!/usr/bin/env python3
"""Write a context-probe corpus as JSONL (the ingestion format plus an "answer" key).

Each conversation states a fact, has distractor exchanges, then asks for the
fact; --kind chooses which probe (chatbot/evaluation/probe.py: colour, pet, far, two).
Ingest it to train on it; pass it to `chatbot eval --probe FILE` to measure
memory.

usage: python scripts/make_probe_corpus.py OUT.jsonl [--conversations 2000]
       [--seed 0] [--kind colour]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from chatbot.evaluation.probe import KINDS, probe_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kind", choices=sorted(KINDS), default="colour")
    args = parser.parse_args()
    lines = [
        json.dumps(c.to_json()) for c in probe_corpus(args.conversations, args.seed, args.kind)
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} probe conversations in {args.out}")


if __name__ == "__main__":
    main()
