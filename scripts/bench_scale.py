#!/usr/bin/env python3
"""Training throughput with one worker against two MultiWorkerMirroredStrategy workers.

Both runs train the reference shape (vocabulary 8000, embedding 128, LSTM 256,
global batch 64, bptt 4) on the same DailyDialog subset for two epochs with
`chatbot train`; the second epoch's time is compared (the first includes
tracing). On this one machine the two workers share its cores (each gets
half the threads, the single worker all of them), so the ratio shows the
cost of the distributed machinery, not a gain; the "on paper" section
estimates what to expect across machines from the measured compute per step
and the gradient bytes each step must all-reduce. Prints one JSON object.

usage: python scripts/bench_scale.py [--conversations 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAILYDIALOG = ROOT.parent / "shared" / "corpora" / "dailydialog"
FLAGS = ["--epochs", "2", "--patience", "5", "--seed", "0"]


def make_subset(db: Path, n: int) -> None:
    """The first n DailyDialog training conversations as a JSONL corpus 'sub'."""
    from chatbot.ingest import ingest
    from chatbot.store import Store

    with Store(db) as store:
        ingest(store, DAILYDIALOG, name="dd")
        path = db.parent / "sub.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for i, conv in enumerate(store.iter_conversations("dd", "train")):
                if i == n:
                    break
                f.write(json.dumps({"id": str(i), "turns": conv}) + "\n")
        ingest(store, path, name="sub")


def train(db: Path, name: str, workers: int) -> tuple[float, int]:
    """(seconds of the second epoch as the chief recorded it, optimizer steps per epoch)."""
    from chatbot.store import Store

    command = [sys.executable, "-m", "chatbot", "train", "--corpus", "sub", "--name", name]
    command += [*FLAGS, "--db", str(db)]
    from chatbot.training.distribute import localhost_tf_configs

    threads = str(max(1, (os.cpu_count() or 2) // workers))
    procs = []
    for tf_config in localhost_tf_configs(workers):
        env = {**os.environ, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1"}
        extra = []
        if workers > 1:
            env["TF_CONFIG"] = tf_config
            extra = ["--strategy", "multiworker"]
        procs.append(subprocess.Popen([*command, *extra], env=env, stdout=subprocess.DEVNULL))
    for p in procs:
        if p.wait(timeout=1800):
            sys.exit(f"{name}: a worker failed (exit {p.returncode})")
    with Store(db) as store:
        metrics = store.model(name).metrics
        return float(metrics["history"][1]["seconds"]), metrics["steps"] // 2


def target_tokens(db: Path, name: str) -> int:
    from chatbot.encoding import encoded_conversations
    from chatbot.model_folder import ModelDir
    from chatbot.store import Store

    with Store(db) as store:
        config, vocab = ModelDir(store.models_folder / name).load()
        convs = encoded_conversations(store.iter_conversations("sub", "train"), vocab, 20)
        return sum(len(t) + 1 for conv in convs for _, t in conv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    args = parser.parse_args()
    if not DAILYDIALOG.is_dir():
        sys.exit(f"bench_scale needs DailyDialog in {DAILYDIALOG}")
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_train import flops_per_token

    from chatbot.config import Config

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        make_subset(db, args.conversations)
        one, steps = train(db, "one", 1)
        two, _ = train(db, "two", 2)
        tokens = target_tokens(db, "one")
    cfg = Config()
    v, e, h = cfg.vocab_size, cfg.embed_dim, cfg.hidden_units
    # Embedding, encoder and decoder LSTMs (kernel, recurrent kernel, bias), projection.
    params = v * e + 2 * 4 * h * (e + h + 1) + h * v + v
    gradient_mb = params * 4 / 1e6
    per_source, per_target = flops_per_token(cfg)
    tokens_per_step = tokens / steps
    print(
        json.dumps(
            {
                "benchmark": "scale",
                "conversations": args.conversations,
                "target_tokens_per_epoch": tokens,
                "one_worker": {"seconds": one, "tokens_per_second": round(tokens / one)},
                "two_workers_localhost": {
                    "seconds": two,
                    "tokens_per_second": round(tokens / two),
                },
                "speedup": round(one / two, 2),
                "on_paper": {
                    "parameters": params,
                    "gradient_megabytes_per_step": round(gradient_mb, 1),
                    "ring_allreduce_megabytes_sent_per_worker": round(gradient_mb, 1),
                    "steps_per_epoch": steps,
                    "measured_seconds_per_step_here": round(one / steps, 3),
                    "allreduce_seconds_at_10_gbit": round(gradient_mb * 8 / 10_000, 4),
                    "allreduce_seconds_at_1_gbit": round(gradient_mb * 8 / 1_000, 4),
                    # Source tokens are about as many as target tokens in dialogue.
                    "forward_backward_gflop_per_step": round(
                        3 * (per_source + per_target) * tokens_per_step / 1e9, 1
                    ),
                },
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
