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
   Treebank splits the period off only the last word of its input, so in
   "my name is alice. how are you?" it keeps `alice.` as one word. Every word
   that still ends in a period afterwards loses it to a token of its own,
   unless it is a known abbreviation ("mr.", "etc.") or an initialism
   ("p.m.", "u.s."). (An untrained Punkt sentence splitter was tried first: it
   reads "a. b." as initials.) Numbers are kept as written ("3.50"); the
   vocabulary's size cap maps rare ones to `<unk>`.

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
        # CJK sentence punctuation (NFKC leaves these), so sentences split there too.
        "\u3002": ". ",
        "\u3001": ", ",
    }
)
_SPACES = re.compile(r"\s+")
# An utterance is read up to this many characters: far beyond any model's max_len
# tokens, and it bounds the work and memory a pasted megabyte can cost.
MAX_CHARS = 5000
# Bidirectional overrides, which reorder what a terminal shows (see `printable`).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# The original corpora put spaces around apostrophes ("it ' s"): join them
# back so the tokenizer sees one contraction, whichever way it was written.
_SPACED_APOSTROPHE = re.compile(r"(?<=\w) ' (?=(s|t|m|d|re|ve|ll)\b)")


def normalize(text: str) -> str:
    """The canonical form of an utterance: NFKC, ASCII quotes, one space, lower case."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHIC)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    text = _SPACES.sub(" ", text).strip().lower()
    return _SPACED_APOSTROPHE.sub("'", text)


# Words whose final period is part of the word, not the end of a sentence.
ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "approx", "dept"]
)
_INITIALISM = re.compile(r"(?:\w\.)+\w")


def _split_period(token: str) -> list[str]:
    word = token[:-1]
    if len(token) < 2 or not token.endswith(".") or word.endswith("."):
        return [token]
    if word in ABBREVIATIONS or _INITIALISM.fullmatch(word):
        return [token]
    return [word, "."]


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    from nltk.tokenize import TreebankWordTokenizer

    return TreebankWordTokenizer()


@lru_cache(maxsize=1)
def _detokenizer() -> Any:
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    return TreebankWordDetokenizer()


def tokenize(text: str) -> list[str]:
    """Normalize `text` (its first MAX_CHARS characters) and split it into word tokens."""
    text = normalize(text[:MAX_CHARS])
    if not text:
        return []
    tokens = [piece for tok in _tokenizer().tokenize(text) for piece in _split_period(tok)]
    # Treebank writes double quotes as `` and ''; keep the plain character.
    return ['"' if tok in ("``", "''") else tok for tok in tokens]


def printable(text: str) -> str:
    """`text` safe to print on one terminal line: control characters (so every escape
    sequence, which starts with ESC) and direction overrides are shown as escapes
    (`\\x1b[31m`), never obeyed. Stored text stays as it came; only what is displayed
    goes through here."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) == "Cc" or ch in _BIDI
        else ch
        for ch in text
    )


def shorten(text: str, width: int = 60) -> str:
    """`text` cut to `width` characters, with an ellipsis if it was longer."""
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def detokenize(tokens: list[str]) -> str:
    """Join word tokens back into readable text."""
    return _detokenizer().detokenize(list(tokens)).strip()
