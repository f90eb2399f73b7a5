"""One reader per corpus format, and format detection.

`read(path, fmt, problems)` streams `Conversation`s; `detect(path)` names the
format when the path leaves no doubt, and asks for `--format` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import UsageError
from . import chatterbot, chitchat, cornell, dailydialog, jsonl, plaintext
from .base import Conversation, Problems, Utterance

__all__ = ["FILE_FORMATS", "FORMATS", "Conversation", "Problems", "Utterance", "detect", "read"]

Reader = Callable[[Path, Problems], Iterator[Conversation]]
FORMATS: dict[str, Reader] = {
    "cornell": cornell.read,
    "dailydialog": dailydialog.read,
    "chatterbot": chatterbot.read,
    "jsonl": jsonl.read,
    "text": plaintext.read,
    "chitchat": chitchat.read,
}
# What --format accepts: chitchat is the package's own file (`--builtin chitchat`).
FILE_FORMATS = tuple(f for f in FORMATS if f != "chitchat")


def detect(path: Path) -> str:
    """The format of `path`, or a UsageError asking for --format."""
    if not path.exists():
        raise UsageError(f"no such file or folder: {path}")
    if path.is_dir():
        if cornell.is_cornell(path):
            return "cornell"
        if any(p.name.startswith("dialogues_") for p in path.rglob("dialogues_*.txt")):
            return "dailydialog"
        if any(p.suffix in (".yml", ".yaml") for p in path.iterdir()):
            return "chatterbot"
    else:
        if path.suffix == ".jsonl":
            return "jsonl"
        if path.suffix in (".yml", ".yaml"):
            return "chatterbot"
        if path.name.startswith("dialogues_") and path.suffix == ".txt":
            return "dailydialog"
        if path.suffix == ".txt":
            return "text"
    raise UsageError(
        f"cannot tell the format of {path}; pass --format with one of: {', '.join(FILE_FORMATS)}"
    )


def read(path: Path, fmt: str, problems: Problems) -> Iterator[Conversation]:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose from: {', '.join(FORMATS)}")
    if not path.exists():
        raise UsageError(f"no such file or folder: {path}")
    return FORMATS[fmt](path, problems)
