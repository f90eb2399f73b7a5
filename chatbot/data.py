"""Conversation streams -> batches of exchanges for truncated BPTT.

A batch holds `batch_size` slots side by side. Step t of a window is exchange
t of each slot: the encoder reads utterance u(i) and the decoder learns
u(i+1). When a slot's conversation ends it takes the next conversation, and
`reset` marks that step so the training loop zeroes that row's state first.
A window is `bptt` steps; the state flows on into the next window without
gradient.

Conversations are read from the store one at a time (memory does not grow
with the corpus). To keep padding low, each pool of conversations is sorted by
utterance length and handed out in shuffled chunks of `batch_size`, so the
rows running side by side have similar lengths.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

import numpy as np

from .text import tokenize
from .vocab import END_ID, PAD_ID, START_ID, Vocab

Exchange = tuple[list[int], list[int]]  # (source ids, target ids)


class ConversationSource(Protocol):
    """What training reads: a Store, or TFRecord shards (shards.ShardCorpus)."""

    def iter_conversations(self, corpus: str, split: str | None = None) -> Iterator[list[str]]: ...

    def exchange_count(self, corpus: str, split: str) -> int: ...


@dataclass
class Window:
    source: np.ndarray  # [batch, bptt, source_len] int32
    target_in: np.ndarray  # [batch, bptt, target_len] int32: <start> + reply
    target_out: np.ndarray  # [batch, bptt, target_len] int32: reply + <end>
    reset: np.ndarray  # [batch, bptt] float32: 1 = zero this row's state before the step

    @property
    def target_tokens(self) -> int:
        return int(np.count_nonzero(self.target_out))


def encode_utterance(text: str, vocab: Vocab, max_len: int) -> list[int]:
    return vocab.encode(tokenize(text))[:max_len]


def exchanges(utterances: list[list[int]], max_len: int) -> list[Exchange]:
    """(u(i), u(i+1)) pairs; the reply keeps room for <end> within max_len."""
    return [(utterances[i], utterances[i + 1][: max_len - 1]) for i in range(len(utterances) - 1)]


def encoded_conversations(
    conversations: Iterable[list[str]], vocab: Vocab, max_len: int
) -> Iterator[list[Exchange]]:
    """Token ids per exchange; conversations with fewer than two utterances have none."""
    for texts in conversations:
        ids = [encode_utterance(t, vocab, max_len) for t in texts]
        ids = [u for u in ids if u]
        if len(ids) >= 2:
            yield exchanges(ids, max_len)


def bucketed(
    conversations: Iterable[list[Exchange]],
    batch_size: int,
    rng: np.random.Generator,
    pool_batches: int = 32,
) -> Iterator[list[Exchange]]:
    """Conversations in an order where neighbours have similar lengths, shuffled by chunk."""
    it = iter(conversations)
    while pool := list(islice(it, batch_size * pool_batches)):
        pool.sort(key=lambda conv: sum(len(s) + len(t) for s, t in conv) / len(conv))
        chunks = [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
        for j in rng.permutation(len(chunks)):
            yield from chunks[j]


def windows(
    conversations: Iterable[list[Exchange]], batch_size: int, bptt: int
) -> Iterator[Window]:
    """Fill `batch_size` slots from `conversations`; yield `bptt` steps at a time."""
    queue = iter(conversations)
    slots: list[deque[Exchange]] = [deque() for _ in range(batch_size)]
    exhausted = False
    while True:
        steps: list[list[tuple[Exchange | None, bool]]] = []
        for _ in range(bptt):
            row = []
            for slot in slots:
                fresh = False
                if not slot and not exhausted:
                    nxt = next(queue, None)
                    if nxt is None:
                        exhausted = True
                    else:
                        slot.extend(nxt)
                        fresh = True
                # An empty slot (corpus exhausted) is marked reset: its zero
                # state and all-padding step contribute nothing.
                exchange = slot.popleft() if slot else None
                row.append((exchange, fresh or exchange is None))
            steps.append(row)
        if all(ex is None for row in steps for ex, _ in row):
            return
        yield _pack(steps, batch_size, bptt)


def _pack(steps: list[list[tuple[Exchange | None, bool]]], batch_size: int, bptt: int) -> Window:
    src_len = max((len(ex[0]) for row in steps for ex, _ in row if ex), default=1)
    tgt_len = 1 + max((len(ex[1]) for row in steps for ex, _ in row if ex), default=1)
    source = np.full((batch_size, bptt, src_len), PAD_ID, np.int32)
    target_in = np.full((batch_size, bptt, tgt_len), PAD_ID, np.int32)
    target_out = np.full((batch_size, bptt, tgt_len), PAD_ID, np.int32)
    reset = np.zeros((batch_size, bptt), np.float32)
    for k, row in enumerate(steps):
        for b, (ex, fresh) in enumerate(row):
            reset[b, k] = float(fresh)
            if ex is None:
                continue
            src, tgt = ex
            source[b, k, : len(src)] = src
            target_in[b, k, : len(tgt) + 1] = [START_ID, *tgt]
            target_out[b, k, : len(tgt) + 1] = [*tgt, END_ID]
    return Window(source, target_in, target_out, reset)
