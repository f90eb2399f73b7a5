"""Perplexity by turn position under three context conditions: the context ablation.

For every exchange (u(i) -> u(i+1)) of a conversation, the decoder is scored
on the real reply u(i+1) started from the encoder's state after reading u(i),
where the encoder itself started from:

- carried:  the state after u(i-1) of the same conversation (as in training);
- reset:    zeros (the model forgets everything before u(i));
- shuffled: the state after u(i-1) of *another* conversation: a history of
            the right length and kind, but the wrong content.

If the carried state only helped by being "some state", shuffled would match
carried; the gap between them is what the memory of this conversation is worth.

Conversations are sorted by length and run B side by side, exchange by
exchange; a conversation's donor for `shuffled` is its neighbour in the
batch (similar length). Where the donor is shorter, its state after its last
utterance is used. Turn 1 has no history, so the three agree there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from .._tf import tf
from ..encoding import Exchange
from ..model import Seq2Seq, row_losses
from ..training.streams import pack

CONDITIONS = ("carried", "reset", "shuffled")
POSITIONS = ("1", "2", "3", "4+")


def position(i: int) -> str:
    """The turn bucket of exchange i (0-based)."""
    return POSITIONS[min(i, len(POSITIONS) - 1)]


def conversation_batches(
    conversations: list[list[Exchange]], batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(source [B, T, S], target_in [B, T, R], target_out [B, T, R]) for conversations of
    similar length. No batch holds a single conversation, which would have no donor."""
    order = sorted(conversations, key=len)
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2] += chunks.pop()
    for chunk in chunks:
        turns = max(len(c) for c in chunk)
        steps = [[c[k] if k < len(c) else None for c in chunk] for k in range(turns)]
        window = pack(steps, len(chunk), None)
        yield window.source, window.target_in, window.target_out


class Ablation:
    """Per-row losses of one exchange step under the three conditions, compiled once."""

    def __init__(self, model: Seq2Seq):
        self.model = model
        h, n = model.config.hidden_units, model.config.state_size
        ids = tf.TensorSpec([None, None], tf.int32)
        state = [tf.TensorSpec([None, h], tf.float32)] * n
        self.step = tf.function(self._step, input_signature=[ids, ids, ids, state])

    def _row_losses(self, read, target_in, target_out) -> tf.Tensor:
        memory, state = read
        hidden, _ = self.model.decode(target_in, state, memory)
        return row_losses(self.model, hidden, target_out)[0]

    def _step(self, source, target_in, target_out, history):
        """history: the carried state before this step. Returns ([3, B] losses, new history)."""
        carried = self.model.read(source, history)
        reset = self.model.read(source, [tf.zeros_like(s) for s in history])
        shuffled = self.model.read(source, [tf.roll(s, 1, axis=0) for s in history])
        losses = tf.stack(
            [self._row_losses(r, target_in, target_out) for r in (carried, reset, shuffled)]
        )
        return losses, carried[1]

    def run(self, conversations: Iterable[list[Exchange]], batch_size: int = 64, progress=None):
        """Summed loss and token counts as {condition: {position: [loss, tokens]}}."""
        sums = {c: {p: [0.0, 0] for p in POSITIONS} for c in CONDITIONS}
        for source, target_in, target_out in conversation_batches(list(conversations), batch_size):
            history = self.model.zero_state(source.shape[0])
            for k in range(source.shape[1]):
                step = source[:, k], target_in[:, k], target_out[:, k]
                losses, history = self.step(*step, history)
                tokens = int(np.count_nonzero(target_out[:, k]))
                for c, per_row in zip(CONDITIONS, losses.numpy(), strict=True):
                    bucket = sums[c][position(k)]
                    bucket[0] += float(per_row.sum())
                    bucket[1] += tokens
            if progress is not None:
                progress(source.shape[0])
        return sums
