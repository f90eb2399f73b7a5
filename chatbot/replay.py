"""Re-running stored conversations against a model.

A source is a transcript id or a JSONL file in the ingestion format. User
turns (even positions) are replayed through a fresh `Chatbot` state; the
stored reply is then fed into the state instead of the new one, so every
turn sees the same history the original conversation had. A transcript's
turns are replayed with the settings each was made with (decoding and
remember-state) and the sampling draw it made, so a chat replays reply for
reply, sampled or not; `overrides` win.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .corpora import Problems, jsonl
from .errors import UsageError
from .perplexity import perplexity
from .store import Store, exchanges


def _conversations(
    store: Store, source: str
) -> Iterator[tuple[str, str | None, list[tuple[str, str, dict]]]]:
    """(id, model, [(user, stored reply, the reply's settings)])."""
    if source.isascii() and source.isdigit():  # "²" is a digit to Python, not an id
        header, turns = store.transcript(int(source))
        pairs = [(u.text, b.text, b.settings or header["settings"]) for u, b in exchanges(turns)]
        yield f"transcript-{source}", header["model"], pairs
        return
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"{source} is neither a transcript id nor a JSONL file")
    # The ingestion reader, so a replay file is exactly a corpus file; a bad line stops it.
    hint = 'each line: {"id": ..., "turns": [user, bot, ...]}, as `transcripts export` writes'
    for conv in jsonl.read(path, Problems("fail", hint=hint)):
        texts = [u.text for u in conv.utterances]
        yield (
            conv.external_id,
            None,
            [(u, b, {}) for u, b in zip(texts[0::2], texts[1::2], strict=False)],
        )


def replay_turns(
    store: Store, source: str, model: str | None, overrides: dict | None = None
) -> Iterator[tuple[str, str, str, str, float]]:
    """(conversation id, user turn, stored reply, new reply, perplexity of the stored reply).

    The perplexity is the chosen model's, on the stored reply given the
    conversation so far: how likely this model finds what was said.
    """
    from .bot import Chatbot
    from .decode import chat_decoding

    models: dict[str, Chatbot] = {}
    for conv_id, stored_model, pairs in _conversations(store, source):
        name = model or stored_model or "starter"
        if name not in models:
            models[name] = Chatbot.load(name, db=store.path)
        bot = models[name].fork()  # this conversation's own, decoding as each turn did
        for user, stored, settings in pairs:
            bot.decode_as(chat_decoding(settings, overrides or {}))
            bot.observe(user)
            new = bot.detokenized_reply(settings.get("draw"))
            loss, tokens = bot.score(stored)
            bot.follow(bot.token_ids(stored))  # as the chat fed its reply
            yield conv_id, user, stored, new, perplexity(loss, tokens)
