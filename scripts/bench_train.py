#!/usr/bin/env python3
"""Training throughput at the reference shape, against plain Keras `model.fit`, in one run.

Reference shape: vocabulary 8000, embedding 128, LSTM 256, max length 20, the
default batch of conversations (Keras: 64 pairs a step), on DailyDialog
(../shared/corpora, official split). Both models train for the same number of
epochs on the same training conversations (`--conversations` caps them to keep
the run short) and are scored on the same validation split
after every epoch (outside the timed part), so learning per epoch is compared
epoch by epoch. The order of the data and the initial weights alone move one
run's validation perplexity by a few percent (DailyDialog, seeds 0-2, after
epochs 1 and 2: Keras 2.5% and 2.0% from best to worst, ours 5.1% and 9.1%),
so `--seeds N` repeats both trainers with seeds 0..N-1 and compares the means.
Ours is also validated `--checks` times an epoch (untimed), so its time to a
perplexity is known to within a quarter epoch by default.

Speed is judged as time to quality: ours makes fewer, larger steps per epoch
(whole conversations), so tokens/s alone misleads. `time_to_quality_ratio` is
the time ours takes to reach the validation perplexity Keras fit has after 2
epochs, over Keras's time for those 2 epochs (run with `--epochs 2` or more).

- `chatbot`: chatbot's Trainer (conversation streams, carried state, bucketing,
  loss and output projection on real tokens only).
- `keras_fit`: the Keras lstm_seq2seq recipe: (utterance, next utterance) pairs
  padded to max length, encoder states handed to the decoder, `model.fit`,
  padding masked out of the loss with sample weights.
- `keras_fit_same_architecture`: the same recipe with our default model
  (attention over the encoder outputs, decoder dropout): the like-for-like
  baseline that `time_to_quality_ratio` is measured against.

Useful FLOPs count only real (non-padding) tokens: encoder gates per source
token, decoder gates and the output projection per target token, x3 for the
forward and backward passes. The peak is numpy's float32 2048^3 matmul, median
of several, in subprocesses with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as set and
unset; the higher is used. Our trainer's vocabulary projection runs in bfloat16
where the processor has fast bfloat16 matmuls (RunConfig.matmul_precision), so
TensorFlow's bfloat16 matmul peak is reported beside it. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chatbot._tf import prefer_parallel_ops  # noqa: E402

# As `chatbot train` runs. Both trainers share the process, so the Keras
# baseline runs with the same threads (its speed showed no consistent
# difference: 5,400-6,400 target tokens/s with TensorFlow's defaults,
# 4,800-7,200 with these, on this 2-core machine).
prefer_parallel_ops()
# The Keras recipe's batch: 64 (utterance, reply) pairs a step, whatever ours is.
KERAS_BATCH = 64
SHARED = Path(__file__).resolve().parents[2] / "shared"

PEAK_CODE = """
import time, statistics, numpy as np
a = np.random.rand(2048, 2048).astype(np.float32); b = np.random.rand(2048, 2048).astype(np.float32)
a @ b
times = []
for _ in range(7):
    t = time.perf_counter(); a @ b; times.append(time.perf_counter() - t)
print(2 * 2048 ** 3 / statistics.median(times) / 1e9)
"""


BF16_PEAK_CODE = """
import os, time, statistics
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
a, b = (tf.cast(tf.random.uniform([2048, 2048]), tf.bfloat16) for _ in range(2))
mm = tf.function(tf.matmul)
mm(a, b).numpy()
times = []
for _ in range(7):
    t = time.perf_counter(); mm(a, b).numpy(); times.append(time.perf_counter() - t)
