"""`Chatbot`: a trained model you can talk to, carrying the conversation's state.

    bot = Chatbot.load("movies")       # a registered model name or a model folder
    bot.respond("hi , how are you ?")  # reads, replies, feeds the reply into the state
    bot.observe("a scripted turn")     # feeds an utterance without replying
    bot.reset_hidden_state()           # a new conversation

With `remember_state = False` the state is reset before every exchange, which
is how a single-turn seq2seq bot behaves.

A `Chatbot` is one conversation with a model. Another conversation with the
same weights is `bot.fork()`; where one stands between exchanges is a value,
`bot.where()`, that `bot.go_to()` returns to (undo, a failed exchange, a
server's cached conversation); how it decodes changes through `decode_as()`.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import NamedTuple

from ._tf import tf
from .config import Config
from .decode import CHAT_DEFAULT, Decoder, DecodeSettings
from .encoding import encode_utterance
from .errors import ChatbotError, ModelError
from .model import Memory, Seq2Seq, State, row_losses
from .model_folder import STARTER, ModelDir
from .store import Store
from .text import detokenize
from .vocab import END_ID, START_ID, Slots, Vocab


class Conversation(NamedTuple):
    """Where a conversation stands between exchanges: the state it carries and the
    slots' binding (`vocab.Slots`). A value: `Chatbot.where()` copies them out."""

    state: list
    slots: Slots


class Chatbot:
    def __init__(self, model: Seq2Seq, vocab: Vocab, path: Path | None = None):
        self.model, self.vocab, self.path = model, vocab, path
        self.config: Config = model.config
        self.remember_state: bool = self.config.remember_state
        self.decoder = Decoder(model)
        self.settings = DecodeSettings().for_model(self.config.max_len)
        # How `chatbot chat` decodes a new conversation: the model's own measured
        # decoding (decoding.json) where it has one, else the measured default.
        self.chat_decoding: dict = dict(CHAT_DEFAULT)
        self.state: State = self.model.zero_state(1)
        self.memory: Memory = self.model.no_memory(1)
        # The conversation's unknown words, bound to slots as they are read (vocab.Slots).
        self.slots = Slots.for_model(vocab, self.config)

    @classmethod
    def load(cls, name_or_path: str | Path, db: str | Path | None = None) -> Chatbot:
        """Load a model folder, "starter" (the model shipped with the package), or the
        model registered under that name in the store."""
        folder = STARTER if str(name_or_path) == "starter" else Path(name_or_path)
        if not (folder / "config.json").is_file():
            with Store(db) as store:
                folder = Path(store.model(str(name_or_path)).path)
        model_dir = ModelDir(folder)
        config, vocab = model_dir.load()
        found = model_dir.checkpoint("best") or model_dir.checkpoint("last")
        if found is None:
            raise ModelError(f"{folder} has no checkpoint yet; train it first")
        model = Seq2Seq(config, len(vocab))
        model.build_weights()
        # Only the model's weights: the optimizer slots in the checkpoint are not needed here.
        target = tf.train.Checkpoint(model=model.checkpointable())
        status = ModelDir.read_tf(target, str(found / "ckpt"), len(vocab))
        try:
            status.expect_partial().assert_existing_objects_matched()
        except AssertionError:
            raise ModelError(
                f"{found}: the checkpoint does not match config.json; retrain"
            ) from None
        bot = cls(model, vocab, folder)
        chat = model_dir.chat_decoding()
        if chat is not None:
            try:
                DecodeSettings(**chat)
            except (TypeError, ChatbotError) as exc:  # an unknown key, or a bad value
                raise ModelError(f"{folder / 'decoding.json'}: {exc}") from None
            bot.chat_decoding = chat
        return bot

    def fork(self, decoding: dict | None = None) -> Chatbot:
        """Another conversation with the same model, decoding as this one does with
        `decoding`'s changes (`decode_as`): it shares the weights and the compiled
        decoder (no second compile) and has its own state, slots and settings."""
        other = copy.copy(self)
        other.chat_decoding = dict(self.chat_decoding)
        other.reset_hidden_state()
        other.decode_as(decoding or {})
        return other

    def decoding(self) -> dict:
        """How this conversation decodes and remembers: the DecodeSettings fields and
        `remember_state` (what a stored turn records)."""
        return {**dataclasses.asdict(self.settings), "remember_state": self.remember_state}

    def decode_as(self, decoding: dict) -> None:
        """Decode and remember as `decoding` says (`decoding()`'s keys; others, such as
        a stored turn's "draw", are ignored). A bad value raises ConfigError and
        changes nothing."""
        fields = {f.name for f in dataclasses.fields(DecodeSettings)}
        self.settings = dataclasses.replace(
            self.settings, **{k: v for k, v in decoding.items() if k in fields}
        )
        if "remember_state" in decoding:
            self.remember_state = bool(decoding["remember_state"])

    def where(self) -> Conversation:
        """Where the conversation stands (a copy: later exchanges leave it as it is)."""
        return Conversation(list(self.state), self.slots.copy())

    def go_to(self, at: Conversation) -> None:
        """Carry on from `at` (a `where()`), as if nothing had been said since."""
        self.state, self.slots = list(at.state), at.slots.copy()

    def reset_hidden_state(self) -> None:
        """Forget the conversation: the next utterance starts from zeros."""
        self.state = self.model.zero_state(1)
        self.memory = self.model.no_memory(1)
        self.slots = Slots.for_model(self.vocab, self.config)

    def token_ids(self, text: str, user: bool = False) -> list[int]:
        """`text` as the model reads it: token ids, cut to max_len; its new unknown
        words (and the `user`'s rare ones) take the conversation's next slots."""
        return encode_utterance(text, self.slots, self.config.max_len, user)

    def words(self, ids: list[int]) -> str:
        """Reply ids as text, each slot shown as the word it holds."""
        return detokenize(self.slots.decode(ids))

    def read(self, ids: list[int]) -> None:
        """Feed one utterance, as token ids, into the state (reset first without memory)."""
        _read_together([self], [ids], fresh=True)

    def observe(self, text: str) -> None:
        """Feed one utterance into the state without replying."""
        self.listen(text)

    def forget_unless_remembering(self) -> None:
        """Without memory every exchange is a conversation of its own: the slots too
        start empty, or a slot's number would tell what was said before."""
        if not self.remember_state:
            self.slots = Slots.for_model(self.vocab, self.config)

    def reply_ids(self, draw: int | None = None) -> list[int]:
        """The reply to the current state under `self.settings`, without <end>
        (`draw`: see Decoder.reply), never an empty slot. The state is left unchanged."""
        return self.decoder.reply(self.state, self.memory, self.settings, draw, self.slots.empty())

    def warm_up(self) -> None:
        """Compile the reply for the current settings now rather than at the first reply."""
        self.decoder.warm_up(self.settings)

    def score(self, reply: str) -> tuple[float, int]:
        """(summed negative log-likelihood, tokens) of `reply` and <end> given the current state."""
        ids = self.token_ids(reply)[: self.config.max_len - 1]
        inputs = tf.constant([[START_ID, *ids]], tf.int32)
        targets = tf.constant([[*ids, END_ID]], tf.int32)
        hidden, _ = self.model.decode(inputs, self.state, self.memory)
        loss, _ = row_losses(self.model, hidden, targets)
        return float(loss[0]), len(ids) + 1

    def detokenized_reply(self, draw: int | None = None) -> str:
        """The reply to the current state as text, without changing the state."""
        return self.words(self.reply_ids(draw))

    def respond(self, text: str, draw: int | None = None) -> str:
        """Read `text`, reply, and feed the reply into the state (`follow`)."""
        self.listen(text)
        return self.answer(self.reply_ids(draw))

    def listen(self, text: str) -> None:
        """Read `text` as the utterance to reply to: the first half of `respond`
        (the reply may be decoded beside other conversations': Decoder.replies)."""
        self.forget_unless_remembering()
        self.read(self.token_ids(text, user=True))

    def answer(self, ids: list[int]) -> str:
        """Say reply `ids` to the utterance just read: the second half of `respond`.
        Feeds them into the state; returns their text."""
        ids = self.slots.bound(ids)
        self.follow(ids)
        return self.words(ids)

    def wording(self, reply: str) -> list[int]:
        """`reply` as ids the bot could have said (a history a client sends)."""
        return self.token_ids(reply)[: self.config.max_len - 1]

    def follow(self, ids: list[int]) -> None:
        """Feed the reply to the utterance just read into the state, on from that
        utterance (never reset before it, even without memory: the next `read`
        does that), as training reads a conversation's next utterance."""
        _read_together([self], [ids])  # like any utterance: the next `read` replaces the memory


