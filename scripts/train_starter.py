#!/usr/bin/env python3
"""Train the starter model that ships in chatbot/starter/, reproducibly and resumably.

Data, all read from installed packages, so nothing is downloaded:
- chitchat (`chitchat-dataset`, MIT): 7,168 conversations between people;
- the English chatterbot-corpus (BSD-3-Clause) without its `coding`,
  `tech_support` and `trivia` files (with them the model answered small talk
  with code: "here's a memoization function", and "Do you like sports?" with
  "koalas");
- the recall corpus (generated here, seed 0): facts stated, then asked for
  back, with chitchat's train split as the small talk in between.

The three are trained on as one mix (`chatbot train --corpus chitchat --corpus
recall --corpus chatterbot-english`). The run lives in WORK (default
runs/starter, ignored by git): run the script again after a crash or Ctrl-C
and it resumes from the last checkpoint. `--epochs` may raise the budget of
a run that finished. At the end the best weights are written to
chatbot/starter/ without optimizer slots, with the run's metrics, and one
JSON object is printed.

usage: python scripts/train_starter.py [--epochs 3] [--work runs/starter] [--no-export]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "chatbot" / "starter"
LEFT_OUT = ("coding.yml", "tech_support.yml", "trivia.yml")
RECALL_CONVERSATIONS, RECALL_SEED = 8000, 0
CORPORA = ["chitchat", "recall", "chatterbot-english"]


def settings(epochs: int):
    """The starter's (Config, RunConfig)."""
    from chatbot.config import Config, RunConfig

    # Sizes chosen to train in about an hour and a quarter on 2 CPU cores (3
    # epochs of ~25 minutes): 13,000 words cover 96.9% of DailyDialog's test
    # tokens; the rest of the conversation's words are read and said through
    # its slots. `slot_rank`: the word a user's statement names takes a slot
    # when it ranks past 500 (names, cities, pets, foods, jobs), so the bot can
    # say back words it knows too; 32 slots hold a long chat's facts. `chain`:
    # chats with the starter run on far past its conversations' ends; the
    # previous starter drifted into one reply without it (README). The rest is
    # what a user's `chatbot train` gets (docs/starter-history.md).
    return (
        Config(embed_dim=64, hidden_units=192, vocab_size=13_000, slots=32, slot_rank=500),
        RunConfig(batch_size=32, epochs=epochs, seed=0, chain=0.5),
    )


def ingest_all(store, work: Path) -> None:
    from chatbot.corpora import chitchat
    from chatbot.corpora.chatterbot import builtin_path
    from chatbot.ingest import ingest, ingest_recall

    if not store.has_corpus("chitchat"):
        ingest(store, chitchat.builtin_path(), "chitchat", "chitchat")
    if not store.has_corpus("chatterbot-english"):
        data = work / "english"
        data.mkdir(exist_ok=True)
        for path in sorted(builtin_path("chatterbot-english").glob("*.yml")):
            if path.name not in LEFT_OUT:
                shutil.copy(path, data / path.name)
        ingest(store, data, "chatterbot", "chatterbot-english")
    if not store.has_corpus("recall"):
        ingest_recall(store, "recall", RECALL_CONVERSATIONS, RECALL_SEED)


def export_folder(folder: Path) -> None:
    """The best checkpoint of `folder` as the starter, with the metrics it has so far."""
    from chatbot import Chatbot
    from chatbot.model_folder import ModelDir
    from chatbot.training.train_state import TrainState

    model_dir = ModelDir(folder)
    _, saved = model_dir.read_state("best")
    export(Chatbot.load(folder), model_dir.run_config(), TrainState(**saved), OUT)


def export(bot, run, state, out: Path) -> None:
    import tensorflow as tf

    from chatbot.model_folder import ModelDir

    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    # decoding.json goes too: it was measured for the weights it came with (the
    # model card says how the starter's was chosen).
    for name in ("config.json", "run.json", "vocab.json", "decoding.json"):
        (out / name).unlink(missing_ok=True)
    model_dir = ModelDir(out)
    model_dir.create(bot.config, bot.vocab, run)
    weights_only = tf.train.Checkpoint(model=bot.model.checkpointable())
    metrics = {
        "corpora": "chitchat (chitchat-dataset, MIT) + recall (generated, "
        f"{RECALL_CONVERSATIONS} conversations, seed {RECALL_SEED}) + chatterbot-english "
        "(chatterbot-corpus, BSD-3-Clause) without " + " and ".join(LEFT_OUT),
        "best_valid_ppl": state.best_valid_ppl,
        "epochs": state.epoch,
        "history": state.history,
    }
    model_dir.write_checkpoint("best", weights_only.write, metrics)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "starter")
    parser.add_argument("--no-export", action="store_true", help="train only")
    parser.add_argument(
        "--export-only",
        type=Path,
        help="write this model folder (a copy of a run's) as the starter, without training",
    )
    args = parser.parse_args()
    if args.export_only:
        export_folder(args.export_only)
        return

    from chatbot import Chatbot
    from chatbot.model_folder import ModelDir
    from chatbot.progress import TqdmReporter
    from chatbot.store import Store
    from chatbot.training.loop import train
    from chatbot.training.mix import Mix

    args.work.mkdir(parents=True, exist_ok=True)
    with Store(args.work / "starter.db") as store:
        ingest_all(store, args.work)
        mix = Mix(store, CORPORA)
        folder = ModelDir(store.models_folder / "starter")
        resume = folder.checkpoint("last") is not None
        config, run = settings(args.epochs)
        state = train(
            store,
            mix.name,
            "starter",
            None if resume else config,
            folder.run_config().replace(epochs=args.epochs) if resume else run,
            resume=resume,
            reporter=TqdmReporter(),
            source=mix,
        )
        bot = Chatbot.load(store.models_folder / "starter")
    if not args.no_export:
        export(bot, folder.run_config(), state, OUT)
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    summary = {"best_valid_ppl": round(state.best_valid_ppl, 2), "epochs": state.epoch}
    print(json.dumps({**summary, "size_mb": round(size / 1e6, 2)}, indent=1))


if __name__ == "__main__":
    main()
