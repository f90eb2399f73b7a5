"""One conversation with a `Chatbot`: respond, observe, reset, undo, and its transcript.

Every exchange is committed to the store as it happens, with the state after
the reply, so a killed chat loses nothing and `resume` continues a transcript
with exactly the state it had.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._tf import tf
from .bot import Chatbot
from .store import Store
from .text import tokenize
from .vocab import UNK_ID


def pack_state(state: list) -> bytes:
    return np.stack([np.asarray(s)[0] for s in state]).astype(np.float32).tobytes()


def unpack_state(blob: bytes, size: int, units: int) -> list:
    array = np.frombuffer(blob, np.float32).reshape(size, 1, units)
    return [tf.constant(a) for a in array]


class Session:
    def __init__(
        self, bot: Chatbot, store: Store | None, model_name: str, settings: dict | None = None
    ):
        self.bot, self.store, self.model_name = bot, store, model_name
        self.settings = settings or {}
        self.history: list[tuple[str, str]] = []
        self._states: list[list] = []  # the state before each exchange, for undo
        self.transcript_id: int | None = None

    def _ensure_transcript(self) -> int | None:
        if self.store is not None and self.transcript_id is None:
            self.transcript_id = self.store.start_transcript(self.model_name, self.settings)
        return self.transcript_id

    def unknown_words(self, text: str) -> list[str]:
        return [t for t in tokenize(text) if self.bot.vocab.encode([t])[0] == UNK_ID]

    def respond(self, text: str) -> str:
        self._states.append(list(self.bot.state))
        reply = self.bot.respond(text)
        self.history.append((text, reply))
        transcript = self._ensure_transcript()
        if self.store is not None and transcript is not None:
            settings = {
                **dataclasses.asdict(self.bot.settings),
                "remember_state": self.bot.remember_state,
            }
            self.store.add_exchange(transcript, text, reply, pack_state(self.bot.state), settings)
        return reply

    def observe(self, text: str) -> None:
        self.bot.observe(text)

    def reset(self) -> None:
        """A new conversation: zero state, and the next exchange starts a new transcript."""
        self.bot.reset_hidden_state()
        self.history.clear()
        self._states.clear()
        self.transcript_id = None

    def undo(self) -> tuple[str, str] | None:
        """Forget the last exchange: its state, its history line and its stored turns."""
        if not self.history:
            return None
        self.bot.state = self._states.pop()
        if self.store is not None and self.transcript_id is not None:
            self.store.drop_last_exchange(self.transcript_id)
        return self.history.pop()

    def resume(self, transcript_id: int) -> None:
        """Continue a stored transcript with the state it had after its last reply."""
        assert self.store is not None
        _, turns = self.store.transcript(transcript_id)
        self.reset()
        self.transcript_id = transcript_id
        users = [t for r, t, _ in turns if r == "user"]
        bots = [(t, s) for r, t, s in turns if r == "bot"]
        self.history = [(u, b) for u, (b, _) in zip(users, bots, strict=False)]
        cfg = self.bot.config
        after = [
            unpack_state(s, cfg.state_size, cfg.hidden_units) for _, s in bots if s is not None
        ]
        # The state before exchange i is the state after exchange i - 1 (zeros first).
        self._states = [self.bot.model.zero_state(1), *after[:-1]]
        if after:
            self.bot.state = after[-1]
