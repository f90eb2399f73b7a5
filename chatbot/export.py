"""A trained model as a TensorFlow SavedModel: one conversation turn per call, state in and out.

A serving process stays stateless: the client keeps the conversation's state
(a float32 tensor [state_size, hidden_units]; zeros start a conversation) and
sends it back with the next utterance. Each call does what `Chatbot.respond`
does: read the utterance from the state (from zeros when the model was trained
without `remember_state`), reply greedily, feed the reply into the state.

Signatures (see README, "Serving"):

- `serving_default(utterance: string[], state)`: raw text, tokenized in the
  graph by a close approximation of `chatbot.text.tokenize` (lower case,
  punctuation and English contractions split off);
- `reply_tokens(tokens: string[None], state)`: tokens from
  `chatbot.text.tokenize`, for exactly the library's behaviour.

Both return `reply` (the tokens joined by spaces), `reply_tokens` and `state`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ._tf import tf
from .bot import Chatbot
from .decode import DecodeSettings
from .errors import UsageError
from .files import replace_folder
from .vocab import END_ID, UNK_ID


def _crc_table() -> list[int]:
    """The CRC-32 (IEEE, reflected) lookup table, as zlib builds it."""
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def _crc32(word):
    """zlib.crc32 of a string tensor's bytes (`vocab.word_hash`), as an int64."""
    table = tf.constant(_CRC_TABLE, tf.int64)
    data = tf.cast(tf.io.decode_raw(word, tf.uint8), tf.int64)

    def step(c, byte):
        low = tf.bitwise.bitwise_and(tf.bitwise.bitwise_xor(c, byte), 0xFF)
        return tf.bitwise.bitwise_xor(tf.gather(table, low), tf.bitwise.right_shift(c, 8))

    crc = tf.foldl(step, data, initializer=tf.constant(0xFFFFFFFF, tf.int64))
    return tf.bitwise.bitwise_xor(crc, 0xFFFFFFFF)


def hashed_slot(word, slots):
    """The first free slot ("" holds none) from the word's hash on, or the hash's
    own slot when all are bound: `vocab.Slots._next_slot` with `by_hash`."""
    n_slots = tf.size(slots)
    start = tf.cast(tf.math.floormod(_crc32(word), tf.cast(n_slots, tf.int64)), tf.int32)
    order = tf.math.floormod(start + tf.range(n_slots), n_slots)
    free = tf.boolean_mask(order, tf.equal(tf.gather(slots, order), ""))
    return tf.cond(tf.size(free) > 0, lambda: free[0], lambda: start)


