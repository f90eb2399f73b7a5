"""Plain text: one utterance per line, a blank line between conversations.

Conversations are numbered from 1 in file order ("c1", "c2", ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .base import Conversation, Problems, Utterance, clean, read_lines


def read(path: Path, problems: Problems) -> Iterator[Conversation]:
    turns: list[Utterance] = []
    count = 0
    for _, line in read_lines(path, problems):
        text = clean(line)
        if text:
            turns.append(Utterance(None, text))
        elif turns:
            count += 1
            yield Conversation(f"c{count}", turns)
            turns = []
    if turns:
        yield Conversation(f"c{count + 1}", turns)
