"""Re-running stored conversations against a model.

A source is a transcript id or a JSONL file in the ingestion format. User
turns (even positions) are replayed through a fresh `Chatbot` state; the
stored reply is then fed into the state instead of the new one, so every
turn sees the same history the original conversation had.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from .errors import UsageError
from .store import Store


def _conversations(store: Store, source: str) -> Iterator[tuple[str, str | None, list[str]]]:
    if source.isdigit():
        header, turns = store.transcript(int(source))
        yield f"transcript-{source}", header["model"], [t for _, t, _ in turns]
        return
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"{source} is neither a transcript id nor a JSONL file")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                record = json.loads(line)
                yield str(record.get("id", f"line-{number}")), None, list(record["turns"])
            except (ValueError, KeyError, TypeError):
                raise UsageError(
                    f'{path}:{number}: expected {{"id": ..., "turns": [...]}}'
                ) from None


def replay_turns(
    store: Store, source: str, model: str | None, starter: Path
) -> Iterator[tuple[str, str, str, str]]:
    """(conversation id, user turn, stored reply, new reply) for every exchange."""
    from .bot import Chatbot

    bots: dict[str, Chatbot] = {}
    for conv_id, stored_model, turns in _conversations(store, source):
        name = model or stored_model or "starter"
        if name not in bots:
            bots[name] = Chatbot.load(starter if name == "starter" else name, db=store.path)
        bot = bots[name]
        bot.reset_hidden_state()
        for user, stored in zip(turns[0::2], turns[1::2], strict=False):
            bot.observe(user)
            new = bot.detokenized_reply()
            bot.observe(stored)
            yield conv_id, user, stored, new