class TurnModule(tf.Module):
    def __init__(self, bot: Chatbot):
        super().__init__(name="chatbot_turn")
        cfg = bot.config
        self.model, self.decoder, self.remember = bot.model, bot.decoder, bot.remember_state
        self.max_len = cfg.max_len
        self.settings = DecodeSettings().for_model(cfg.max_len)
        # Keras 3 layers kept in lists are invisible to TensorFlow's object graph:
        # track the variables explicitly so the SavedModel holds them.
        self.variables_ = [w.value for w in bot.model.weights]
        self.words = tf.constant(bot.vocab.itos)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                self.words, tf.range(len(bot.vocab.itos), dtype=tf.int64)
            ),
            default_value=UNK_ID,
        )
        # The conversation's slots (vocab.Slots) travel with the state: the word each
        # slot holds ("" for none yet) and how many words were bound so far.
        self.first_slot = bot.vocab.slot_ids[0] if bot.vocab.slot_ids else 0
        self.n_slots = len(bot.vocab.slot_ids)
        self.user_slot_from = bot.slots.user_slot_from  # the user's rare words take slots
        self.by_hash = bot.slots.by_hash
        conversation = [
            tf.TensorSpec([cfg.state_size, cfg.hidden_units], tf.float32, name="state"),
            tf.TensorSpec([None], tf.string, name="slots"),
            tf.TensorSpec([], tf.int32, name="seen"),
        ]
        self.serving_default = tf.function(
            self._from_text,
            input_signature=[tf.TensorSpec([], tf.string, "utterance"), *conversation],
        )
        self.reply_tokens = tf.function(
            self._turn, input_signature=[tf.TensorSpec([None], tf.string, "tokens"), *conversation]
        )

    def _from_text(self, utterance, state, slots, seen):
        text = tf.strings.lower(utterance, encoding="utf-8")
        text = tf.strings.regex_replace(text, r"([.,!?;:()\"])", r" \1 ")
        text = tf.strings.regex_replace(text, r"(n't|'s|'m|'d|'re|'ve|'ll)\b", r" \1")
        return self._turn(tf.strings.split(text), state, slots, seen)

    def _encode(self, tokens, slots, seen):
        """The user's token ids, read through the slots as `vocab.Slots.encode(...,
        user=True)` does: a word a slot holds is that slot; a new unknown or rare
        one takes the next slot (`Slots._next_slot`)."""
        ids = tf.cast(self.table.lookup(tokens), tf.int32)
        if not self.n_slots:
            return ids, slots, seen

        def bind(i, ids, slots, seen):
            word = tokens[i]
            held = tf.cast(tf.where(tf.equal(slots, word))[:, 0], tf.int32)
            n = tf.cond(
                tf.size(held) > 0, lambda: held[0], lambda: self._next_slot(word, slots, seen)
            )
            new = tf.size(held) == 0
            slots = tf.tensor_scatter_nd_update(slots, [[n]], [word])
            ids = tf.tensor_scatter_nd_update(ids, [[i]], [self.first_slot + n])
            return ids, slots, seen + tf.cast(new, tf.int32)

        named = self._named(tokens, ids)

        def step(i, ids, slots, seen):
            ids, slots, seen = tf.cond(
                tf.equal(ids[i], UNK_ID) | named[i] | tf.reduce_any(tf.equal(slots, tokens[i])),
                lambda: bind(i, ids, slots, seen),
                lambda: (ids, slots, seen),
            )
            return i + 1, ids, slots, seen

        _, ids, slots, seen = tf.while_loop(
            lambda i, *_: i < tf.size(tokens), step, [tf.constant(0), ids, slots, seen]
        )
        return ids, slots, seen

    def _next_slot(self, word, slots, seen):
        """The slot a new word takes, as `vocab.Slots._next_slot` chooses it."""
        if not self.by_hash:
            return tf.math.floormod(seen, self.n_slots)
        return hashed_slot(word, slots)

    def _named(self, tokens, ids):
        """Which of `tokens` a user's statement names, as `vocab.Slots._named` finds
        them: read from the end, the last rare word of each sentence not ending "?"."""
        rare = ((ids >= self.user_slot_from) | tf.equal(ids, UNK_ID)) & (
            tf.strings.regex_full_match(tokens, r"[\pL\pN].*")
        )
        ends = tf.strings.regex_full_match(tokens, r"[.!?]")

        def step(carry, k):
            asks, found, _ = carry  # this sentence ends "?"; its last rare word is found
            asks = tf.where(ends[k], tf.equal(tokens[k], "?"), asks)
            found = tf.where(ends[k], False, found)
            return asks, found | rare[k], rare[k] & ~found & ~asks

        backwards = tf.range(tf.size(tokens) - 1, -1, -1)
        no = tf.constant(False)
        _, _, named = tf.scan(step, backwards, (no, no, no))
        return tf.reverse(named, [0])

    def _words(self, reply, slots):
        """(ids, words) of `reply` without the slots that hold no word, slots as words,
        and a word a slot holds as that slot (`vocab.Slots.bound`)."""
        if self.n_slots:
            held = tf.equal(tf.gather(self.words, reply)[:, None], slots[None, :])
            slot_of = self.first_slot + tf.argmax(tf.cast(held, tf.int32), 1, tf.int32)
            reply = tf.where(tf.reduce_any(held, 1), slot_of, reply)
        index = reply - self.first_slot
        is_slot = (index >= 0) & (index < self.n_slots)
        held = tf.gather(tf.concat([slots, [""]], 0), tf.where(is_slot, index, self.n_slots))
        keep = ~is_slot | tf.not_equal(held, "")
        words = tf.where(is_slot, held, tf.gather(self.words, reply))
        return tf.boolean_mask(reply, keep), tf.boolean_mask(words, keep)

    def _read(self, ids, state):
        """(memory, state) after reading `ids`; an empty utterance leaves the state as
        it was, with nothing to attend over."""
        return tf.cond(
            tf.size(ids) > 0,
            lambda: self.model.read(ids[None, :], state),
            lambda: (self.model.no_memory(1), state),
        )

    def _turn(self, tokens, state, slots, seen):
        slots = tf.concat([slots, tf.fill([tf.maximum(self.n_slots - tf.size(slots), 0)], "")], 0)
        slots = slots[: self.n_slots]  # a client's list, made the model's length
        ids, slots, seen = self._encode(tokens[: self.max_len], slots, seen)
        state = list(tf.unstack(state[:, None, :]))  # [state_size] x [1, hidden]
        memory, state = self._read(ids, self.model.carry(state, 1.0, self.remember))
        empty = self.first_slot + tf.cast(tf.where(tf.equal(slots, ""))[:, 0], tf.int32)
        generated = self.decoder.greedy_graph(state, memory, self.settings, empty)
        before_end = tf.cumsum(tf.cast(tf.equal(generated, END_ID), tf.int32)) == 0
        reply, words = self._words(tf.boolean_mask(generated, before_end), slots)
        _, state = self._read(reply, state)
        return {
            "reply": tf.strings.reduce_join(words, separator=" "),
            "reply_tokens": words,
            "state": tf.concat(state, axis=0),
            "slots": slots,
            "seen": seen,
        }


def export(bot: Chatbot, out: str | Path) -> Path:
    """Write `bot` as a SavedModel in `out` (which must not exist or be empty).

    It is written beside `out` and renamed into place once complete and flushed, so
    a crash never leaves a partial SavedModel that blocks the next export."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} is not empty; choose a new (or empty) folder for the SavedModel")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent} does not exist; create it or choose another folder")
    for stale in out.parent.glob(f".{out.name}.*.tmp"):  # from a killed export
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        module = TurnModule(bot)
        tf.saved_model.save(
            module,
            str(tmp),
            signatures={
                "serving_default": module.serving_default,
                "reply_tokens": module.reply_tokens,
            },
        )
        if out.exists():
            out.rmdir()  # empty, checked above
        replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
