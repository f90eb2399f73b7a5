"""Will a training window fit in this machine's memory? An estimate, checked before
the first step, so `--batch-size 65536` is one line instead of the machine
swapping or the process being killed.

A window holds `batch_size` conversations of up to `bptt` exchanges, each
utterance padded to `max_len` tokens. What the step keeps for its backward
pass grows with those token positions times the vocabulary (the logits and
their gradient) and times the hidden units (the LSTM gates, attention). The
constants were fitted to peak resident memory on DailyDialog runs of several
batch, vocabulary and hidden sizes (docs/architecture.md, "Fast paths").
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config, RunConfig
from ..errors import UsageError

BASE = 700e6  # TensorFlow, the model and the data, before any window
PER_VOCAB_WORD = 1.7  # bytes per token position and vocabulary word
PER_HIDDEN_UNIT = 110.0  # bytes per token position and hidden unit
PER_POSITION = 820.0  # bytes per token position, whatever the sizes
HEADROOM = 0.9  # of the memory available: leave the rest to everything else


def window_bytes(config: Config, run: RunConfig, vocab_size: int, longest: int) -> float:
    """Estimated peak bytes of a training step on the longest window: `longest` is the
    most exchanges of a training conversation."""
    positions = run.batch_size * max(1, min(run.bptt, longest)) * config.max_len
    hidden = config.hidden_units * config.num_layers
    per_position = PER_VOCAB_WORD * vocab_size + PER_HIDDEN_UNIT * hidden + PER_POSITION
    return BASE + positions * per_position


def available_bytes(meminfo: Path = Path("/proc/meminfo")) -> float | None:
    """MemAvailable, or None where the system does not say (then nothing is checked)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_window_fits(
    config: Config, run: RunConfig, vocab_size: int, longest: int, free: float | None
) -> None:
    """One line, naming the flags to lower, when the estimate exceeds what is free."""
    need = window_bytes(config, run, vocab_size, longest)
    if free is not None and need > HEADROOM * free:
        window = min(run.bptt, longest)
        raise UsageError(
            f"a training window of --batch-size {run.batch_size} conversations x {window} "
            f"exchanges needs about {need / 1e9:,.1f} GB, and this machine has "
            f"{free / 1e9:,.1f} GB free; lower --batch-size (or --bptt, --vocab-size, "
            "--hidden-units)"
        )
