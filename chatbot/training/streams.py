"""Conversations -> windows of exchanges in which each reply's gradient reaches
back to the start of its conversation.

A batch holds `batch_size` conversations side by side; step t of a window is
exchange t of each (the encoder reads utterance u(t) from the state it had
after u(t-1), the decoder learns u(t+1)). Every conversation starts in the
first step of a window, with its row's state zeroed (`reset`), and the window
runs until the longest conversation of the batch ends, so backpropagation
covers whole conversations. Only a conversation longer than `bptt` exchanges
is cut into several windows, its state carried from one to the next without
gradient (truncated BPTT).

In training, a share of the conversations (`chain`, off by default) start
instead from the state the previous conversation in their row ended with,
carried without gradient: a chat runs on far past the end of a short
conversation, and a model that only ever started from zeros meets states it
never saw (the starter model's replies drifted into one sentence).

Conversations are read from the store one at a time (memory does not grow
with the corpus). Each pool of conversations is sorted by exchange count (then
by utterance length) and handed out in shuffled chunks of `batch_size`, so
the conversations side by side have the same number of turns and a window
holds little padding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

import numpy as np

from ..encoding import Exchange
from ..vocab import END_ID, PAD_ID, START_ID


class ConversationSource(Protocol):
    """What training reads: a Store, TFRecord shards (shards.ShardCorpus), or several
    corpora as one (mix.Mix)."""

    def corpus(self, name: str) -> object:
        """The corpus's record; raises a one-line error for an unknown name."""
        ...

    def iter_conversations(self, corpus: str, split: str | None = None) -> Iterator[list[str]]: ...

    def exchange_count(self, corpus: str, split: str) -> int: ...

    def conversation_count(self, corpus: str, split: str) -> int: ...


@dataclass
class Window:
    source: np.ndarray  # [batch, steps, source_len] int32; steps <= bptt
    target_in: np.ndarray  # [batch, steps, target_len] int32: <start> + reply
    target_out: np.ndarray  # [batch, steps, target_len] int32: reply + <end>
    reset: np.ndarray  # [batch, steps] float32: 1 = zero this row's state before the step

    @property
    def target_tokens(self) -> int:
        return int(np.count_nonzero(self.target_out))


def bucketed(
    conversations: Iterable[list[Exchange]],
    batch_size: int,
    rng: np.random.Generator,
    pool_batches: int = 32,
) -> Iterator[list[list[Exchange]]]:
    """Batches of `batch_size` conversations (the last may be short) with similar
    exchange counts and lengths, in shuffled order."""
    it = iter(conversations)
    while pool := list(islice(it, batch_size * pool_batches)):
        pool.sort(key=lambda conv: (len(conv), sum(len(ex.source) + len(ex.target) for ex in conv)))
        chunks = [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
        for j in rng.permutation(len(chunks)):
            yield chunks[j]


def windows(
    batches: Iterable[list[list[Exchange]]],
    batch_size: int,
    bptt: int,
    chain: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Iterator[Window]:
    """Each batch as windows of at most `bptt` steps; every row is reset in the
    batch's first step, except, with probability `chain` (drawn from `rng`),
    rows that go on from the state the previous batch left in them. A row whose
    conversation has ended is all padding, which leaves its state as it was and
    adds no loss."""
    for batch in batches:
        turns = max(len(conv) for conv in batch)
        reset = np.ones(batch_size, np.float32)
        if chain:
            assert rng is not None, "chain draws from rng"
            reset = (rng.random(batch_size) >= chain).astype(np.float32)
        for start in range(0, turns, bptt):
            steps = [
                [conv[k] if k < len(conv) else None for conv in batch]
                + [None] * (batch_size - len(batch))
                for k in range(start, min(turns, start + bptt))
            ]
            yield pack(steps, batch_size, reset if start == 0 else None)


def pack(steps: list[list[Exchange | None]], batch_size: int, first: np.ndarray | None) -> Window:
    """Step t of row b is exchange `steps[t][b]` (None: padding); `first` resets rows.
    An exchange that is not learned (`Exchange.learn`) has its source only: its
    encoder reads and carries the state, and its decoder row is padding (no loss)."""
    src_len = max((len(ex.source) for row in steps for ex in row if ex), default=1)
    tgt_len = 1 + max((len(ex.target) for row in steps for ex in row if ex and ex.learn), default=0)
    k = len(steps)
    source = np.full((batch_size, k, src_len), PAD_ID, np.int32)
    target_in = np.full((batch_size, k, tgt_len), PAD_ID, np.int32)
    target_out = np.full((batch_size, k, tgt_len), PAD_ID, np.int32)
    reset = np.zeros((batch_size, k), np.float32)
    if first is not None:
        reset[:, 0] = first
    for t, row in enumerate(steps):
        for b, ex in enumerate(row):
            if ex is None:
                continue
            src, tgt, learn = ex
            source[b, t, : len(src)] = src
            if not learn:
                continue
            target_in[b, t, : len(tgt) + 1] = [START_ID, *tgt]
            target_out[b, t, : len(tgt) + 1] = [*tgt, END_ID]
    return Window(source, target_in, target_out, reset)
