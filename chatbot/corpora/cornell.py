"""The Cornell movie-dialogs corpus: a folder with movie_lines.txt and movie_conversations.txt.

Both files are " +++$+++ " separated and iso-8859-1 encoded:

    movie_lines.txt           L1045 +++$+++ u0 +++$+++ m0 +++$+++ BIANCA +++$+++ They do not!
    movie_conversations.txt   u0 +++$+++ u2 +++$+++ m0 +++$+++ ['L194', 'L195', 'L196']

Conversations refer to lines by id and the lines file lists them in reverse
order, so the reader first indexes the lines (id -> byte offset, not the text,
so memory does not grow with how long the lines are)
and then streams the conversations file, reading each line it needs from its
offset. The index is bounded at MAX_LINES ids. The conversation's id is
"<movie>:<line number in movie_conversations.txt>".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import CorpusFormatError, UsageError
from .base import MAX_LINE, Conversation, Problems, Utterance, check_text_file, clean, read_lines

SEP = " +++$+++ "
ENCODING = "iso-8859-1"
LINES, CONVERSATIONS = "movie_lines.txt", "movie_conversations.txt"
_LINE_IDS = re.compile(r"'([^']+)'")


def is_cornell(path: Path) -> bool:
    return path.is_dir() and (path / LINES).is_file() and (path / CONVERSATIONS).is_file()


# Ten times the real corpus's 304,713 lines; an index entry costs ~150 bytes.
MAX_LINES = 3_000_000


def _fields(raw: bytes) -> list[str]:
    # ISO-8859-1 gives every byte a character: nothing can fail to decode.
    return raw.decode(ENCODING).rstrip("\r\n").split(SEP, 4)


def _index_lines(path: Path, problems: Problems) -> dict[str, int]:
    """Line id -> byte offset of its line in `path`."""
    check_text_file(path)
    offsets: dict[str, int] = {}
    with path.open("rb") as f:
        number, offset = 0, 0
        while raw := f.readline(MAX_LINE):
            number, start, offset = number + 1, offset, offset + len(raw)
            if len(raw) == MAX_LINE and not raw.endswith(b"\n"):
                while (rest := f.readline(MAX_LINE)) and not rest.endswith(b"\n"):
                    offset += len(rest)
                offset += len(rest)
                problems.error(path, number, f"line longer than {MAX_LINE:,} characters")
                continue
            if not raw.strip():
                continue
            fields = _fields(raw)
            if len(fields) != 5:
                problems.error(path, number, f"expected 5 fields separated by '{SEP.strip()}'")
                continue
            if len(offsets) >= MAX_LINES:
                raise CorpusFormatError(
                    f"{path} has more than {MAX_LINES:,} lines (the real corpus has 304,713); "
                    "split the movies into several folders"
                )
            offsets[fields[0]] = start
    return offsets


def _line(f: BinaryIO, offset: int) -> Utterance:
    f.seek(offset)
    fields = _fields(f.readline(MAX_LINE))
    return Utterance(fields[3], clean(fields[4]))


def read(path: Path, problems: Problems) -> Iterator[Conversation]:
    if not is_cornell(path):
        raise UsageError(f"{path} is not a Cornell folder: it needs {LINES} and {CONVERSATIONS}")
    offsets = _index_lines(path / LINES, problems)
    with (path / LINES).open("rb") as lines:
        yield from _conversations(path / CONVERSATIONS, offsets, lines, problems)


def _conversations(
    conversations: Path, offsets: dict[str, int], lines: BinaryIO, problems: Problems
) -> Iterator[Conversation]:
    for number, line in read_lines(conversations, problems, ENCODING):
        if not line:
            continue
        fields = line.split(SEP)
        ids = _LINE_IDS.findall(fields[-1]) if len(fields) == 4 else []
        if not ids:
            problems.error(conversations, number, "expected 4 fields ending in a list of line ids")
            continue
        missing = [i for i in ids if i not in offsets]
        if missing:
            problems.error(conversations, number, f"line id {missing[0]} is not in {LINES}")
            continue
        turns = [u for u in (_line(lines, offsets[i]) for i in ids) if u.text]
        if turns:
            yield Conversation(f"{fields[2]}:{number}", turns)
