"""One conversation with a `Chatbot`: the settings, the state, undo, model switches and
the transcript, owned in one place.

The REPL and the CLI talk to a `Session` and never to the bot behind it.
Every exchange is committed to the store before the state moves on, with the
state after the reply and the settings that made it, so a killed chat loses
nothing, a failed commit leaves the conversation where it was, `resume`
continues with exactly the state and settings it had, and `replay` can
reproduce each reply.
"""

from __future__ import annotations

import dataclasses
import random
from typing import NamedTuple

import numpy as np

from ._tf import tf
from .bot import Chatbot, Conversation, answer_together, listen_together
from .corpora import jsonl
from .decode import Decoder, DecodeSettings
from .errors import ModelError, UsageError
from .store import Store, exchanges
from .text import MAX_CHARS, tokenize
from .vocab import UNK_ID

# What `/set KEY=VALUE` may change: the key as typed, and how its value is read.
SETTABLE = {
    "beam": int,
    "temperature": float,
    "top-k": int,
    "top-p": float,
    "max-length": int,
    "min-length": int,
    "repetition-penalty": float,
    "no-repeat-ngram": int,
    "length-penalty": float,
    "mmi": float,
    "mmi-tokens": int,
    "samples": int,
}
REMEMBER = "remember-state"  # the one spelling: --remember-state, /set remember-state=on
SWITCH = {"on": True, "off": False}


def pack_state(state: list) -> bytes:
    return np.stack([np.asarray(s)[0] for s in state]).astype(np.float32).tobytes()


def unpack_state(blob: bytes, size: int, units: int) -> list:
    if len(blob) != size * units * 4:  # the model was retrained with other sizes since
        raise ModelError(
            f"a stored state has {len(blob) // 4} numbers and this model's has {size * units}: "
            "the model was retrained with other sizes since; start a new chat"
        )
    array = np.frombuffer(blob, np.float32).reshape(size, 1, units)
    return [tf.constant(a) for a in array]


def turn_settings(bot: Chatbot, draw: int | None = None) -> dict:
    """What a stored turn records of how it was made (`draw`: its sampling draw)."""
    settings = bot.decoding()
    return settings if draw is None else {**settings, "draw": draw}


class Heard(NamedTuple):
    """A line read and not yet answered, and where the conversation was before it."""

    text: str
    before: Conversation


class DecodingInput(NamedTuple):
    decoder: Decoder
    state: list
    memory: tuple
    settings: DecodeSettings
    banned: list[int]  # the slots that hold no word yet


