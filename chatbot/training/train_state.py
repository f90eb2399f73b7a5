"""The training state a checkpoint keeps beside its tensors (model folders and
their atomic writes: chatbot/model_folder.py; the tensors: `Trainer.save`)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
