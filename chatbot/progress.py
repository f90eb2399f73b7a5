"""What a training run reports as it goes (no TensorFlow here).

`TqdmReporter` is the terminal's progress bar; `Silent` reports nothing (tests,
and scripts that print their own figures)."""

from __future__ import annotations

import time
from typing import Protocol

from .perplexity import perplexity


class Reporter(Protocol):
    def epoch_start(self, epoch: int, total_windows: int, done: int) -> None: ...
    def window(self, loss_sum: float, tokens: int) -> None: ...
    def epoch_end(self, metrics: dict) -> None: ...


class Silent:
    def epoch_start(self, epoch: int, total_windows: int, done: int) -> None: ...
    def window(self, loss_sum: float, tokens: int) -> None: ...
    def epoch_end(self, metrics: dict) -> None: ...


class TqdmReporter:
    """Training progress: a bar per epoch with loss, perplexity and tokens per second.
    Where stderr is not a terminal (a run in the background, its output in a log),
    the bar is off and a line is printed every LOG_EVERY seconds instead."""

    LOG_EVERY = 60.0

    def epoch_start(self, epoch: int, total_windows: int, done: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total_windows, initial=done, desc=f"epoch {epoch}", unit=" win", disable=None
        )
        self.loss = self.tokens = 0.0
        self.started = self.logged = time.perf_counter()
        self.epoch, self.total, self.done = epoch, total_windows, done

    def window(self, loss_sum: float, tokens: int) -> None:
        self.loss, self.tokens = self.loss + loss_sum, self.tokens + tokens
        rate = self.tokens / (time.perf_counter() - self.started)
        self.bar.set_postfix(
            loss=f"{self.loss / max(self.tokens, 1):.3f}",
            ppl=f"{perplexity(self.loss, int(self.tokens)):.1f}",
            tok_s=f"{rate:,.0f}",
            refresh=False,
        )
        self.bar.update(1)
        self.done += 1
        if self.bar.disable and time.perf_counter() - self.logged >= self.LOG_EVERY:
            self.logged = time.perf_counter()
            print(
                f"epoch {self.epoch}: window {self.done:,} of ~{self.total:,}, "
                f"train ppl {perplexity(self.loss, int(self.tokens)):.1f}, {rate:,.0f} tokens/s",
                flush=True,
            )

    def epoch_end(self, metrics: dict) -> None:
        # The window count is an estimate (conversations longer than bptt add windows):
        # end the bar at what was done, not at "300 of 298".
        self.bar.total = self.bar.n
        self.bar.refresh()
        self.bar.close()
        print(
            f"epoch {metrics['epoch']}: train ppl {metrics['train_ppl']:.2f}, "
            f"valid ppl {metrics['valid_ppl']:.2f} ({metrics['seconds']:.0f} s)",
            flush=True,
        )
