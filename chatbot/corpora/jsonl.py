"""JSONL: one conversation per line, `{"id": "...", "turns": ["...", "..."]}`.

This is how users bring their own data. Other keys are ignored; a line
without an "id" gets its line number as id. Blank lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from .base import Conversation, Problems, Utterance, clean, read_lines


def read(path: Path, problems: Problems) -> Iterator[Conversation]:
    for number, line in read_lines(path, problems):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.error(path, number, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            problems.error(path, number, "not valid JSON (nested too deeply)")
            continue
        turns = record.get("turns") if isinstance(record, dict) else None
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            problems.error(path, number, 'expected {"id": ..., "turns": [strings]}')
            continue
        texts = [clean(t) for t in turns if t.strip()]
        if not texts:
            problems.error(path, number, "conversation has no non-empty turns")
            continue
        conv_id = str(record.get("id", f"line-{number}"))
        yield Conversation(conv_id, [Utterance(None, t) for t in texts])


def record(conv_id: str, turns: list[str], **extra: object) -> dict:
    """One conversation as a line of this format (extra keys are kept, and ignored on read)."""
    return {"id": conv_id, "turns": turns, **extra}
