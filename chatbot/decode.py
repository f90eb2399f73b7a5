"""Turning an encoder state into a reply, in one compiled call per reply.

The loop over words runs inside a `tf.function` (a `tf.while_loop` after
AutoGraph), so a reply costs one call from Python, not one per word. A
`Decoder` compiles one function per `DecodeSettings` the first time it is
used (or at `warm_up`) and reuses it for every later reply; the utterance
being answered is padded to the model's `max_len`, so every reply of a
setting has one shape and XLA compiles it once.

- greedy: the most likely word each step (`beam=1`, `temperature=0`);
- sampling: `temperature > 0`, optionally restricted to the `top_k` words or
  the smallest set whose probability reaches `top_p` (at most 256 words);
- sample-and-rank: `samples > 1` sampled replies drawn side by side, the one
  with the best length-normalised score kept (Adiwardana et al.'s Meena);
- beam search: `beam > 1` hypotheses, ranked by log-probability divided by
  the GNMT length penalty ((5 + length) / 6) ** `length_penalty`;
- all: `repetition_penalty` (> 1 makes words already in the reply less
  likely), `no_repeat_ngram` (no n-gram twice in a reply), `min_length`
  (no <end> before it) and `max_length`;
- all: `mmi` λ > 0 scores each of the first `mmi_tokens` words by
  log p(word | conversation) - λ log p(word), maximum mutual information in
  Li et al.'s (2016) anti-language-model form: words that any conversation
  would get ("i", "'m", "sorry") lose to words this one calls for. p(word) is
  the same decoder run from a zero state with nothing to attend over, as
  extra rows of the real one's decoder call over those first words.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._tf import tf
from .errors import ConfigError
from .model import Memory, Seq2Seq, State
from .vocab import END_ID, PAD_ID, START_ID, UNK_ID
from .word_choice import NEG_INF, block_ngrams, draw, restrict

# Upper bounds that keep one reply's memory and compile time small whatever is asked.
MAX_BEAM, MAX_LENGTH = 64, 1000


@dataclass(frozen=True)
class DecodeSettings:
    beam: int = 1
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram: int = 0
    length_penalty: float = 0.6
    min_length: int = 1
    max_length: int = 20
    mmi: float = 0.0
    mmi_tokens: int = 5
    samples: int = 1
    seed: int = 0

    def for_model(self, max_len: int) -> DecodeSettings:
        """These settings with replies as long as the model's utterances (`Config.max_len`)."""
        return replace(self, max_length=max_len)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value: Any = getattr(self, f.name)
            kind = type(f.default)
            # A decoding.json's "3" or true, or an inf/nan typed at /set: refused here,
            # not at the first reply.
            if type(value) is not kind and not (kind is float and type(value) is int):
                raise ConfigError(
                    f"{f.name} must be a{'n' if kind is int else ''} {kind.__name__}. "
                    f"Received: {f.name}={value!r}"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{f.name} must be a finite number. Received: {value}")
        checks = {  # name: (within range, the range in words)
            "beam": (1 <= self.beam <= MAX_BEAM, f"1 to {MAX_BEAM}"),
            "temperature": (self.temperature >= 0, ">= 0"),
            "top_k": (self.top_k >= 0, ">= 0 (0: off)"),
            "top_p": (0 < self.top_p <= 1, "in (0, 1]"),
            "repetition_penalty": (self.repetition_penalty > 0, "> 0 (1: off)"),
            "no_repeat_ngram": (self.no_repeat_ngram >= 0, ">= 0 (0: off)"),
            "min_length": (self.min_length >= 0, ">= 0"),
            "max_length": (1 <= self.max_length <= MAX_LENGTH, f"1 to {MAX_LENGTH}"),
            "mmi": (0 <= self.mmi <= 2, "0 to 2 (0: off)"),
            "mmi_tokens": (self.mmi_tokens >= 1, ">= 1"),
            "samples": (1 <= self.samples <= MAX_BEAM, f"1 to {MAX_BEAM}"),
        }
        for name, (ok, allowed) in checks.items():
            if not ok:
                raise ConfigError(
                    f"{name} must be {allowed}. Received: {name}={getattr(self, name)}"
                )
        if self.beam > 1 and self.temperature > 0:
            raise ConfigError(
                "choose beam search or sampling, not both (set temperature=0 or beam=1)"
            )
        if self.samples > 1 and self.temperature == 0:
            raise ConfigError(
                f"samples={self.samples} draws several replies to rank, which needs "
                "temperature > 0 (greedy would draw the same reply each time)"
            )


# What `chatbot chat` replies with unless told otherwise (the library's default,
# DecodeSettings(), stays greedy: evaluation and probes want the most likely
# reply). Chosen by scripts/choose_decoding.py on all of DailyDialog validation
# (docs/decoding.md): low-temperature sampling for variety, MMI over the
# first five words against the replies any input gets, and no reply under
# four words ("ok .", "thank you ."), for fewer stock replies at no cost in F1.
CHAT_DEFAULT = {"temperature": 0.3, "mmi": 0.5, "min_length": 4}


def chat_decoding(base: dict, chosen: dict) -> dict:
    """How a chat decodes; the one rule for `chat`, `replay` and `serve`. `base` is
    a stored turn's settings (resume, replay), else the model's measured decoding
    (`Chatbot.chat_decoding`: its decoding.json, else CHAT_DEFAULT); what the user
    chose (flags, a request's fields) goes on top, field by field. A beam search
    chosen means no sampling, unless a temperature was chosen too."""
    settings = {**base, **chosen}
    if chosen.get("beam", 1) > 1 and "temperature" not in chosen:
        settings["temperature"] = 0.0
    return settings


# The most conversations `replies` decodes in one call that it compiles ahead
# (`warm_up_batches`); a server takes at most this many at once.
MOST_ROWS = 32
# Compiled replies kept (each settings and batch size is one, a few MB): the oldest
# goes first, so a server's memory stays bounded whatever settings clients send.
MOST_COMPILED = 64


class Decoder:
    """Compiled encoding and reply decoding for one conversation (batch of 1)."""

    def __init__(self, model: Seq2Seq):
        self.model = model
        cfg = model.config
        self.state_spec = [tf.TensorSpec([1, cfg.hidden_units], tf.float32)] * cfg.state_size
        self.memory_spec = (
            tf.TensorSpec([1, None, cfg.hidden_units], tf.float32),
            tf.TensorSpec([1, None], tf.bool),
        )
        tokens = tf.TensorSpec([1, None], tf.int32)
        self.read = tf.function(self._read, input_signature=[tokens, self.state_spec])
        # Keyed by the settings (one conversation) or (settings, rows) (a batch).
        self._compiled: dict[object, tf.types.experimental.ConcreteFunction] = {}
        self._compiling = threading.Lock()  # `warm_up` may run in another thread
        self._calls = 0

    def reply(
        self,
        state: State,
        memory: Memory,
        settings: DecodeSettings,
        draw: int | None = None,
        banned: list[int] = (),  # type: ignore[assignment]
    ) -> list[int]:
        """Token ids of a reply to `state` and `memory` (without <end>); `state` is not
        changed. Sampling draws from the seed (settings.seed, `draw`); without a
        `draw`, each call draws anew. A stored chat keeps each reply's draw, so a
        replay samples the same reply. The reply never holds an id in `banned`
        (the slots that hold no word yet)."""
        self._calls += 1
        seed = tf.constant([settings.seed, self._calls if draw is None else draw], tf.int32)
        compiled = self._compiled_for(settings)
        penalty = self.penalty(tf.constant(list(banned), tf.int32))
        ids = [int(i) for i in compiled(state, self._padded(memory), seed, penalty).numpy()]
        return ids[: ids.index(END_ID)] if END_ID in ids else ids

    def replies(
        self,
        states: list[State],
        memories: list[Memory],
        settings: DecodeSettings,
        draws: list[int],
        banned: list[list[int]],
    ) -> list[list[int]]:
        """The replies of several conversations (row i: `states[i]`, `memories[i]`,
        `draws[i]`, `banned[i]`) in one compiled call, each as `reply` gives it alone.
        The word loop reads the weights once a word for all of them, so a batch of 8
        costs far less than 8 replies. Beam search and sample-and-rank reply one by one."""
        n = len(states)
        if n == 1 or settings.beam > 1 or settings.samples > 1:
            return [
                self.reply(*row, settings, d, b)
                for row, d, b in zip(zip(states, memories, strict=True), draws, banned, strict=True)
            ]
        rows = 1 << (n - 1).bit_length()  # a compile per power of two, not per count
        fill = list(range(n)) + [0] * (rows - n)  # spare rows repeat the first; dropped
        padded = [self._padded(m) for m in memories]
        state = [tf.concat([states[i][k] for i in fill], 0) for k in range(len(states[0]))]
        memory = tuple(tf.concat([padded[i][k] for i in fill], 0) for k in (0, 1))
        seeds = tf.constant([[settings.seed, draws[i]] for i in fill], tf.int32)
        penalty = self._penalties([banned[i] for i in fill])
        out = self._compiled_batch(settings, rows)(state, memory, seeds, penalty).numpy()
        ids = [[int(i) for i in row] for row in out[:n]]
        return [r[: r.index(END_ID)] if END_ID in r else r for r in ids]

    def warm_up_batches(self, settings: DecodeSettings) -> None:
        """Compile `replies` and `read_rows` under `settings` for every batch size (2, 4,
        ..., MOST_ROWS) now. XLA takes about 2 s a size: compiled as a server's load
        first makes each size, they were stalls of seconds at random. (Only for the
        decoding a server gives by default: other settings compile the size they need,
        so a client varying its temperature costs one size's compile, not all.)"""
        cfg, rows = self.model.config, 2
        while rows <= MOST_ROWS:
            zeros = self.model.zero_state(rows)
            self._read_graph(rows)(tf.ones([rows, cfg.max_len], tf.int32), zeros)
            words = tf.ones([rows, cfg.max_len], tf.bool)
            memory = (tf.zeros([rows, cfg.max_len, cfg.hidden_units]), words)
            seeds, penalty = tf.zeros([rows, 2], tf.int32), tf.zeros([rows, self.model.vocab_size])
            self._compiled_batch(settings, rows)(zeros, memory, seeds, penalty)
            rows *= 2

    def read_rows(
        self, utterances: list[list[int]], states: list[State]
    ) -> list[tuple[Memory, State]]:
        """`read` for several conversations (utterance i from `states[i]`; none empty)
        in one call: the encoder's weights are read once a token for all of them.
        Shorter rows are padded, and padding is masked, so each row gets what `read`
        gives it alone."""
        n = len(utterances)
        if n == 1:
            return [self.read(tf.constant(utterances, tf.int32), states[0])]
        rows = 1 << (n - 1).bit_length()  # a graph per power of two, as `replies`
        fill = list(range(n)) + [0] * (rows - n)  # spare rows repeat the first; dropped
        longest = max(len(ids) for ids in utterances)
        tokens = tf.constant(
            [utterances[i] + [PAD_ID] * (longest - len(utterances[i])) for i in fill]
        )
        state = [tf.concat([states[i][k] for i in fill], 0) for k in range(len(states[0]))]
        memory, new = self._read_graph(rows)(tokens, state)
        # One split per tensor: 200 eager slices took longer than the read itself.
        outputs, mask = (tf.split(x, rows) for x in memory)
        states_out = list(zip(*(tf.split(s, rows) for s in new), strict=True))
        return [((outputs[i], mask[i]), list(states_out[i])) for i in range(n)]

    def _read_graph(self, rows: int) -> tf.types.experimental.ConcreteFunction:
        # A fixed number of rows: with the rows left open, TensorFlow's graph of the
        # masked LSTM ran about ten times slower (docs/architecture.md).
        cfg = self.model.config
        signature = [
            tf.TensorSpec([rows, None], tf.int32),
            [tf.TensorSpec([rows, cfg.hidden_units], tf.float32)] * cfg.state_size,
        ]
        return self._cached(
            ("read", rows),
            lambda: tf.function(self._read, input_signature=signature).get_concrete_function(),
        )

    def _compiled_batch(
        self, settings: DecodeSettings, rows: int
    ) -> tf.types.experimental.ConcreteFunction:
        cfg = self.model.config
        signature = [
            [tf.TensorSpec([rows, cfg.hidden_units], tf.float32)] * cfg.state_size,
            (
                tf.TensorSpec([rows, None, cfg.hidden_units], tf.float32),
                tf.TensorSpec([rows, None], tf.bool),
            ),
            tf.TensorSpec([rows, 2], tf.int32),
            tf.TensorSpec([rows, self.model.vocab_size], tf.float32),
        ]
        return self._compile((settings, rows), self._batch, settings, signature)

    def warm_up(self, settings: DecodeSettings) -> None:
        """Compile reading and replying under `settings` ahead of the first reply (XLA
        takes seconds), on a made-up utterance as long as the model reads: padded,
        every real one has the same shape. Changes no state and no later draw."""
        cfg = self.model.config
        memory, state = self.read(tf.ones([1, cfg.max_len], tf.int32), self.model.zero_state(1))
        nothing = self.penalty(tf.zeros([0], tf.int32))
        self._compiled_for(settings)(state, memory, tf.zeros([2], tf.int32), nothing)

    def _compiled_for(self, settings: DecodeSettings) -> tf.types.experimental.ConcreteFunction:
        body = self._beam if settings.beam > 1 else self._sample
        signature = [
            self.state_spec,
            self.memory_spec,
            tf.TensorSpec([2], tf.int32),
            tf.TensorSpec([self.model.vocab_size], tf.float32),
        ]
        return self._compile(settings, body, settings, signature)

    def _compile(
        self, key: object, body, settings: DecodeSettings, signature: list
    ) -> tf.types.experimental.ConcreteFunction:
        """`body(state, memory, seed, settings, banned)` compiled once per `key`."""

        def build() -> tf.types.experimental.ConcreteFunction:
            return tf.function(
                lambda s, m, seed, banned: body(s, m, seed, settings, banned),
                input_signature=signature,
                jit_compile=True,  # XLA fuses the per-word ops
            ).get_concrete_function()  # called directly, past tf.function's dispatch

        return self._cached(key, build)

    def _cached(self, key: object, build) -> tf.types.experimental.ConcreteFunction:
        """`build()` once per `key`, kept among the MOST_COMPILED most recently used."""
        with self._compiling:
            if key in self._compiled:  # the most recently used goes last
                self._compiled[key] = self._compiled.pop(key)
            else:
                while len(self._compiled) >= MOST_COMPILED:  # settings come from clients
                    del self._compiled[next(iter(self._compiled))]  # the least recently used
                self._compiled[key] = build()
            return self._compiled[key]

    def _read(self, tokens: tf.Tensor, state: State) -> tuple[Memory, State]:
        """`Seq2Seq.read`, its memory padded (`_padded`) in the same graph: padding
        eagerly before each reply took 0.13 ms."""
        memory, state = self.model.read(tokens, state)
        return self._padded(memory), state

    def _padded(self, memory: Memory) -> Memory:
        """`memory` with masked slots up to a multiple of the model's utterance length
        (`Config.max_len`, where utterances are cut). XLA compiles a reply loop for
        each shape it is given, so a chat would pay a compile for every new utterance
        length. Masked slots get no attention, so replies are unchanged."""
        outputs, mask = memory
        if mask.shape[1] is not None and mask.shape[1] % self.model.config.max_len == 0:
            return memory  # as `read` gives it
        extra = tf.math.floormod(-tf.shape(mask)[1], self.model.config.max_len)
        return tf.pad(outputs, [[0, 0], [0, extra], [0, 0]]), tf.pad(mask, [[0, 0], [0, extra]])

    def greedy_graph(
        self, state: State, memory: Memory, settings: DecodeSettings, banned: tf.Tensor
    ) -> tf.Tensor:
        """The reply loop as graph ops (ids up to and including <end>), for embedding in
        another tf.function such as an exported SavedModel; not XLA-compiled. `banned`:
        ids the reply may not hold."""
        return self._sample(state, memory, tf.zeros([2], tf.int32), settings, self.penalty(banned))

    def penalty(self, banned: tf.Tensor) -> tf.Tensor:
        """[vocab]: NEG_INF at <unk>, <pad>, <start> and the `banned` ids, 0 elsewhere
        (a reply of "<unk>" says nothing, and an empty slot shows no word)."""
        never = tf.concat([[PAD_ID, START_ID, UNK_ID], banned], 0)
        hits = tf.one_hot(never, self.model.vocab_size)
        return tf.minimum(tf.reduce_sum(hits, axis=0), 1.0) * NEG_INF

    def _penalties(self, banned: list[list[int]]) -> tf.Tensor:
        """[rows, vocab]: `penalty` of each row's banned ids, built in numpy as one
        tensor (32 rows of eager one-hots took longer than decoding them)."""
        rows = np.zeros([len(banned), self.model.vocab_size], np.float32)
        rows[:, [PAD_ID, START_ID, UNK_ID]] = NEG_INF
        for row, ids in zip(rows, banned, strict=True):
            row[ids] = NEG_INF
        return tf.constant(rows)

    def _adjust(
        self,
        logits: tf.Tensor,
        generated: tf.Tensor,
        step: tf.Tensor,
        s: DecodeSettings,
        penalty: tf.Tensor,
    ) -> tf.Tensor:
        """Repetition penalty and minimum length, on logits [rows, vocab]; never an id
        the `penalty` [vocab] rules out."""
        logits += penalty
        if s.repetition_penalty != 1.0:
            seen = tf.reduce_max(tf.one_hot(generated, tf.shape(logits)[-1]), axis=1) > 0
            penalized = tf.where(
                logits > 0, logits / s.repetition_penalty, logits * s.repetition_penalty
            )
            logits = tf.where(seen, penalized, logits)
        if s.no_repeat_ngram > 0:
            logits = block_ngrams(logits, generated, step, s.no_repeat_ngram)
        if s.min_length > 0:
            too_early = tf.one_hot(END_ID, tf.shape(logits)[-1]) * NEG_INF
            logits = tf.cond(step < s.min_length, lambda: logits + too_early, lambda: logits)
        return logits

    def _next_logits(
        self, tokens: tf.Tensor, state: State, memory: Memory
    ) -> tuple[tf.Tensor, State]:
        hidden, state = self.model.decode_step(tokens, state, memory)
        return self.model.logits(hidden, compiled=True), state

    def _step(
        self,
        carry: dict,
        memory: Memory,
        step: tf.Tensor,
        s: DecodeSettings,
        with_lm: bool,
        penalty: tf.Tensor,
    ) -> tuple[tf.Tensor, State, State]:
        """Log-probabilities of the next word for each row of `carry` (adjusted, and with
        `with_lm` less λ log p(word): MMI-antiLM), the rows' new state and the language
        model's. Rows that are replies of their own (greedy, or one sample each) get
        them only up to a constant per row, which changes neither a row's argmax nor the
        softmax it is drawn from.

        p(word) is the decoder from a zero state with nothing to attend over,
        advanced by the same tokens. It runs as extra rows of the reply's own
        decoder call (`memory` then holds them too: `_with_lm_rows`), which costs
        little more than the reply's rows alone.
        """
        tokens, state, lm_state = carry["tokens"], carry["state"], carry["lm_state"]
        rows = tokens.shape[0]  # static, so the loop keeps its shapes
        if with_lm:
            both = [tf.concat([x, y], 0) for x, y in zip(state, lm_state, strict=True)]
            logits, both = self._next_logits(tf.concat([tokens, tokens], 0), both, memory)
            logits, lm_logits = logits[:rows], logits[rows:]
            state, lm_state = [x[:rows] for x in both], [x[rows:] for x in both]
        else:
            logits, state = self._next_logits(tokens, state, memory)
        logits = self._adjust(logits, carry["sequences"], step, s, penalty)
        if s.samples == 1 and s.beam == 1:  # no score to rank by: two log-softmaxes saved
            return (logits - s.mmi * lm_logits if with_lm else logits), state, lm_state
        anti = s.mmi * tf.nn.log_softmax(lm_logits) if with_lm else 0.0
        return tf.nn.log_softmax(logits) - anti, state, lm_state

    def _loop(self, carry: dict, memory: Memory, s: DecodeSettings, advance) -> dict:
        """`carry` after `advance(carry, memory, step, with_lm)` for each word, until every
        row has finished or `max_length`; MMI's language model only over the first
        words, in a loop of its own (one loop with a tf.cond inside slowed every word
        after them: docs/architecture.md, "Fast paths")."""
        lm_words = min(s.mmi_tokens, s.max_length) if s.mmi else 0
        for first, end, with_lm in [(0, lm_words, True), (lm_words, s.max_length, False)]:
            if end <= first:
                continue
            phase_memory = _with_lm_rows(memory) if with_lm else memory
            step = tf.constant(first)
            while step < end and not tf.reduce_all(carry["finished"]):
                carry = advance(carry, phase_memory, step, with_lm)
                step += 1
        return carry

    def _sample(
        self, state: State, memory: Memory, seed: tf.Tensor, s: DecodeSettings, penalty: tf.Tensor
    ) -> tf.Tensor:
        """Greedy or sampled: `samples` replies drawn side by side, the best-scored kept."""
        rows = s.samples
        state = [tf.tile(x, [rows, 1]) for x in state]
        reply = self._side_by_side(state, _tile_memory(memory, rows), seed, s, penalty)
        # Sample-and-rank (as Meena's): the draw the model scores best, ranked as
        # beam search ranks its hypotheses.
        best = _best(reply["scores"], reply["lengths"], s)
        return reply["sequences"][best, : reply["length"]]

    def _batch(
        self, state: State, memory: Memory, seeds: tf.Tensor, s: DecodeSettings, penalty: tf.Tensor
    ) -> tf.Tensor:
        """The replies [rows, length] of several conversations at once, one a row, each
        as `_sample` with one sample gives it (`seeds` [rows, 2], `penalty` [rows, vocab])."""
        reply = self._side_by_side(state, memory, seeds, s, penalty)
        return reply["sequences"][:, : reply["length"]]

    def _side_by_side(
        self, state: State, memory: Memory, seed: tf.Tensor, s: DecodeSettings, penalty: tf.Tensor
    ) -> dict:
        """Rows decoded side by side from `state` [rows, ...] and `memory`, until each
        says <end> (a finished row then adds padding)."""
        rows = state[0].shape[0]
        reply = {
            "tokens": tf.fill([rows], START_ID),
            "state": state,
            "lm_state": self.model.zero_state(rows),
            "sequences": tf.zeros([rows, s.max_length], tf.int32),
            "finished": tf.zeros([rows], tf.bool),
            "scores": tf.zeros([rows]),
            "lengths": tf.zeros([rows]),
            "length": tf.constant(0),
        }

        def advance(reply: dict, memory: Memory, step: tf.Tensor, with_lm: bool) -> dict:
            logp, state, lm_state = self._step(reply, memory, step, s, with_lm, penalty)
            if s.temperature == 0:
                token = tf.argmax(logp, axis=-1, output_type=tf.int32)
            else:
                token = draw(restrict(logp / s.temperature, s.top_k, s.top_p), seed + [0, step])
            finished = reply["finished"]
            token = tf.where(finished, PAD_ID, token)  # a finished reply stays as it is
            live = tf.cast(~finished, tf.float32)
            column = tf.stack([tf.range(rows), tf.fill([rows], step)], axis=1)
            return {
                "tokens": token,
                "state": state,
                "lm_state": lm_state,
                "sequences": tf.tensor_scatter_nd_update(reply["sequences"], column, token),
                "finished": finished | (token == END_ID),
                "scores": reply["scores"] + live * tf.gather(logp, token, batch_dims=1),
                "lengths": reply["lengths"] + live,
                "length": step + 1,
            }

        return self._loop(reply, memory, s, advance)

    def _beam(
        self, state: State, memory: Memory, seed: tf.Tensor, s: DecodeSettings, penalty: tf.Tensor
    ) -> tf.Tensor:
        width = s.beam
        beams = {
            "tokens": tf.fill([width], START_ID),
            "state": [tf.tile(x, [width, 1]) for x in state],
            "lm_state": self.model.zero_state(width),
            "sequences": tf.zeros([width, s.max_length], tf.int32),
            # Only the first beam is live at the start, so the beams do not all pick
            # the same word.
            "scores": tf.concat([[0.0], tf.fill([width - 1], NEG_INF)], axis=0),
            "finished": tf.zeros([width], tf.bool),
            "lengths": tf.zeros([width], tf.float32),
        }

        def advance(beams: dict, memory: Memory, step: tf.Tensor, with_lm: bool) -> dict:
            """Each beam extended by every word, the `beam` best kept."""
            logp, state, lm_state = self._step(beams, memory, step, s, with_lm, penalty)
            vocab = tf.shape(logp)[-1]
            # A finished beam may only extend itself with <end>, at no cost.
            only_end = tf.one_hot(END_ID, vocab, on_value=0.0, off_value=NEG_INF)
            logp = tf.where(beams["finished"][:, None], only_end[None, :], logp)
            flat_scores = tf.reshape(beams["scores"][:, None] + logp, [-1])
            top_scores, flat = tf.math.top_k(flat_scores, k=width)
            parent, tokens = flat // vocab, tf.cast(flat % vocab, tf.int32)
            step_column = tf.stack([tf.range(width), tf.fill([width], step)], axis=1)
            was_finished = tf.gather(beams["finished"], parent)
            return {
                "tokens": tokens,
                "state": [tf.gather(x, parent) for x in state],
                "lm_state": [tf.gather(x, parent) for x in lm_state],
                "sequences": tf.tensor_scatter_nd_update(
                    tf.gather(beams["sequences"], parent), step_column, tokens
                ),
                "scores": top_scores,
                "finished": was_finished | (tokens == END_ID),
                "lengths": tf.gather(beams["lengths"], parent) + tf.cast(~was_finished, tf.float32),
            }

        beams = self._loop(beams, _tile_memory(memory, width), s, advance)
        return beams["sequences"][_best(beams["scores"], beams["lengths"], s)]


def _tile_memory(memory: Memory, rows: int) -> Memory:
    return tf.tile(memory[0], [rows, 1, 1]), tf.tile(memory[1], [rows, 1])


def _with_lm_rows(memory: Memory) -> Memory:
    """`memory` followed by as many rows of the language model's: all masked, which
    attends to nothing (context 0, as model.no_memory)."""
    return tuple(tf.concat([m, tf.zeros_like(m)], 0) for m in memory)


def _best(scores: tf.Tensor, lengths: tf.Tensor, s: DecodeSettings) -> tf.Tensor:
    """The row with the best log-probability over the GNMT length penalty."""
    penalty = tf.pow((5.0 + lengths) / 6.0, s.length_penalty)
    return tf.argmax(scores / penalty, output_type=tf.int32)