print(2 * 2048 ** 3 / statistics.median(times) / 1e9)
"""


def matmul_peak() -> dict:
    def run(env: dict) -> float:
        out = subprocess.run(
            [sys.executable, "-c", PEAK_CODE], env=env, capture_output=True, text=True, check=True
        )
        return float(out.stdout)

    as_set = run(dict(os.environ))
    unset = run(
        {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    )
    bf16 = subprocess.run(
        [sys.executable, "-c", BF16_PEAK_CODE], capture_output=True, text=True, check=True
    )
    return {
        "gflops_as_set": round(as_set, 1),
        "gflops_unset": round(unset, 1),
        "gflops": round(max(as_set, unset), 1),
        # TensorFlow's bfloat16 matmul, for the projection when it runs in bfloat16.
        "gflops_bfloat16": round(float(bf16.stdout), 1),
    }


def flops_per_token(cfg) -> tuple[float, float]:
    """(per source token, per target token) forward FLOPs of the useful matmuls."""
    h = cfg.hidden_units
    gates = 2 * (cfg.embed_dim + h) * 4 * h
    # Attention per target token: W_a (h x h) and W_c (2h x h); the score and
    # context sums over the source (2h per source token each) are left out.
    attention = 6 * h * h if cfg.attention else 0
    return gates, gates + attention + 2 * h * cfg.vocab_size


def ingest_dailydialog(db: Path):
    from chatbot.ingest import ingest
    from chatbot.store import Store

    store = Store(db)
    ingest(store, SHARED / "corpora" / "dailydialog", name="dd")
    return store


def training_conversations(store, vocab, cfg, limit):
    from chatbot.encoding import encoded_conversations

    convs = encoded_conversations(store.iter_conversations("dd", "train"), vocab, cfg.max_len)
    return list(islice(convs, limit))


def bench_chatbot(store, vocab, cfg, run, convs, epochs, checks: int = 1) -> dict:
    """Our trainer; validated (untimed) `checks` times an epoch, at even shares of its
    windows, so the time to a perplexity is known to within 1/checks of an epoch."""
    import numpy as np

    from chatbot.training.steps import Trainer
    from chatbot.training.streams import bucketed, windows

    def epoch_windows(epoch: int):
        rng = np.random.default_rng([run.seed, epoch])  # as Trainer.train_streams
        batches = bucketed(iter(convs), run.batch_size, rng)
        return windows(batches, run.batch_size, run.bptt, run.chain, rng)

    trainer = Trainer(cfg, run, vocab)
    src_tokens = tgt_tokens = 0
    seconds, valid, raw, elapsed = 0.0, [], [], []
    for epoch in range(epochs):
        count = sum(1 for _ in epoch_windows(epoch))  # not timed
        marks = {math.ceil(count * (i + 1) / checks) for i in range(checks)}
        state = trainer.zero_state()
        first = epoch == 0
        start = time.perf_counter()
        for n, w in enumerate(epoch_windows(epoch), 1):
            if first:  # trace the compiled step outside the timed part
                trainer.compiled_step(w.source, w.target_in, w.target_out, w.reset, state)
                start, first = time.perf_counter(), False
            _, tokens, state = trainer.compiled_step(
                w.source, w.target_in, w.target_out, w.reset, state
            )
            src_tokens += int(np.count_nonzero(w.source))
            tgt_tokens += int(tokens)
            if n not in marks:
                continue
            seconds += time.perf_counter() - start
            elapsed.append(seconds)
            loss, tokens = trainer.evaluate(store, "dd", "valid")  # not timed
            raw.append(loss / tokens)
            with trainer.average.applied():  # as `chatbot train` validates
                loss, tokens = trainer.evaluate(store, "dd", "valid")
            valid.append(loss / tokens)
            start = time.perf_counter()
    return {
        "seconds": seconds,
        "source_tokens": src_tokens,
        "target_tokens": tgt_tokens,
        "valid_loss": valid,
        "raw_valid_loss": raw,
        "elapsed": elapsed,
        "checks": checks,
    }


def keras_seq2seq(cfg, v: int, same: bool):
    """The Keras lstm_seq2seq model; with `same`, our architecture in plain Keras:
    Luong general attention over the encoder outputs (linear combine), dropout on
    the decoder's input embeddings and outputs, as `cfg` says."""
    import keras
    from keras import layers

    e, h = cfg.embed_dim, cfg.hidden_units
    enc_in, dec_in = keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")
    embed = layers.Embedding(v, e, mask_zero=True, name="embedding")
    enc = layers.LSTM(h, return_sequences=same, return_state=True, name="encoder_lstm")
    outputs, state_h, state_c = enc(embed(enc_in))
    drop = layers.Dropout(cfg.dropout if same else 0.0)
    dec = layers.LSTM(h, return_sequences=True, name="decoder_lstm")(
        drop(embed(dec_in)), initial_state=[state_h, state_c]
    )
    dec = drop(dec)
    if same and cfg.attention:
        query = layers.Dense(h, use_bias=False, name="attention_score")(dec)
        context = layers.Attention(name="attention")([query, outputs])
        combined = layers.Concatenate()([context, dec])
        dec = layers.Dense(h, use_bias=False, name="attention_combine")(combined)
    return keras.Model([enc_in, dec_in], layers.Dense(v, name="output_projection")(dec))


