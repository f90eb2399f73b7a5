"""What a training run reports and checkpoints besides tensors (no TensorFlow here)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class TrainState:
    """What a checkpoint needs beyond tensors to continue exactly where it stopped."""

    epoch: int = 0  # epochs completed
    cursor: int = 0  # windows done in the current epoch
    step: int = 0  # optimizer steps in all
    loss_sum: float = 0.0  # summed training loss so far in this epoch
    tokens: int = 0  # target tokens so far in this epoch
    best_valid_ppl: float | None = None
    bad_epochs: int = 0
    stopped: str | None = None
    history: list[dict] = field(default_factory=list)


class Reporter(Protocol):
    def epoch_start(self, epoch: int, total_windows: int, done: int) -> None: ...
    def window(self, loss_sum: float, tokens: int) -> None: ...
    def epoch_end(self, metrics: dict) -> None: ...


class Silent:
    def epoch_start(self, epoch: int, total_windows: int, done: int) -> None: ...
    def window(self, loss_sum: float, tokens: int) -> None: ...
    def epoch_end(self, metrics: dict) -> None: ...


def perplexity(loss_sum: float, tokens: int) -> float:
    return math.exp(min(loss_sum / tokens, 50.0)) if tokens else float("nan")
