"""Utterances as token ids, and conversations as exchanges of ids: the text->ids
step that training, chat, evaluation and export share. No batching here
(that is training/streams.py, the training batcher) and no TensorFlow.

An exchange is (u(i), u(i+1)): an utterance and the reply to it. Both are
cut to `max_len` tokens, the reply to `max_len - 1` so that <end> fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .text import tokenize
from .vocab import Slots, Vocab

Exchange = tuple[list[int], list[int]]  # (source ids, target ids)


def encode_utterance(text: str, slots: Slots, max_len: int) -> list[int]:
    """`text` as token ids, its unknown words read through the conversation's `slots`
    (only the first `max_len` tokens are read, so only they bind slots)."""
    return slots.encode(tokenize(text)[:max_len])


def paired(utterances: list[list[int]], max_len: int) -> list[Exchange]:
    """(u(i), u(i+1)) pairs; the reply keeps room for <end> within max_len."""
    return [(utterances[i], utterances[i + 1][: max_len - 1]) for i in range(len(utterances) - 1)]


def encoded_conversations(
    conversations: Iterable[list[str]], vocab: Vocab, max_len: int
) -> Iterator[list[Exchange]]:
    """Token ids per exchange; conversations with fewer than two utterances have none.
    Each conversation binds its own unknown words to slots (`vocab.Slots`)."""
    for texts in conversations:
        slots = Slots(vocab)
        ids = [encode_utterance(t, slots, max_len) for t in texts]
        ids = [u for u in ids if u]
        if len(ids) >= 2:
            yield paired(ids, max_len)
