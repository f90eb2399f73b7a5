"""Utterances as token ids, and conversations as exchanges of ids: the text->ids
step that training, chat, evaluation and export share. No batching here
(that is training/streams.py, the training batcher) and no TensorFlow.

An exchange is (u(i), u(i+1)): an utterance and the reply to it. Both are
cut to `max_len` tokens, the reply to `max_len - 1` so that <end> fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from .corpora.base import Prompt
from .text import tokenize
from .vocab import Slots, Vocab


class Exchange(NamedTuple):
    source: list[int]
    target: list[int]
    # False when the reply is the user's side of a generated conversation (a
    # `Prompt`): the encoder still reads it, but it adds no loss.
    learn: bool = True


def encode_utterance(text: str, slots: Slots, max_len: int, user: bool = False) -> list[int]:
    """`text` as token ids, its unknown words (and the user's rare ones: `Slots`)
    read through the conversation's `slots` (only the first `max_len` tokens are
    read, so only they bind slots)."""
    return slots.encode(tokenize(text)[:max_len], user)


def paired(
    utterances: list[list[int]], max_len: int, learn: list[bool] | None = None
) -> list[Exchange]:
    """(u(i), u(i+1)) pairs; the reply keeps room for <end> within max_len. `learn[i]`
    says whether utterance i is a reply to learn (all are by default)."""
    return [
        Exchange(utterances[i], utterances[i + 1][: max_len - 1], learn is None or learn[i + 1])
        for i in range(len(utterances) - 1)
    ]


def encoded_conversations(
    conversations: Iterable[list[str]], vocab: Vocab, max_len: int, rule: Slots | None = None
) -> Iterator[list[Exchange]]:
    """Token ids per exchange; conversations with fewer than two utterances have none.
    Each conversation binds its own words to slots (`vocab.Slots`) under `rule`'s
    rank and choice (`Slots.for_model`; default: unknown words only, in order)."""
    for texts in conversations:
        slots = rule.fresh() if rule else Slots(vocab)
        encoded = [
            (encode_utterance(t, slots, max_len, user), not user)
            for t in texts
            for user in [isinstance(t, Prompt)]
        ]
        encoded = [(u, learn) for u, learn in encoded if u]
        if len(encoded) >= 2:
            yield paired([u for u, _ in encoded], max_len, [learn for _, learn in encoded])
