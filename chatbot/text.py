"""Turning utterances into word tokens and back.

Normalization is decided here, once, and every layer (vocabulary, training,
chat, evaluation) goes through `tokenize`:

1. Unicode NFKC (full-width forms, ligatures and compatibility characters fold
   to their plain equivalents), then typographic quotes and dashes to ASCII,
   so DailyDialog's mixed `don't` / `don’t` become one word.
2. Control characters become spaces; whitespace runs collapse to one space.
3. Lower case: the corpora are small next to the vocabulary a cased model
   would need.
4. NLTK's Treebank word tokenizer (rule-based, needs no downloaded data).
   Numbers are kept as written; the vocabulary's size cap maps rare ones to
   `<unk>`.

`detokenize` uses NLTK's TreebankWordDetokenizer, so replies read as text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

_TYPOGRAPHIC = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": " - ",
        "\u2212": "-",
        "\u2026": "...",
    }
)
_SPACES = re.compile(r"\s+")
# The original corpora put spaces around apostrophes ("it ' s"): join them
# back so the tokenizer sees one contraction, whichever way it was written.
_SPACED_APOSTROPHE = re.compile(r"(?<=\w) ' (?=(s|t|m|d|re|ve|ll)\b)")


def normalize(text: str) -> str:
    """The canonical form of an utterance: NFKC, ASCII quotes, one space, lower case."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHIC)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = _SPACES.sub(" ", text).strip().lower()
    return _SPACED_APOSTROPHE.sub("'", text)


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    from nltk.tokenize import TreebankWordTokenizer

    return TreebankWordTokenizer()


@lru_cache(maxsize=1)
def _detokenizer() -> Any:
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    return TreebankWordDetokenizer()


def tokenize(text: str) -> list[str]:
    """Normalize `text` and split it into word tokens."""
    text = normalize(text)
    if not text:
        return []
    tokens = _tokenizer().tokenize(text)
    # Treebank writes double quotes as `` and ''; keep the plain character.
    return ['"' if tok in ("``", "''") else tok for tok in tokens]


def detokenize(tokens: list[str]) -> str:
    """Join word tokens back into readable text."""
    return _detokenizer().detokenize(list(tokens)).strip()
