"""The Cornell movie-dialogs corpus: a folder with movie_lines.txt and movie_conversations.txt.

Both files are " +++$+++ " separated and iso-8859-1 encoded:

    movie_lines.txt           L1045 +++$+++ u0 +++$+++ m0 +++$+++ BIANCA +++$+++ They do not!
    movie_conversations.txt   u0 +++$+++ u2 +++$+++ m0 +++$+++ ['L194', 'L195', 'L196']

Conversations refer to lines by id and the lines file lists them in reverse
order, so the reader first indexes the lines (id -> speaker, text: about 40 MB
for the full 304,713 lines) and then streams the conversations file. The
conversation's id is "<movie>:<line number in movie_conversations.txt>".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import UsageError
from .base import Conversation, Problems, Utterance, clean, read_lines

SEP = " +++$+++ "
ENCODING = "iso-8859-1"
LINES, CONVERSATIONS = "movie_lines.txt", "movie_conversations.txt"
_LINE_IDS = re.compile(r"'([^']+)'")


def is_cornell(path: Path) -> bool:
    return path.is_dir() and (path / LINES).is_file() and (path / CONVERSATIONS).is_file()


def _index_lines(path: Path, problems: Problems) -> dict[str, Utterance]:
    lines: dict[str, Utterance] = {}
    for number, line in read_lines(path, problems, ENCODING):
        if not line:
            continue
        fields = line.split(SEP, 4)
        if len(fields) != 5:
            problems.error(path, number, f"expected 5 fields separated by '{SEP.strip()}'")
            continue
        lines[fields[0]] = Utterance(fields[3], clean(fields[4]))
    return lines


def read(path: Path, problems: Problems) -> Iterator[Conversation]:
    if not is_cornell(path):
        raise UsageError(f"{path} is not a Cornell folder: it needs {LINES} and {CONVERSATIONS}")
    lines = _index_lines(path / LINES, problems)
    conversations = path / CONVERSATIONS
    for number, line in read_lines(conversations, problems, ENCODING):
        if not line:
            continue
        fields = line.split(SEP)
        ids = _LINE_IDS.findall(fields[-1]) if len(fields) == 4 else []
        if not ids:
            problems.error(conversations, number, "expected 4 fields ending in a list of line ids")
            continue
        missing = [i for i in ids if i not in lines]
        if missing:
            problems.error(conversations, number, f"line id {missing[0]} is not in {LINES}")
            continue
        turns = [lines[i] for i in ids if lines[i].text]
        if turns:
            yield Conversation(f"{fields[2]}:{number}", turns)
