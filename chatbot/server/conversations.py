"""The conversations a server holds over one loaded model: the library behind
`chatbot serve`, with no HTTP in it.

Two ways in:

- **Stored conversations** (`create`, `say`, `messages`, `reset`, `delete`):
  each is a transcript in the store, exactly like a REPL chat (`chatbot
  transcripts`, `replay` and `chat --resume` work on it), reached by a random
  key of 128 bits (`new_key`) that only its client knows: row ids can be
  counted through, keys cannot, and a REPL chat has none.
  At most `capacity` are kept in memory; the least recently used goes back to
  the store, and its last stored turn holds its state, so `Session.resume`
  brings it back exactly (after a server restart too).
- **A whole history per request** (`complete`, the OpenAI-style API): the
  client sends every message each time. The state after each reply is cached
  under a hash of the conversation so far, so the next request, which repeats
  it and adds one message, costs one exchange. On a miss (evicted, another
  server, a history the client edited) the history is read again from the
  start. Either way the exchanges are stored as a transcript.

Every method runs on one worker thread (the app sees to it): the model is not
shared between threads, and one conversation's reply never interleaves with
another's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from ..bot import Chatbot
from ..decode import DecodeSettings, chat_decoding
from ..errors import ChatbotError
from ..session import Session
from ..store import Store
from ..text import tokenize
from ..vocab import Slots
from .together import respond_together


class NotFound(ChatbotError):
    """No such conversation (HTTP 404)."""


class WrongModel(ChatbotError):
    """A conversation held with another model (HTTP 409)."""


@dataclass
class Cached:
    """Where a history left the model (`Session.snapshot`), and the transcript that holds it."""

    snapshot: tuple[list, Slots]
    transcript_id: int


@dataclass
class Completion:
    reply: str
    prompt_tokens: int  # the words read for this request (the history's, on a miss)
    completion_tokens: int
    truncated: bool  # the reply reached max_length
    transcript_id: int


def chain(previous: str, user: str, reply: str) -> str:
    """The key of a history one exchange longer than the one keyed `previous`."""
    return hashlib.sha256(json.dumps([previous, user, reply]).encode()).hexdigest()


class Conversations:
    def __init__(self, bot: Chatbot, store: Store, model_name: str, capacity: int = 256):
        self.bot, self.store, self.model_name = bot, store, model_name
        self.capacity = capacity
        self.live: OrderedDict[str, Session] = OrderedDict()
        self.cache: OrderedDict[str, Cached] = OrderedDict()

    # -- stored conversations --------------------------------------------------------

    def create(self) -> tuple[str, int]:
        """A new conversation: (its key, its transcript's id)."""
        session, key = self._new_session(), new_key()
        self._keep(key, session)
        return key, session.start(key)

    def messages(self, key: str) -> tuple[int, list[dict]]:
        """(transcript id, the conversation as OpenAI-style messages)."""
        transcript_id = self._transcript_id(key)
        _, turns = self.store.transcript(transcript_id)
        roles = {"user": "user", "bot": "assistant"}
        return transcript_id, [{"role": roles[t.role], "content": t.text} for t in turns]

    def reset(self, key: str) -> tuple[str, int]:
        """End the conversation (its transcript stays as it is) and start a new one,
        returned as `create` does: a transcript never holds two conversations."""
        self._session(key)
        self.live.pop(key, None)
        return self.create()

    def delete(self, key: str) -> None:
        transcript_id = self._transcript_id(key)
        self.live.pop(key, None)
        self.store.delete_transcript(transcript_id)

    # -- whole histories ---------------------------------------------------------------

    # -- replies due together ----------------------------------------------------------

    def together(self, requests: list[tuple[str, tuple]]) -> list[object]:
        """("say" | "complete", arguments) requests due at once, their replies decoded
        side by side (`respond_together`): each one's result, or its exception. Two
        lines for one conversation go in turn, in order."""
        results: list[object] = [None] * len(requests)
        waiting = list(range(len(requests)))
        while waiting:
            round_, busy, later = [], set(), []
            for i in waiting:
                kind, args = requests[i]
                key = args[0] if kind == "say" else ("complete", i)
                (later if key in busy else round_).append(i)
                busy.add(key)
            prepared = []
            for i in round_:
                kind, args = requests[i]
                try:
                    prepared.append((i, *getattr(self, f"_prepare_{kind}")(*args)))
                except Exception as exc:  # noqa: BLE001 - this request's, not the batch's
                    results[i] = exc
            replies = respond_together(
                [(session, text, draw) for _, session, text, draw, _ in prepared]
            )
            for (i, _, _, _, done), reply in zip(prepared, replies, strict=True):
                results[i] = reply if isinstance(reply, Exception) else done(reply)
            waiting = later
        return results

    def _prepare_say(self, key: str, text: str, overrides: dict, draw: int | None):
        session = self._session(key)
        self._configure(session, overrides)
        return session, text, _draw(draw), lambda reply: reply

    def _prepare_complete(
        self, history: list[tuple[str, str]], text: str, overrides: dict, draw: int | None
    ):
        keys = [""]
        for user, reply in history:
            keys.append(chain(keys[-1], user, reply))
        cached = self.cache.pop(keys[-1], None)  # taken: a second branch reads afresh
        session = self._new_session()
        self._configure(session, overrides)
        read = 0
        if cached is not None:
            session.continue_from(cached.snapshot, cached.transcript_id)
        else:
            for user, reply in history:
                session.take(user, reply)
                read += _words(user, reply)

        def done(answer: str) -> Completion:
            self._remember(chain(keys[-1], text, answer), session)
            words = len(tokenize(answer))
            truncated = words >= session.settings.max_length
            return Completion(answer, read + _words(text), words, truncated, session.start())

        return session, text, _draw(draw), done

    # -- the parts -----------------------------------------------------------------------

    def _new_session(self) -> Session:
        return Session(self.bot.fork(), self.store, self.model_name)

    def decoding(self, overrides: dict) -> dict:
        """The model's chat decoding with `overrides` (a request's), whole."""
        base = DecodeSettings().for_model(self.bot.config.max_len)
        settings = {**dataclasses.asdict(base), **chat_decoding(self.bot.chat_decoding, overrides)}
        DecodeSettings(**{k: v for k, v in settings.items() if k != "remember_state"})
        return settings

    def warm_up(self) -> None:
        """Compile the reply under the decoding a request gets by default."""
        self.bot.fork(self.decoding({})).warm_up()

    def warm_up_batches(self) -> None:
        """Compile replies side by side under that decoding for every batch size (~2 s
        each). Safe on a thread beside the model's: a server can listen meanwhile."""
        bot = self.bot.fork(self.decoding({}))
        bot.decoder.warm_up_batches(bot.settings)

    def _configure(self, session: Session, overrides: dict) -> None:
        """The model's chat decoding with `overrides`: each request says its own."""
        session.configure(self.decoding(overrides))

    def _transcript_id(self, key: str) -> int:
        found = self.store.transcript_by_key(key) if KEY.fullmatch(key) else None
        if found is None:
            raise NotFound(f"no conversation {key!r}")
        return found

    def _session(self, key: str) -> Session:
        if key in self.live:
            self.live.move_to_end(key)
            return self.live[key]
        transcript_id = self._transcript_id(key)
        header, _ = self.store.transcript(transcript_id)
        if header["model"] != self.model_name:
            raise WrongModel(
                f"conversation {key!r} was held with model {header['model']!r}; "
                f"this server runs {self.model_name!r} (start a new conversation)"
            )
        session = self._new_session()
        session.resume(transcript_id)
        self._keep(key, session)
        return session

    def _keep(self, key: str, session: Session) -> None:
        self.live[key] = session
        while len(self.live) > self.capacity:
            self.live.popitem(last=False)  # its state is in its last stored turn

    def _remember(self, key: str, session: Session) -> None:
        self.cache[key] = Cached(session.snapshot(), session.start())
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)


def new_key() -> str:
    """128 random bits, URL-safe: a conversation's name for its client alone."""
    return secrets.token_urlsafe(16)


KEY = re.compile(r"[A-Za-z0-9_-]{22}")


def _draw(draw: int | None) -> int:
    """The seed of a sampled reply: the client's, or a new one (stored either way)."""
    return random.getrandbits(31) if draw is None else draw


def _words(*texts: str) -> int:
    return sum(len(tokenize(t)) for t in texts)