# -- several conversations at once (a server's replies due together) -------------------


def listen_together(bots: list[Chatbot], texts: list[str]) -> None:
    """`listen` for each of `bots` (forks of one model) to its text, the utterances
    read side by side in one call (`Decoder.read_rows`)."""
    for bot in bots:
        bot.forget_unless_remembering()
    utterances = [b.token_ids(t, user=True) for b, t in zip(bots, texts, strict=True)]
    _read_together(bots, utterances, fresh=True)


def answer_together(bots: list[Chatbot], replies: list[list[int]]) -> list[str]:
    """`answer` for each of `bots` with its reply ids, read side by side in one call."""
    replies = [b.slots.bound(ids) for b, ids in zip(bots, replies, strict=True)]
    _read_together(bots, replies)
    return [b.words(ids) for b, ids in zip(bots, replies, strict=True)]


def _read_together(bots: list[Chatbot], utterances: list[list[int]], fresh: bool = False) -> None:
    """Feed utterance i into bot i, all in one call. A `fresh` utterance starts an
    exchange: the state is carried (zeros without memory) and an empty one leaves no
    memory; otherwise (a reply) an empty one changes nothing."""
    if fresh:
        for bot, ids in zip(bots, utterances, strict=True):
            if not bot.remember_state:  # remembering, `carry` keeps the state as it is
                bot.state = bot.model.carry(bot.state, 1.0, False)
            if not ids:
                bot.memory = bot.model.no_memory(1)
    # Eager ops cost ~0.1 ms each: per-conversation ones would outweigh the read.
    rows = [i for i, ids in enumerate(utterances) if ids]
    if not rows:
        return
    read = bots[rows[0]].decoder.read_rows(
        [utterances[i] for i in rows], [bots[i].state for i in rows]
    )
    for i, (memory, state) in zip(rows, read, strict=True):
        bots[i].memory, bots[i].state = memory, state
