"""The Chit Chat Challenge corpus (PyPI `chitchat-dataset`, MIT licence).

7,168 open-domain conversations between two people who met online, typed in
a chat window: 258,145 messages. The package ships them as one
`dataset.json`, so `--builtin chitchat` ingests without a download.

Shape: `{conversation id: {"messages": [[message, ...], ...], ...}}`, where each
inner list is a run of messages that one sender typed in a row, and each
message is `{"sender", "text", "timestamp"}`.

**One utterance per turn.** A run of messages from one sender ("hi" /
"anyone here") becomes one utterance, the messages joined by a space; a run
that follows another run from the same sender joins it too. People split a
turn over several sends as they type; the model reads a conversation as
utterances from alternating speakers, and a reply learned after "hi" alone
would answer half a turn.

There is no official split: `ingest` gives each conversation a split from a
hash of its id (90/5/5, stable across machines).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from .base import Conversation, Problems, Utterance, check_text_file, clean

# dataset.json is 40 MB and is read whole: a file much larger is not this corpus.
MAX_FILE_BYTES = 128 * 1024 * 1024


def builtin_path() -> Path:
    """dataset.json inside the installed `chitchat-dataset` package."""
    import chitchat_dataset

    return Path(chitchat_dataset.__file__).parent / "dataset.json"


def read(path: Path, problems: Problems) -> Iterator[Conversation]:
    check_text_file(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        problems.error(path, None, f"larger than {MAX_FILE_BYTES >> 20} MB; not a chitchat file")
        return
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            data = json.load(f)
    except (json.JSONDecodeError, RecursionError) as exc:
        problems.error(path, None, f"not valid JSON ({str(exc).splitlines()[0][:200]})")
        return
    if not isinstance(data, dict):
        problems.error(path, 1, 'expected {"<id>": {"messages": [[...], ...]}, ...}')
        return
    for conv_id, record in data.items():
        texts = turns(record)
        if texts is None:
            problems.error(path, None, f"conversation {conv_id!r} has no 'messages' list")
        elif texts:
            yield Conversation(str(conv_id), [Utterance(s, t) for s, t in texts])


def turns(record: object) -> list[tuple[str | None, str]] | None:
    """(sender, text) per turn: each run of one sender's messages joined (see above)."""
    runs = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(runs, list):
        return None
    out: list[tuple[str | None, str]] = []
    for run in runs:
        messages = run if isinstance(run, list) else [run]
        for message in messages:
            if not isinstance(message, dict):
                continue
            text = clean(str(message.get("text") or ""))
            sender = message.get("sender")
            sender = None if sender is None else str(sender)
            if not text:
                continue
            if out and out[-1][0] == sender:
                out[-1] = (sender, f"{out[-1][1]} {text}")
            else:
                out.append((sender, text))
    return out
