"""Re-running stored conversations against a model.

A source is a transcript id or a JSONL file in the ingestion format. User
turns (even positions) are replayed through a fresh `Chatbot` state; the
stored reply is then fed into the state instead of the new one, so every
turn sees the same history the original conversation had.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from .corpora import Problems, jsonl
from .decode import DecodeSettings
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
    # The ingestion reader, so a replay file is exactly a corpus file; a bad line stops it.
    for conv in jsonl.read(path, Problems("fail")):
        yield conv.external_id, None, [u.text for u in conv.utterances]


def replay_turns(
    store: Store, source: str, model: str | None, settings: DecodeSettings | None = None
) -> Iterator[tuple[str, str, str, str, float]]:
    """(conversation id, user turn, stored reply, new reply, perplexity of the stored reply).

    The perplexity is the chosen model's, on the stored reply given the
    conversation so far: how likely this model finds what was said.
    """
    from .bot import Chatbot

    bots: dict[str, Chatbot] = {}
    for conv_id, stored_model, turns in _conversations(store, source):
        name = model or stored_model or "starter"
        if name not in bots:
            bots[name] = Chatbot.load(name, db=store.path)
            if settings:
                bots[name].settings = replace(settings, max_length=bots[name].config.max_len)
        bot = bots[name]
        bot.reset_hidden_state()
        for user, stored in zip(turns[0::2], turns[1::2], strict=False):
            bot.observe(user)
            new = bot.detokenized_reply()
            loss, tokens = bot.score(stored)
            bot.observe(stored)
            yield conv_id, user, stored, new, math.exp(loss / tokens)
