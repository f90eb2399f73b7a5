#!/usr/bin/env python3
"""Reply latency: chatbot's compiled decoding against the Keras lstm_seq2seq loop, in one run.

At the reference shape (vocabulary 8000, embedding 128, LSTM 256) with
untrained weights, so every greedy reply runs the full 20 tokens:

- `greedy`: `Decoder.reply` with DecodeSettings(max_length=20): one call into
  a compiled graph per reply;
- `beam5`: the same with beam=5;
- `chat_default`: what `chatbot chat` uses unless told otherwise
  (decode.CHAT_DEFAULT: low-temperature sampling with MMI, whose anti-language-model
  runs as extra rows of the decoder for the first five words), and its p50
  over greedy's;
- `baseline_predict_loop`: the decoding loop of the Keras lstm_seq2seq
  example: one `decoder_model.predict()` per generated token, with the
  same layers and weights.

The four are timed in alternating rounds (a shared machine's speed drifts
during a run). Also the first chat_default reply to an utterance of a length not seen
before (`chat_default_first_reply_new_length_ms`: XLA compiles per input
shape, so this shows whether a chat recompiles), and the time from starting
`chatbot chat` to its first prompt (in a pseudo-terminal, starter model).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def percentiles(times: list[float]) -> dict:
    ms = sorted(t * 1000 for t in times)
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 3),
        "n": len(ms),
    }


def time_interleaved(fns: dict, rounds: int = 5) -> dict[str, list[float]]:
    """For each name: (fn, n) -> n timed calls of fn, made in `rounds` alternating
    turns, so that a machine that speeds up or slows down during the run (a shared
    one does) weighs on every measurement alike. Each fn is called once untimed
    first (compilation, warm-up)."""
    for fn, _ in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(rounds):
        for name, (fn, n) in fns.items():
            for _ in range(n // rounds + (r < n % rounds)):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return times


def keras_predict_loop(model, state, memory, max_length: int):
    """The lstm_seq2seq way: a decoder model called with predict() once per token (the
    same decoder step, attention and output layer included, wrapped as a Keras model)."""
    import numpy as np

    from chatbot._tf import keras
    from chatbot.vocab import END_ID, START_ID

    class DecoderStep(keras.Model):
        def call(self, inputs):
            token, h, c, outputs, mask = inputs
            hidden, (h, c) = model.decode(token, [h, c], (outputs, mask))
            return model.logits(hidden), h, c

    decoder_model = DecoderStep()
    h0, c0 = (np.asarray(s) for s in state)
    mem = [np.asarray(m) for m in memory]

    def reply() -> list[int]:
        token, h, c, out = np.array([[START_ID]]), h0, c0, []
        for _ in range(max_length):
            logits, h, c = decoder_model.predict([token, h, c, *mem], verbose=0)
            token = np.argmax(logits[:, -1], axis=-1)[:, None]
            if int(token[0, 0]) == END_ID:
                break
            out.append(int(token[0, 0]))
        return out

    return reply


def time_to_first_prompt(timeout: float = 120.0) -> float:
    with tempfile.TemporaryDirectory() as home:
        return _first_prompt(dict(os.environ, CHATBOT_HOME=home), timeout)


def _first_prompt(env: dict, timeout: float) -> float:
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(sys.executable, [sys.executable, "-m", "chatbot", "chat"], env)
    start, seen = time.perf_counter(), b""
    try:
        while b"you>" not in seen and time.perf_counter() - start < timeout:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        return time.perf_counter() - start
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--baseline-replies", type=int, default=10)
    args = parser.parse_args()

    from chatbot._tf import tf
    from chatbot.config import Config
    from chatbot.decode import CHAT_DEFAULT, Decoder, DecodeSettings
    from chatbot.model import Seq2Seq

    config = Config(vocab_size=8000, embed_dim=128, hidden_units=256, max_len=20)
    model = Seq2Seq(config, 8000)
    model.build_weights()
    decoder = Decoder(model)
    memory, state = decoder.read(tf.constant([[5, 6, 7, 8, 9]], tf.int32), model.zero_state(1))
    greedy = DecodeSettings(max_length=20, min_length=20)  # untrained: force full-length replies
    beam = DecodeSettings(beam=5, max_length=20, min_length=20)
    chat = DecodeSettings(**{**CHAT_DEFAULT, "max_length": 20, "min_length": 20})
    lengths = {
        "greedy": len(decoder.reply(state, memory, greedy)),
        "beam5": len(decoder.reply(state, memory, beam)),
        "chat_default": len(decoder.reply(state, memory, chat)),
    }
    settings = {"greedy": greedy, "beam5": beam, "chat_default": chat}
    timed = {
        name: (lambda s=s: decoder.reply(state, memory, s), args.replies)
        for name, s in settings.items()
    }
    baseline = keras_predict_loop(model, state, memory, 20)
    timed["baseline_predict_loop"] = (baseline, args.baseline_replies)
    times = time_interleaved(timed, rounds=max(1, min(5, args.baseline_replies)))
    result = {
        "benchmark": "reply",
        "shape": {"vocab": 8000, "embed": 128, "lstm": 256},
        "reply_tokens": lengths,
        "chat_default_settings": CHAT_DEFAULT,
        **{name: percentiles(times[name]) for name in timed},
    }
    # A chat's utterances vary in length; the first reply after one of a length not
    # seen before must not wait for a new compilation.
    new_memory, new_state = decoder.read(tf.constant([[5, 6, 7, 8, 9, 10, 11]], tf.int32), state)
    start = time.perf_counter()
    decoder.reply(new_state, new_memory, chat)
    result["chat_default_first_reply_new_length_ms"] = round(
        (time.perf_counter() - start) * 1000, 3
    )
    result["chat_default_over_greedy_p50"] = round(
        result["chat_default"]["p50_ms"] / result["greedy"]["p50_ms"], 2
    )
    for name in ("greedy", "chat_default"):
        result[f"{name}_speedup_vs_baseline"] = round(
            result["baseline_predict_loop"]["p50_ms"] / result[name]["p50_ms"], 1
        )
    result["chat_to_first_prompt_s"] = round(time_to_first_prompt(), 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
