"""The conversations a server holds over one loaded model: the library behind
`chatbot serve`, with no HTTP in it.

Two ways in:

- **Stored conversations** (`create`, `say`, `messages`, `reset`, `delete`):
  each is a transcript in the store, its id the transcript's, exactly like a
  REPL chat (`chatbot transcripts`, `replay` and `chat --resume` work on it).
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
from collections import OrderedDict
from dataclasses import dataclass

from ..bot import Chatbot
from ..decode import DecodeSettings
from ..errors import ChatbotError, StoreError
from ..session import Session
from ..store import Store
from ..text import tokenize
from ..vocab import Slots


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
        self.live: OrderedDict[int, Session] = OrderedDict()
        self.cache: OrderedDict[str, Cached] = OrderedDict()

    # -- stored conversations --------------------------------------------------------

    def create(self) -> int:
        session = self._new_session()
        self._keep(session.start(), session)
        return session.start()

    def say(self, conversation_id: int, text: str, overrides: dict, draw: int | None) -> str:
        session = self._session(conversation_id)
        self._configure(session, overrides)
        return session.respond(text, draw)

    def messages(self, conversation_id: int) -> list[dict]:
        """The conversation as OpenAI-style messages."""
        _, turns = self._transcript(conversation_id)
        return [
            {"role": "user" if t.role == "user" else "assistant", "content": t.text} for t in turns
        ]

    def reset(self, conversation_id: int) -> int:
        """End the conversation (its transcript stays as it is) and start a new one,
        whose id is returned: a stored transcript never holds two conversations."""
        self._session(conversation_id)
        self.live.pop(conversation_id, None)
        return self.create()

    def delete(self, conversation_id: int) -> None:
        self._transcript(conversation_id)
        self.live.pop(conversation_id, None)
        self.store.delete_transcript(conversation_id)

    # -- whole histories ---------------------------------------------------------------

    def complete(
        self, history: list[tuple[str, str]], text: str, overrides: dict, draw: int | None
    ) -> Completion:
        """Reply to `text` after `history` ((user, reply) pairs, as the client has them)."""
        keys = [""]
        for user, reply in history:
            keys.append(chain(keys[-1], user, reply))
        cached = self.cache.pop(keys[-1], None)  # taken: a second branch reads afresh
        session = self._new_session()
        read = 0
        if cached is not None:
            session.continue_from(cached.snapshot, cached.transcript_id)
        else:
            self._configure(session, {})
            for user, reply in history:
                session.take(user, reply)
                read += _words(user, reply)
        self._configure(session, overrides)
        answer = session.respond(text, draw)
        self._remember(chain(keys[-1], text, answer), session)
        words = len(tokenize(answer))
        return Completion(
            answer,
            read + _words(text),
            words,
            words >= session.settings.max_length,
            session.start(),
        )

    # -- the parts -----------------------------------------------------------------------

    def _new_session(self) -> Session:
        return Session(self.bot.fork(), self.store, self.model_name)

    def _configure(self, session: Session, overrides: dict) -> None:
        """The model's chat decoding with `overrides`: each request says its own."""
        base = DecodeSettings().for_model(self.bot.config.max_len)
        settings = {**dataclasses.asdict(base), **self.bot.chat_decoding, **overrides}
        DecodeSettings(**{k: v for k, v in settings.items() if k != "remember_state"})
        session.configure(settings)

    def _transcript(self, conversation_id: int) -> tuple[dict, list]:
        try:
            return self.store.transcript(conversation_id)
        except StoreError:
            raise NotFound(f"no conversation {conversation_id}") from None

    def _session(self, conversation_id: int) -> Session:
        if conversation_id in self.live:
            self.live.move_to_end(conversation_id)
            return self.live[conversation_id]
        header, _ = self._transcript(conversation_id)
        if header["model"] != self.model_name:
            raise WrongModel(
                f"conversation {conversation_id} was held with model {header['model']!r}; "
                f"this server runs {self.model_name!r} (start a new conversation)"
            )
        session = self._new_session()
        session.resume(conversation_id)
        self._keep(conversation_id, session)
        return session

    def _keep(self, conversation_id: int, session: Session) -> None:
        self.live[conversation_id] = session
        while len(self.live) > self.capacity:
            self.live.popitem(last=False)  # its state is in its last stored turn

    def _remember(self, key: str, session: Session) -> None:
        self.cache[key] = Cached(session.snapshot(), session.start())
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)


def _words(*texts: str) -> int:
    return sum(len(tokenize(t)) for t in texts)
