"""What every reader yields, and how readers report bad records.

A reader is a generator of `Conversation`s that streams its input: it holds at
most one conversation (Cornell: its line index) in memory, never the file.
Problems go to a `Problems` object: with `on_error="skip"` a malformed record
is counted and reported as FILE:LINE: reason; with `"fail"` it stops the
ingestion (which then rolls back).
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ..errors import CorpusFormatError, UsageError

# The splits a conversation can belong to (an official one, or by a hash of its id).
SPLITS = ("train", "valid", "test")
DEFAULT_SPLIT = (0.90, 0.05, 0.05)  # train, valid, test, for corpora without an official one


def hash_split(external_id: str, fractions: tuple[float, float, float] = DEFAULT_SPLIT) -> str:
    """A split that depends only on the conversation's id: stable across runs and machines."""
    digest = hashlib.blake2b(external_id.encode("utf-8"), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2**64
    if u < fractions[0]:
        return "train"
    return "valid" if u < fractions[0] + fractions[1] else "test"


class Utterance(NamedTuple):
    # A tuple, not a dataclass: readers make one per utterance (300k for
    # Cornell), and tuples are the cheapest immutable record to build.
    speaker: str | None
    text: str


# The speaker of a generated corpus's human side (corpora/recall.py): what a
# person says to the bot. The model reads it but is never trained to say it; a
# model trained on both sides of the recall corpus drifted into the user's lines
# in a chat ("what is my favourite colour?").
USER = "user"


class Prompt(str):
    """An utterance the model reads but does not learn to reply with (spoken by USER)."""


@dataclass
class Conversation:
    external_id: str
    utterances: list[Utterance]
    split: str | None = None  # an official split ("train", "valid", "test") when the corpus has one


def clean(text: str) -> str:
    """Collapse whitespace runs; the store keeps utterances otherwise as written."""
    # split/join rather than a regex: this runs once per utterance, and is faster.
    return " ".join(text.split())


# Reports kept word for word; the rest are only counted, so a flood of bad
# records costs a counter, not a list entry each.
KEEP = 10
# A line is read up to this many characters; a longer one is a bad record (it is
# skipped in pieces, never held whole).
MAX_LINE = 1_000_000


@dataclass
class Problems:
    """Collects FILE:LINE reports (the first KEEP of each kind, and counts); raises on
    the first error when `on_error="fail"`."""

    on_error: str = "skip"
    # What a failing reader tells the user to do; replay has no --on-error.
    hint: str = "use --on-error skip to skip bad records"
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    warned: int = 0

    def __post_init__(self) -> None:
        if self.on_error not in ("skip", "fail"):
            raise UsageError(f"on_error must be 'skip' or 'fail'. Received: {self.on_error!r}")

    def error(self, path: Path, line: int | None, reason: str) -> None:
        message = f"{path}:{line}: {reason}" if line else f"{path}: {reason}"
        if self.on_error == "fail":
            raise CorpusFormatError(f"{message} ({self.hint})")
        self.skipped += 1
        if len(self.errors) < KEEP:
            self.errors.append(message)

    def warn(self, path: Path, line: int, reason: str) -> None:
        self.warned += 1
        if len(self.warnings) < KEEP:
            self.warnings.append(f"{path}:{line}: {reason}")


def check_text_file(path: Path) -> None:
    """Refuse a missing, empty or binary file with one clear line."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    with path.open("rb") as f:
        head = f.read(8192)
    if not head:
        raise CorpusFormatError(f"{path} is empty: there is nothing to ingest")
    if b"\0" in head:
        raise CorpusFormatError(f"{path} looks like a binary file, not a text corpus")


class _Undecodable:
    """How many decoding errors the codec handler saw, and the first one's reason."""

    count = 0
    first = ""


def _count_and_replace(exc: UnicodeError) -> tuple[str, int]:
    if not _Undecodable.count:
        _Undecodable.first = getattr(exc, "reason", "undecodable")
    _Undecodable.count += 1
    return "\ufffd", exc.end  # type: ignore[attr-defined]


codecs.register_error("chatbot-replace", _count_and_replace)


def read_lines(
    path: Path, problems: Problems, encoding: str = "utf-8"
) -> Iterator[tuple[int, str]]:
    """(line number, text) for each line, without its newline, streamed.

    Bytes that do not decode become U+FFFD and the line is reported as a
    warning, so one bad byte never stops an ingestion. Decoding happens in C
    by whole buffers; only after the error handler fired do lines get checked.
    A line longer than MAX_LINE characters is reported and skipped.
    """
    check_text_file(path)
    _Undecodable.count = 0
    # utf-8-sig drops the byte-order mark some editors write first; it is not text.
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    with path.open(encoding=codec, errors="chatbot-replace", newline="\n") as f:
        number = 0
        while line := f.readline(MAX_LINE):
            number += 1
            if len(line) == MAX_LINE and not line.endswith("\n"):
                while (rest := f.readline(MAX_LINE)) and not rest.endswith("\n"):
                    pass
                problems.error(path, number, f"line longer than {MAX_LINE:,} characters")
                continue
            if _Undecodable.count and "\ufffd" in line:
                reason = _Undecodable.first
                problems.warn(path, number, f"bytes not valid {encoding} replaced ({reason})")
            yield number, line.rstrip("\r\n")
