#!/usr/bin/env python3
"""Train the starter model that ships in chatbot/starter/, reproducibly.

Data: the English corpus of the `chatterbot-corpus` package (BSD-3-Clause),
ingested from the installed package, so nothing is downloaded. The model is
small on purpose (a few MB): it lets `chatbot chat` answer right after
install; train your own on a real corpus for a better one.

Writes chatbot/starter/ with config.json, vocab.json and a weights-only
checkpoint (no optimizer slots), and prints one JSON object with its metrics.

usage: python scripts/train_starter.py [--epochs 40]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
OUT = Path(__file__).resolve().parents[1] / "chatbot" / "starter"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    import tensorflow as tf

    from chatbot import Chatbot
    from chatbot.checkpoint import ModelDir
    from chatbot.config import Config
    from chatbot.corpora.chatterbot import builtin_path
    from chatbot.ingest import ingest
    from chatbot.store import Store
    from chatbot.train import models_root, train

    config = Config(
        embed_dim=64,
        hidden_units=192,
        vocab_size=3000,
        min_count=1,
        max_len=20,
        batch_size=32,
        bptt=4,
        epochs=args.epochs,
        learning_rate=3e-3,
        patience=args.epochs,
        seed=0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "starter.db")
        ingest(store, builtin_path("chatterbot-english"), "chatterbot", "chatterbot-english")
        state = train(store, "chatterbot-english", "starter", config)
        bot = Chatbot.load(models_root(store) / "starter")
        shutil.rmtree(OUT, ignore_errors=True)
        out = ModelDir(OUT)
        out.create(bot.config, bot.vocab)
        weights_only = tf.train.Checkpoint(model=bot.model.checkpointable())
        metrics = {
            "corpus": "chatterbot-english (chatterbot-corpus, BSD-3-Clause)",
            "best_valid_ppl": state.best_valid_ppl,
            "epochs": state.epoch,
            "history": state.history,
        }
        out.write_checkpoint("best", weights_only.write, metrics)
        samples = {
            q: (bot.reset_hidden_state(), bot.respond(q))[1]
            for q in (
                "hello",
                "how are you?",
                "what is your name?",
                "tell me a joke",
                "what is ai?",
                "do you like movies?",
            )
        }
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(
        json.dumps(
            {
                "best_valid_ppl": round(state.best_valid_ppl, 2),
                "epochs": state.epoch,
                "size_mb": round(size / 1e6, 2),
                "samples": samples,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