class Session:
    def __init__(self, bot: Chatbot, store: Store | None, model_name: str):
        self._bot, self.store, self.model_name = bot, store, model_name
        self.history: list[tuple[str, str]] = []
        # Where the conversation was before each exchange, for undo.
        self._states: list[Conversation] = []
        self.transcript_id: int | None = None

    # -- settings ----------------------------------------------------------------

    @property
    def settings(self) -> DecodeSettings:
        return self._bot.settings

    @property
    def chat_decoding(self) -> dict:
        """How a new chat with this model decodes (`Chatbot.chat_decoding`)."""
        return self._bot.chat_decoding

    @property
    def remember(self) -> bool:
        return self._bot.remember_state

    def configure(self, stored: dict) -> None:
        """Decode as `stored` says (a turn's settings, a model's decoding.json)."""
        self._bot.decode_as(stored)

    def set(self, key: str, value: str) -> None:
        """`/set KEY=VALUE`; a bad key or value raises UsageError and changes nothing."""
        if key == REMEMBER:
            if value not in SWITCH:
                raise UsageError(f"{REMEMBER} is on or off. Received: {value!r}")
            self._bot.decode_as({"remember_state": SWITCH[value]})
            return
        if key not in SETTABLE:
            raise UsageError(f"no setting {key!r}; one of: {REMEMBER}, {', '.join(SETTABLE)}")
        try:
            parsed = SETTABLE[key](value)
        except ValueError:
            raise UsageError(f"{key} needs a number. Received: {value!r}") from None
        self._bot.decode_as({key.replace("-", "_"): parsed})

    def describe(self) -> list[str]:
        """What `/state` shows: model, memory, state size, transcript, decoding, and
        the words the conversation's slots hold (what it can say back exactly)."""
        norm = sum(float((s * s).numpy().sum()) for s in self._bot.state) ** 0.5
        s = self.settings
        slots = self._bot.slots.words
        held = ", ".join(w for w in slots if w) or "(none yet)"
        return [
            f"model {self.model_name}, {REMEMBER} {'on' if self.remember else 'off'}, "
            f"state norm {norm:.3f}, transcript {self.transcript_id or '(none yet)'}",
            f"decoding: beam {s.beam}, temperature {s.temperature}, top-k {s.top_k}, "
            f"top-p {s.top_p}, samples {s.samples}, repetition-penalty {s.repetition_penalty}, "
            f"no-repeat-ngram {s.no_repeat_ngram}, mmi {s.mmi} over {s.mmi_tokens} words, "
            f"length {s.min_length}-{s.max_length}",
            *([f"slots ({sum(map(bool, slots))} of {len(slots)}): {held}"] if slots else []),
        ]

    def warm_up(self) -> None:
        """Compile the model's reply ahead of the first exchange (`Chatbot.warm_up`)."""
        self._bot.warm_up()

    def switch_model(self, name: str) -> None:
        """Talk to another model from now on, with the same settings, in a new conversation."""
        db = self.store.path if self.store else None
        new = Chatbot.load(name, db=db)
        settings = dataclasses.asdict(self.settings.for_model(new.config.max_len))
        new.decode_as({**settings, "remember_state": new.remember_state and self.remember})
        self._bot, self.model_name = new, name
        self.reset()

    # -- the conversation ----------------------------------------------------------

    def unknown_words(self, text: str) -> list[str]:
        """The words of `text` the model cannot read, each once, in order."""
        words = dict.fromkeys(t for t in tokenize(text) if self._bot.vocab.encode([t])[0] == UNK_ID)
        return list(words)

    @property
    def has_slots(self) -> bool:
        """Whether new words are kept for the conversation (`vocab.Slots`), not lost."""
        return bool(self._bot.vocab.slot_ids)

    def respond(self, text: str, draw: int | None = None) -> str:
        """Reply to `text` (cut to MAX_CHARS) and store the exchange. If storing fails,
        the state is put back: the conversation is where it was before the line.
        `draw` seeds a sampled reply (by default a new one; it is stored either way,
        so a replay samples the same reply)."""
        draw = random.getrandbits(31) if draw is None else draw
        heard = self.listen(text)
        try:
            ids = self._bot.reply_ids(draw)
        except BaseException:
            self.restore(heard)
            raise
        return self.finish(heard, ids, draw)

    def take(self, text: str, reply: str) -> None:
        """Store an exchange given whole, with the state it leaves, as if the bot had
        said `reply` (the history an API client sends)."""
        heard = self.listen(text)
        self.finish(heard, self._bot.wording(reply), None)

    def listen(self, text: str) -> Heard:
        """Read `text` (cut to MAX_CHARS) as the line to reply to: the first half of an
        exchange, whose reply `finish` then says and stores."""
        heard = self._heard(text)
        try:
            self._bot.listen(heard.text)
        except BaseException:
            self.restore(heard)
            raise
        return heard

    def finish(self, heard: Heard, ids: list[int], draw: int | None) -> str:
        """Say reply `ids` to the line `listen` read and store the exchange; if that
        fails, the conversation goes back to where it was before the line."""
        try:
            reply = self._bot.answer(ids)
            self._store(heard, reply, draw)
        except BaseException:
            self.restore(heard)
            raise
        self._keep(heard, reply)
        return reply

    @staticmethod
    def listen_together(sessions: list[Session], texts: list[str]) -> list[Heard]:
        """`listen` for sessions over one model, their lines read in one call
        (`bot.listen_together`). If reading fails, every session is where it was."""
        heard = [s._heard(text) for s, text in zip(sessions, texts, strict=True)]
        try:
            listen_together([s._bot for s in sessions], [h.text for h in heard])
        except BaseException:
            for s, h in zip(sessions, heard, strict=True):
                s.restore(h)
            raise
        return heard

    @staticmethod
    def finish_together(
        sessions: list[Session], heard: list[Heard], replies: list[list[int]], draws: list
    ) -> list[str | Exception]:
        """`finish` for sessions over one model: the replies read into their states in
        one call and the exchanges stored in one transaction per store. If either
        fails, every session hears of it and is back where it was."""
        try:
            texts = answer_together([s._bot for s in sessions], replies)
            stores: dict[int, tuple[Store, list]] = {}
            for s, h, reply, draw in zip(sessions, heard, texts, draws, strict=True):
                if s.store is not None:
                    stores.setdefault(id(s.store), (s.store, []))[1].append(
                        s._exchange(h, reply, draw)
                    )
            for store, exchanges in stores.values():
                store.add_exchanges(exchanges)
        except Exception as exc:  # noqa: BLE001 - every session hears of it
            for s, h in zip(sessions, heard, strict=True):
                s.restore(h)
            return [exc] * len(sessions)
        for s, h, reply in zip(sessions, heard, texts, strict=True):
            s._keep(h, reply)
        return list(texts)

    def _heard(self, text: str) -> Heard:
        # A lone surrogate (an undecodable byte from the terminal) cannot be stored as
        # UTF-8: it becomes "?".
        text = text[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8")
        return Heard(text, self.snapshot())

    def _store(self, heard: Heard, reply: str, draw: int | None) -> None:
        if self.store is not None:
            self.store.add_exchange(*self._exchange(heard, reply, draw))

    def _exchange(self, heard: Heard, reply: str, draw: int | None) -> tuple:
        """`Store.add_exchange`'s arguments for this exchange (the state after it)."""
        state, settings = pack_state(self._bot.state), turn_settings(self._bot, draw)
        return self.start(), heard.text, reply, state, settings

    def _keep(self, heard: Heard, reply: str) -> None:
        self._states.append(heard.before)
        self.history.append((heard.text, reply))

    def restore(self, heard: Heard) -> None:
        """Back to where the conversation was before the line `heard`."""
        self._bot.go_to(heard.before)

    def decoding_input(self) -> DecodingInput:
        """What the decoder needs to reply to the line just read."""
        bot = self._bot
        return DecodingInput(bot.decoder, bot.state, bot.memory, bot.settings, bot.slots.empty())

    def snapshot(self) -> Conversation:
        """Where the conversation is: its state and the slots' binding (a copy)."""
        return self._bot.where()

    def continue_from(self, snapshot: Conversation, transcript_id: int) -> None:
        """Go on from a `snapshot` taken in stored transcript `transcript_id`."""
        self._bot.go_to(snapshot)
        self.transcript_id = transcript_id

    def start(self, key: str | None = None) -> int:
        """The transcript's id, its header stored now if it has none yet (a server's
        conversation has an id, and its `key`, before its first exchange)."""
        assert self.store is not None
        if self.transcript_id is None:
            self.transcript_id = self.store.start_transcript(
                self.model_name, turn_settings(self._bot), key
            )
        return self.transcript_id

    def reset(self) -> None:
        """A new conversation: zero state, and the next exchange starts a new transcript."""
        self._bot.reset_hidden_state()
        self.history.clear()
        self._states.clear()
        self.transcript_id = None

    def undo(self) -> tuple[str, str] | None:
        """Forget the last exchange: its stored turns, its state and its history line."""
        if not self.history:
            return None
        if self.store is not None and self.transcript_id is not None:
            self.store.drop_last_exchange(self.transcript_id)
        self._bot.go_to(self._states.pop())
        return self.history.pop()

    def resume(self, transcript_id: int) -> None:
        """Continue a stored transcript with the state and settings it had after its
        last reply."""
        assert self.store is not None
        header, turns = self.store.transcript(transcript_id)
        if header["model"] != self.model_name:
            raise UsageError(
                f"transcript {transcript_id} was made with model {header['model']!r}, and its "
                f"state belongs to it; resume it with --model {header['model']}, or start a "
                f"new chat with {self.model_name}"
            )
        self.reset()
        self.transcript_id = transcript_id
        pairs = exchanges(turns)
        bots = [b for _, b in pairs]
        self.history = [(u.text, b.text) for u, b in pairs]
        cfg = self._bot.config
        after = [
            unpack_state(b.state, cfg.state_size, cfg.hidden_units)
            for b in bots
            if b.state is not None
        ]
        # The slots' binding is a function of the text: read it again, in order.
        slots = [self._bot.slots.copy()]
        for user, bot in self.history:
            self._bot.token_ids(user, user=True), self._bot.token_ids(bot)
            slots.append(self._bot.slots.copy())
        # The state before exchange i is the state after exchange i - 1 (zeros first).
        states = [self._bot.model.zero_state(1), *after[:-1]]
        self._states = [Conversation(*at) for at in zip(states, slots, strict=False)]
        if after:
            self._bot.go_to(Conversation(after[-1], slots[-1]))
        self.configure(bots[-1].settings if bots and bots[-1].settings else header["settings"])

    def record(self) -> dict:
        """This conversation in the ingestion format (one JSONL line)."""
        turns = [text for exchange in self.history for text in exchange]
        return jsonl.record(f"transcript-{self.transcript_id or 'unsaved'}", turns)
