"""Plain text: one utterance per line, a blank line between conversations.

Conversations are numbered from 1 in file order ("c1", "c2", ...). A
conversation longer than MAX_UTTERANCES lines or MAX_CHARS characters is cut
into parts ("c1", "c1.2", ...), with a warning: a file with no blank line
would otherwise be held whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .base import Conversation, Problems, Utterance, clean, read_lines

MAX_UTTERANCES = 10_000
MAX_CHARS = 8_000_000


def read(path: Path, problems: Problems) -> Iterator[Conversation]:
    turns: list[Utterance] = []
    count, part, chars = 1, 1, 0
    for number, line in read_lines(path, problems):
        text = clean(line)
        if text:
            turns.append(Utterance(None, text))
            chars += len(text)
            if len(turns) >= MAX_UTTERANCES or chars >= MAX_CHARS:
                if part == 1:
                    problems.warn(path, number, f"conversation c{count} is cut into parts")
                yield Conversation(_name(count, part), turns)
                turns, part, chars = [], part + 1, 0
        elif turns or part > 1:
            if turns:
                yield Conversation(_name(count, part), turns)
            turns, count, part, chars = [], count + 1, 1, 0
    if turns:
        yield Conversation(_name(count, part), turns)


def _name(count: int, part: int) -> str:
    return f"c{count}" if part == 1 else f"c{count}.{part}"
