"""The vocabulary: words <-> ids, with four special tokens first.

Built from the training split of a corpus (never from validation or test, so
evaluation sees honest unknown words), capped in size and by minimum count,
and saved as JSON next to the model.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .errors import ConfigError, ModelError
from .files import read_json, write_atomic
from .text import tokenize

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
PAD_ID, START_ID, END_ID, UNK_ID = range(4)


class Vocab:
    """An ordered list of tokens; the specials take ids 0 to 3."""

    def __init__(self, tokens: Iterable[str]):
        words = [t for t in tokens if t not in SPECIALS]
        self.itos: list[str] = list(SPECIALS) + words
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ModelError("vocabulary has duplicate tokens; rebuild it")

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    @classmethod
    def build(cls, texts: Iterable[str], max_size: int = 8000, min_count: int = 1) -> Vocab:
        """Count tokens in `texts`; keep the `max_size - 4` commonest seen `min_count` times."""
        if max_size <= len(SPECIALS):
            raise ConfigError(f"vocab_size must be greater than 4. Received: vocab_size={max_size}")
        if min_count < 1:
            raise ConfigError(f"min_count must be at least 1. Received: min_count={min_count}")
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(tokenize(text))
        # Ties broken alphabetically so the same corpus always gives the same ids.
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = [w for w, n in ranked if n >= min_count and w not in SPECIALS]
        return cls(kept[: max_size - len(SPECIALS)])

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.stoi.get(t, UNK_ID) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for `ids`, stopping at `<end>` and skipping padding and `<start>`."""
        out = []
        for i in ids:
            if i == END_ID:
                break
            if i not in (PAD_ID, START_ID):
                out.append(self.itos[i] if 0 <= i < len(self.itos) else UNK)
        return out

    def save(self, path: str | Path) -> None:
        """Write JSON atomically: a crash never leaves half a vocabulary."""
        write_atomic(
            Path(path), json.dumps({"specials": list(SPECIALS), "tokens": self.itos}, indent=0)
        )

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        data = read_json(path, "vocabulary")
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if (
            not isinstance(tokens, list)
            or not all(isinstance(t, str) for t in tokens)
            or data.get("specials") != list(SPECIALS)
            or tokens[:4] != list(SPECIALS)
        ):
            raise ModelError(
                f"{path} is not a chatbot vocabulary (expected "
                '{"specials": [...], "tokens": [strings]}); retrain the model'
            )
        return cls(tokens)
