"""Several corpora trained on as one: `chatbot train --corpus chitchat --corpus recall`.

A `Mix` is a `ConversationSource` over a store whose corpus name is the
corpora's names joined by "+" ("chitchat+recall"), which is what the model
registry records and `chatbot models` shows. Each corpus is read once per
epoch, its conversations spread evenly through the stream (the j-th of a
corpus with n conversations sits at (j + 0.5) / n), so every stretch of an
epoch holds each corpus in proportion to its size: a user sets a corpus's
share by its size (for the recall corpus, `--conversations N`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from ..errors import UsageError
from .streams import ConversationSource

SEP = "+"


class Mix:
    def __init__(self, source: ConversationSource, corpora: list[str]):
        if len(set(corpora)) != len(corpora):
            raise UsageError(f"--corpus names a corpus twice: {', '.join(corpora)}")
        self.source, self.corpora = source, list(corpora)
        self.name = SEP.join(corpora)

    def corpus(self, name: str) -> object:
        """The first corpus's record (every corpus is checked: an unknown one is named)."""
        return [self.source.corpus(c) for c in self.corpora][0]

    def exchange_count(self, corpus: str, split: str) -> int:
        return sum(self.source.exchange_count(c, split) for c in self.corpora)

    def conversation_count(self, corpus: str, split: str) -> int:
        return sum(self.source.conversation_count(c, split) for c in self.corpora)

    def iter_conversations(self, corpus: str, split: str | None = None) -> Iterator[list[str]]:
        """The corpora's conversations, each corpus spread evenly through the stream."""

        def keyed(index: int, name: str) -> Iterator[tuple[float, int, list[str]]]:
            n = max(1, self.source.conversation_count(name, split) if split else 1)
            for j, conv in enumerate(self.source.iter_conversations(name, split)):
                yield (j + 0.5) / n, index, conv

        streams = [keyed(i, c) for i, c in enumerate(self.corpora)]
        for _, _, conv in heapq.merge(*streams, key=lambda item: item[:2]):
            yield conv