def bench_keras_fit(store, vocab, cfg, run, convs, epochs, ema: float = 0.0, same=False) -> dict:
    import keras
    import numpy as np

    from chatbot.encoding import encoded_conversations
    from chatbot.vocab import END_ID, START_ID

    def arrays(conversations):
        pairs = [ex for conv in conversations for ex in conv]
        n, length = len(pairs), cfg.max_len
        enc = np.zeros((n, length), np.int32)
        dec_in = np.zeros((n, length), np.int32)
        dec_out = np.zeros((n, length), np.int32)
        for i, (s, t) in enumerate(pairs):
            enc[i, : len(s)] = s
            dec_in[i, : len(t) + 1] = [START_ID, *t]
            dec_out[i, : len(t) + 1] = [*t, END_ID]
        return enc, dec_in, dec_out, (dec_out > 0).astype(np.float32)

    keras.utils.set_random_seed(run.seed)
    model = keras_seq2seq(cfg, len(vocab), same)
    # `ema`: Keras's own weight averaging (per step; fit() ends on the average).
    adam = {"use_ema": True, "ema_momentum": ema} if ema else {}
    model.compile(
        keras.optimizers.Adam(run.learning_rate, global_clipnorm=run.clip_norm, **adam),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    enc, din, dout, weight = arrays(convs)
    model.fit(
        [enc[:64], din[:64]],
        dout[:64],
        sample_weight=weight[:64],
        batch_size=KERAS_BATCH,
        verbose=0,
    )
    pairs = encoded_conversations(store.iter_conversations("dd", "valid"), vocab, cfg.max_len)
    venc, vdin, vdout, vweight = arrays(list(pairs))

    def valid_loss(chunk: int = 512) -> float:
        total = 0.0  # in chunks: all logits at once would be 5 GB
        for i in range(0, len(venc), chunk):
            part = slice(i, i + chunk)
            logits = model.predict_on_batch([venc[part], vdin[part]])
            top = logits.max(-1, keepdims=True)
            logp = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
            nll = -np.take_along_axis(logp, vdout[part, :, None], -1)[..., 0]
            total += float((nll * vweight[part]).sum())
        return total / float(vweight.sum())

    seconds, valid, elapsed = 0.0, [], []
    for _ in range(epochs):  # one fit() per epoch, so the validation is not timed
        start = time.perf_counter()
        model.fit([enc, din], dout, sample_weight=weight, batch_size=KERAS_BATCH, verbose=0)
        seconds += time.perf_counter() - start
        elapsed.append(seconds)
        valid.append(valid_loss())
    return {
        "seconds": seconds,
        "source_tokens": int(np.count_nonzero(enc)) * epochs,
        "target_tokens": int(weight.sum()) * epochs,
        "valid_loss": valid,
        "elapsed": elapsed,
    }


def logged(name: str, settings, run: dict) -> dict:
    """Report each finished run on stderr: a run of several seeds takes a while."""
    ppl = ", ".join(f"{math.exp(v):.2f}" for v in run["valid_loss"])
    print(f"{name} seed {settings.seed}: {run['seconds']:.0f} s, valid ppl {ppl}", file=sys.stderr)
    return run


def combine(runs: list[dict]) -> dict:
    """One trainer's runs over several seeds: times and tokens add up; losses per seed."""
    total = {k: sum(r[k] for r in runs) for k in ("seconds", "source_tokens", "target_tokens")}
    losses = {k: [r[k] for r in runs] for k in ("valid_loss", "raw_valid_loss") if k in runs[0]}
    # Seconds from the start of training to each validation, mean over seeds.
    elapsed = [sum(e) / len(runs) for e in zip(*(r["elapsed"] for r in runs), strict=True)]
    return {**total, **losses, "elapsed": elapsed, "checks": runs[0].get("checks", 1)}


def mean_ppl(per_seed: list[list[float]]) -> list[float]:
    """Perplexity at each validation, mean over seeds, from per-seed mean losses."""
    ppl = [[math.exp(v) for v in losses] for losses in per_seed]
    return [round(sum(epoch) / len(epoch), 2) for epoch in zip(*ppl, strict=True)]


def summarize(result: dict, cfg, peak: float) -> dict:
    per_src, per_tgt = flops_per_token(cfg)
    flops = 3 * (result["source_tokens"] * per_src + result["target_tokens"] * per_tgt)
    gflops = flops / result["seconds"] / 1e9
    summary = {
        "seconds": round(result["seconds"], 1),
        "target_tokens_per_second": round(result["target_tokens"] / result["seconds"]),
        "useful_gflops": round(gflops, 1),
        "fraction_of_peak": round(gflops / peak, 3),
    }
    n = result["checks"]  # validations an epoch; the last of each is the epoch's end
    by_check = {
        "valid_ppl": mean_ppl(result["valid_loss"]),
        "seconds": [round(t, 1) for t in result["elapsed"]],
    }
    if "raw_valid_loss" in result:  # ours without the weight average
        by_check["raw_valid_ppl"] = mean_ppl(result["raw_valid_loss"])
    summary.update({f"{k}_by_epoch": v[n - 1 :: n] for k, v in by_check.items()})
    summary["valid_ppl_by_epoch_per_seed"] = [
        mean_ppl([seed])[n - 1 :: n] for seed in result["valid_loss"]
    ]
    if n > 1:
        summary["checks_per_epoch"] = n
        summary.update({f"{k}_by_check": v for k, v in by_check.items()})
    return summary


def time_to_quality(ours: dict, base: dict, epochs: int = 2) -> dict:
    """Seconds our trainer takes to reach the validation perplexity Keras fit has
    after `epochs` epochs, over Keras's seconds for them. Ours is timed at the first
    validation that gets there (`--checks`: validations an epoch), so the figure is
    an upper bound, to within one check; None if none does."""
    k = min(epochs, len(base["valid_ppl_by_epoch"])) - 1
    target, their_time = base["valid_ppl_by_epoch"][k], base["seconds_by_epoch"][k]
    by = "check" if "valid_ppl_by_check" in ours else "epoch"
    reached = [
        t
        for ppl, t in zip(ours[f"valid_ppl_by_{by}"], ours[f"seconds_by_{by}"], strict=True)
        if ppl <= target
    ]
    return {
        "keras_epochs": k + 1,
        "target_valid_ppl": target,
        "keras_seconds": their_time,
        "chatbot_seconds": reached[0] if reached else None,
        "ratio": round(reached[0] / their_time, 3) if reached else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--conversations", type=int, default=3000, help="training conversations used"
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument(
        "--checks",
        type=int,
        default=4,
        help="validations of our trainer an epoch, untimed (time to quality is known to "
        "within one)",
    )
    parser.add_argument("--bptt", type=int, default=None, help="default: Config's")
    parser.add_argument("--batch-size", type=int, default=None, help="default: Config's")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: Config's")
    parser.add_argument(
        "--seeds", type=int, default=1, help="repeat with seeds 0..N-1; compare the means"
    )
    parser.add_argument(
        "--keras-ema",
        type=float,
        default=0.0,
        help="give the Keras baseline Keras's weight averaging at this momentum per step "
        "(default: the plain recipe)",
    )
    parser.add_argument("--skip-keras", action="store_true", help="only time chatbot")
    args = parser.parse_args()
    if args.checks < 1:
        parser.error(f"--checks {args.checks}: needs at least 1 (a validation each epoch)")
    if args.seeds < 1:
        parser.error(f"--seeds {args.seeds}: needs at least 1")
    if not 0 <= args.keras_ema < 1:
        parser.error(f"--keras-ema {args.keras_ema}: a momentum in [0, 1), such as 0.99")
    if not (SHARED / "corpora" / "dailydialog").is_dir():
        sys.exit("bench_train needs ../shared/corpora beside the project")
    from chatbot.config import Config, RunConfig
    from chatbot.errors import ConfigError
    from chatbot.training.steps import projection_dtype
    from chatbot.vocab import Vocab

    # Sizes only: the rest (batch of conversations, learning rate...) is the default.
    cfg = Config(vocab_size=8000, embed_dim=128, hidden_units=256, max_len=20, min_count=1)
    changes = {
        "bptt": args.bptt,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
    }
    try:
        run = RunConfig(**{k: v for k, v in changes.items() if v})
    except ConfigError as e:
        parser.error(str(e))
    peak = matmul_peak()
    with tempfile.TemporaryDirectory() as tmp:
        store = ingest_dailydialog(Path(tmp) / "bench.db")
        vocab = Vocab.build(
            (t for c in store.iter_conversations("dd", "train") for t in c), cfg.vocab_size
        )
        convs = training_conversations(store, vocab, cfg, args.conversations)
        seeds = [run.replace(seed=s) for s in range(args.seeds)]

        def bench(r):
            return bench_chatbot(store, vocab, cfg, r, convs, args.epochs, args.checks)

        runs = [
            logged(
                "chatbot", r, bench_chatbot(store, vocab, cfg, r, convs, args.epochs, args.checks)
            )
            for r in seeds
        ]
        ours = summarize(combine(runs), cfg, peak["gflops"])
        base = same = None
        if not args.skip_keras:
            runs = [
                logged(
                    "keras_fit",
                    r,
                    bench_keras_fit(store, vocab, cfg, r, convs, args.epochs, args.keras_ema),
                )
                for r in seeds
            ]
            base = summarize(combine(runs), cfg.replace(attention=False), peak["gflops"])
            runs = [
                logged(
                    "keras_fit_same",
                    r,
                    bench_keras_fit(store, vocab, cfg, r, convs, args.epochs, args.keras_ema, True),
                )
                for r in seeds
            ]
            same = summarize(combine(runs), cfg, peak["gflops"])
        quality = same and time_to_quality(ours, same)
        plain_quality = base and time_to_quality(ours, base)
    print(
        json.dumps(
            {
                "benchmark": "train",
                "shape": {
                    "vocab": len(vocab),
                    "embed": 128,
                    "lstm": 256,
                    "keras_batch_pairs": KERAS_BATCH,
                    "batch_conversations": run.batch_size,
                    "max_len": 20,
                },
                "bptt": run.bptt,
                "batch_size": run.batch_size,
                "weight_average": run.weight_average,
                # Ours only; fraction_of_peak stays against the float32 peak.
                "projection_dtype": projection_dtype(run).name,
                "keras_ema": args.keras_ema,
                "threads": {
                    "intra_op": os.environ.get("TF_NUM_INTRAOP_THREADS"),
                    "inter_op": os.environ.get("TF_NUM_INTEROP_THREADS"),
                },
                "conversations": len(convs),
                "epochs": args.epochs,
                "seeds": args.seeds,
                "matmul_peak": peak,
                "chatbot": ours,
                "keras_fit": base,
                "keras_fit_same_architecture": same,
                # Against Keras fit of the same architecture (attention, dropout).
                "time_to_quality": quality,
                "time_to_quality_ratio": quality and quality["ratio"],
                "time_to_quality_vs_plain_keras": plain_quality,
                "speedup_tokens_per_second": same
                and round(ours["target_tokens_per_second"] / same["target_tokens_per_second"], 2),
                "valid_no_worse_every_epoch": same
                and all(
                    a <= b
                    for a, b in zip(
                        ours["valid_ppl_by_epoch"], same["valid_ppl_by_epoch"], strict=True
                    )
                ),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
