"""Two frozen dataclasses of settings:

- `Config`, what defines a trained model (sizes, vocabulary, cell, attention,
  dropout, memory): saved with it as config.json and fixed for its life;
- `RunConfig`, what a training run chooses (epochs, batch, learning rate,
  seed, ...): saved as run.json, and `chatbot train --resume` may change the
  settings that do not change which windows an epoch reads.

The field defaults are the only defaults: `chatbot train` makes one flag per
field (`embed_dim` -> `--embed-dim`), and the help text lives in each field's
metadata. `__post_init__` validates, so a bad value never reaches TensorFlow.
Why each default is what it is, with the runs that measured it:
docs/ablation.md.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, ModelError
from .files import read_json


def _f(default: Any, help: str, flag: bool = True) -> Any:
    """A field with its help text; `flag=False` keeps it off `chatbot train`'s flags
    (a setting whose measured default few runs have reason to change: set it
    through the library's Config or RunConfig, docs/training.md)."""
    return field(default=default, metadata={"help": help, "flag": flag})


# Settings that older versions saved in config.json and that no longer mean
# anything, with the value a folder must have for its weights to still fit.
RETIRED = {
    "update_every": None,
    "lr_patience": None,
    "lr_decay_start": None,
    "lr_floor": None,
    "tie_embeddings": False,
    "output_dim": 0,
}
# Settings added later, and the value that means what a folder saved before them
# was trained with (whatever today's default is).
ADDED_LATER = {"attention": False, "slots": 0, "slot_rank": 0, "slot_hash": False}

# Upper bounds keep a typo (hidden_units 1000000) from exhausting memory.
INT_RANGES = {
    "embed_dim": (1, 4096),
    "hidden_units": (1, 8192),
    "num_layers": (1, 8),
    "vocab_size": (5, 1_000_000),
    "slots": (0, 1000),
    "slot_rank": (0, 1_000_000),
    "min_count": (1, 1_000_000_000),
    "max_len": (1, 1000),
    "memory_horizon": (0, 1_000_000),
    "batch_size": (1, 65536),
    "bptt": (1, 10_000),
    "epochs": (1, 100_000),
    "patience": (1, 100_000),
    "seed": (0, 2**31 - 1),
}
# (low, high, the interval as the error message writes it)
FLOAT_RANGES = {
    "learning_rate": (0.0, 10.0, "(0, 10]"),
    "lr_decay": (0.0, 1.0, "(0, 1]"),
    "clip_norm": (0.0, 1e6, "(0, 1e6]"),
    "weight_average": (0.0, 1.0, "[0, 1)"),
    "dropout": (0.0, 1.0, "[0, 1)"),
    "chain": (0.0, 1.0, "[0, 1)"),
}
# Training holds each weight four times (weights, two Adam moments, average):
# 250M weights is 4 GB of float32 before activations.
MAX_PARAMETERS = 250_000_000
PRECISIONS = ("auto", "float32", "bfloat16")


def _open_ends(interval: str, low: float, high: float) -> tuple[float, ...]:
    """The ends that `interval` leaves out: "(0, 1]" leaves out 0."""
    return (low,) * interval.startswith("(") + (high,) * interval.endswith(")")


def _check_ranges(settings: Any) -> None:
    """The integer and float bounds above, for the fields `settings` has."""
    names = {f.name for f in dataclasses.fields(settings)}
    for name, (low, high) in INT_RANGES.items():
        if name not in names:
            continue
        value = getattr(settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ConfigError(
                f"{name} must be an integer from {low} to {high}. Received: {name}={value!r}"
            )
    for name, (lo, hi, interval) in FLOAT_RANGES.items():
        if name not in names:
            continue
        x = getattr(settings, name)
        number = isinstance(x, int | float) and not isinstance(x, bool)
        if not number or not lo <= x <= hi or x in _open_ends(interval, lo, hi):
            raise ConfigError(f"{name} must be in {interval}. Received: {name}={x!r}")


@dataclass(frozen=True)
class Config:
    """What defines a trained model; saved with it as config.json and never changed."""

    remember_state: bool = _f(True, "Carry the encoder state from one exchange to the next.")
    cell: str = _f("lstm", "Recurrent cell: lstm or gru.", flag=False)
    embed_dim: int = _f(128, "Word embedding size (shared by encoder and decoder).")
    hidden_units: int = _f(256, "Units per recurrent layer.")
    num_layers: int = _f(1, "Stacked recurrent layers in the encoder and in the decoder.")
    vocab_size: int = _f(8000, "Vocabulary cap, including the four special tokens and the slots.")
    slots: int = _f(
        16,
        "Conversation slots for words the vocabulary lacks: each new word of a "
        "conversation reads and writes as one slot, so the bot can say a name back "
        "(0: such words are <unk>).",
    )
    # Off by default: it acts only where a corpus has a user speaker (the recall
    # corpus); the starter's recipe sets 500 (docs/training.md, "Slots").
    slot_rank: int = _f(
        0,
        "The word a user's statement names (its last rare word, as in 'i live in "
        "paris') takes a conversation slot too when it ranks past this in the "
        "vocabulary, so the bot can say it back exactly (0: only words the "
        "vocabulary lacks).",
    )
    # In order, the first fact told always took slot 0, and a model trained so
    # answered most questions of a long chat with it (docs/ablation.md).
    slot_hash: bool = _f(
        True,
        "A new word takes the first free slot from a hash of the word, rather than "
        "the next in order, so no slot means 'the first thing said'.",
        flag=False,
    )
    min_count: int = _f(2, "Keep only words seen at least this often in the training split.")
    max_len: int = _f(20, "Tokens kept per utterance (longer ones are cut).")
    # Keras's forget bias of 1 let the context probe forget (docs/ablation.md).
    memory_horizon: int = _f(
        60,
        "Tokens the encoder's LSTM units start out remembering over (chrono initialization "
        "of the gate biases; 0: Keras's forget bias of 1).",
        flag=False,
    )
    attention: bool = _f(
        True,
        "Decoder attends over the encoder outputs of the utterance it answers (Luong, "
        "general score); the carried state stays the conversation's memory.",
        flag=False,
    )
    # On the decoder only: on the encoder too, the probe's memory went unlearned.
    dropout: float = _f(
        0.3,
        "Dropout rate on the decoder while training (its input embeddings and outputs; "
        "never on the encoder, which holds the conversation's memory; 0: none).",
        flag=False,
    )

    def __post_init__(self) -> None:
        for name in ("remember_state", "attention"):
            if not isinstance(getattr(self, name), bool):  # JSON's "no" is not False
                raise ConfigError(
                    f"{name} must be true or false. Received: {name}={getattr(self, name)!r}"
                )
        if self.cell not in ("lstm", "gru"):
            raise ConfigError(f"cell must be 'lstm' or 'gru'. Received: cell={self.cell!r}")
        _check_ranges(self)
        if self.vocab_size <= 4 + self.slots:
            raise ConfigError(
                f"vocab_size must leave room for words after the 4 special tokens and "
                f"{self.slots} slots. Received: vocab_size={self.vocab_size}; raise "
                "--vocab-size or lower --slots"
            )
        if self.parameters > MAX_PARAMETERS:
            raise ConfigError(
                f"a model of {self.parameters:,} weights is too large to train here (at most "
                f"{MAX_PARAMETERS:,}); lower --vocab-size, --hidden-units or --embed-dim"
            )

    @property
    def parameters(self) -> int:
        """Trainable weights: embedding, encoder and decoder stacks, attention, output."""
        # An LSTM has 4 gates and one bias each; Keras's GRU (reset_after) 3 and two.
        gates, biases = (4, 1) if self.cell == "lstm" else (3, 2)
        h, e, v = self.hidden_units, self.embed_dim, self.vocab_size
        first = gates * h * (e + h + biases)
        stack = first + (self.num_layers - 1) * gates * h * (2 * h + biases)
        attention = 3 * h * h if self.attention else 0  # W_a (h x h), W_c (2h x h)
        return v * e + 2 * stack + attention + v * (h + 1)

    @property
    def state_size(self) -> int:
        """Tensors in the carried state: (h, c) per LSTM layer, h per GRU layer."""
        return self.num_layers * (2 if self.cell == "lstm" else 1)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def load(cls, path: str | Path) -> Config:
        """config.json; one written before the run settings moved out still loads
        (they are read by `RunConfig.load`)."""
        data = _settings(path, "model config")
        for name, fits in RETIRED.items():
            value = data.pop(name, None)
            if fits is not None and value not in (None, fits):
                raise ModelError(
                    f"{path}: {name}={value!r} is a layer this version no longer has; "
                    "retrain the model"
                )
        run_names = {f.name for f in dataclasses.fields(RunConfig)}
        data = {**ADDED_LATER, **{k: v for k, v in data.items() if k not in run_names}}
        return _build(cls, data, path)


@dataclass(frozen=True)
class RunConfig:
    """What a training run chooses; saved as run.json beside config.json."""

    # Whole conversations make one step per batch, so the batch sets the steps per epoch.
    batch_size: int = _f(16, "Conversations side by side in a batch.")
    # DailyDialog's longest conversation has 34 exchanges: every reply's
    # gradient reaches the start of its conversation (training/streams.py).
    bptt: int = _f(
        40,
        "Longest window of exchanges that gradients flow back through: conversations up "
        "to this long are trained whole; longer ones are cut, the state carried on.",
    )
    # Off by default: on the probe it left an earlier conversation's facts to be
    # overwritten; the starter, chatted with far past its conversations' ends, uses 0.5.
    chain: float = _f(
        0.0,
        "Share of training conversations that start from the state the previous one in "
        "their row ended with, not zeros, so the model learns to go on past a "
        "conversation's end as a long chat does (0: always zeros).",
    )
    epochs: int = _f(10, "Passes over the training split.")
    learning_rate: float = _f(8e-3, "Adam learning rate.")
    # Off by default: memory is learned in a late jump after a plateau, which decay lengthens.
    lr_decay: float = _f(
        1.0,
        "Multiply the learning rate by this after every epoch without a better "
        "validation perplexity (1: never).",
    )
    clip_norm: float = _f(5.0, "Global gradient norm clip.", flag=False)
    weight_average: float = _f(
        0.95,
        "Momentum of the running average of the weights, updated after every window of "
        "bptt exchanges; validation, the best checkpoint and chat use the average "
        "(0: the raw weights).",
        flag=False,
    )
    patience: int = _f(10, "Stop after this many epochs without a better validation perplexity.")
    seed: int = _f(0, "Seed for weights, shuffling and everything else random.")
    matmul_precision: str = _f(
        "auto",
        "Input precision of the vocabulary projection's matmuls in training: float32, "
        "bfloat16, or auto (bfloat16 where the processor has fast bfloat16 matmuls: "
        "AMX or AVX512-BF16). Evaluation and chat always use float32.",
        flag=False,
    )

    # What a resumed run may not change: they decide which windows an epoch reads
    # (and the carried state's rows), so the epoch could not go on where it stopped.
    FIXED_ON_RESUME = ("batch_size", "bptt", "chain", "seed")

    def __post_init__(self) -> None:
        if self.matmul_precision not in PRECISIONS:
            raise ConfigError(
                f"matmul_precision must be one of {', '.join(PRECISIONS)}. "
                f"Received: matmul_precision={self.matmul_precision!r}"
            )
        _check_ranges(self)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def load(cls, path: str | Path, old_config: str | Path | None = None) -> RunConfig:
        """run.json; a folder from before it has the run's settings in config.json
        (`old_config`), and those that were retired are left out."""
        if Path(path).is_file() or old_config is None:
            return _build(cls, _settings(path, "run config"), path)
        names = {f.name for f in dataclasses.fields(cls)}
        data = _settings(old_config, "model config")
        return _build(cls, {k: v for k, v in data.items() if k in names}, old_config)


def _settings(path: str | Path, what: str) -> dict:
    data = read_json(path, what)
    if not isinstance(data, dict):
        raise ModelError(f"{path} must hold a JSON object of settings; retrain the model")
    return data


def _build(cls: Any, data: dict, path: str | Path) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ModelError(f"{path} has unknown settings {sorted(unknown)}; upgrade chatbot")
    try:
        return cls(**data)
    except ConfigError as exc:  # a damaged file, not a bad flag: exit 1, naming it
        raise ModelError(f"{path}: {exc}") from None
