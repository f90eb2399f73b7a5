"""The Keras encoder-decoder whose encoder state is carried between exchanges.

State is explicit: `encode(tokens, state)` takes the state to start from and
returns the state after reading the utterance; `decode(tokens, state)` runs
the decoder from it. Nothing uses Keras `stateful=True`, which would need a
fixed batch size and could only reset every row at once; here a caller zeroes
single rows by multiplying with a mask.

A state is a list of [batch, hidden_units] tensors: (h, c) per LSTM layer, or
h per GRU layer, bottom layer first. This module does no I/O.

The carried state is bounded: an LSTM's cell state c has no range of its own
(h = o * tanh(c) does), and with forget gates near 1 it grew with every
exchange of a long chat (the starter model: norm 0 -> 310 -> 555 -> 1031 over
7 exchanges), until every input got the same reply. `encode` scales each
row's c down to a root-mean-square of at most `CELL_RMS`, in training as in a
chat, so however long a conversation runs the state stays in the range the
model was trained on.

The encoder's gates start out remembering (`chrono_bias`, `memory_horizon`):
with Keras's initial forget bias a fact fades within a few words, no gradient
from a later question reaches it, and memory is learned slowly or not at all.
"""

from __future__ import annotations

import math

from ._tf import keras, tf
from .config import Config
from .vocab import PAD_ID

State = list[tf.Tensor]
# The encoder's outputs for the utterance just read, [batch, time, hidden], and its
# mask of real tokens, [batch, time]: what the decoder attends over.
Memory = tuple[tf.Tensor, tf.Tensor]

# tanh(c) is within 0.5% of +-1 beyond |c| = 3: a cell state beyond that adds
# nothing to h, only momentum for drift.
CELL_RMS = 3.0


class Seq2Seq(keras.Model):
    """Embedding -> stacked encoder RNN -> stacked decoder RNN -> vocabulary projection."""

    def __init__(self, config: Config, vocab_size: int, **kwargs: object):
        super().__init__(name="seq2seq", **kwargs)
        self.config = config
        self.vocab_size = vocab_size
        self.per_layer = 2 if config.cell == "lstm" else 1
        # One embedding for both sides: the encoder reads the decoder's words too
        # (the bot's own replies are fed back through the encoder in a chat).
        self.embedding = keras.layers.Embedding(vocab_size, config.embed_dim, name="embedding")
        self.encoder_rnns = self._stack("encoder")
        self.decoder_rnns = self._stack("decoder")
        h = config.hidden_units
        if config.attention:  # Luong et al. 2015, "general" score
            self.attention_score = keras.layers.Dense(h, use_bias=False, name="attention_score")
            # Linear, not Luong's tanh: with tanh and an untied output layer,
            # DailyDialog training stalled at the unigram level (perplexity
            # ~550 after 300 steps, 290 at a quarter of the learning rate)
            # while the same model without the tanh reached 102 at step 200.
            self.attention_combine = keras.layers.Dense(h, use_bias=False, name="attention_combine")
        self.projection = keras.layers.Dense(vocab_size, name="output_projection")

    def _stack(self, side: str) -> list:
        """`num_layers` recurrent layers named like "encoder_lstm_0", each returning its state."""
        rnn = keras.layers.LSTM if self.config.cell == "lstm" else keras.layers.GRU
        gates = {}
        horizon = self.config.memory_horizon
        if side == "encoder" and self.config.cell == "lstm" and horizon:
            gates = {"unit_forget_bias": False, "bias_initializer": chrono_bias(horizon)}
        return [
            rnn(
                self.config.hidden_units,
                return_sequences=True,
                return_state=True,
                name=f"{side}_{self.config.cell}_{i}",
                **gates,
            )
            for i in range(self.config.num_layers)
        ]

    def zero_state(self, batch_size: int | tf.Tensor) -> State:
        zeros = tf.zeros([batch_size, self.config.hidden_units])
        return [zeros] * self.config.state_size

    def _run(
        self, rnns: list, tokens: tf.Tensor, state: State, noise: tf.Tensor | None
    ) -> tuple[tf.Tensor, State]:
        # Padding is masked, so a row's state stops at its last real token and
        # an all-padding row (an empty slot) keeps its state unchanged.
        mask = tf.not_equal(tokens, PAD_ID)
        x = self.embedding(tokens)
        new_state: State = []
        for i, layer in enumerate(rnns):
            start = state[i * self.per_layer : (i + 1) * self.per_layer]
            x = self._drop(x, noise, i)
            x, *layer_state = layer(x, initial_state=start, mask=mask)
            new_state += layer_state
        return self._drop(x, noise, len(rnns)), new_state

    def _drop(self, x: tf.Tensor, noise: tf.Tensor | None, site: int) -> tf.Tensor:
        """Dropout on the decoder's connections between layers, never on the carried
        state (Zaremba et al., 2014). `noise` is a stateless seed, so a resumed run draws
        the same masks; None (evaluation, chatting) means no dropout."""
        seed = derive_noise(noise, site)
        if seed is None or not self.config.dropout:
            return x
        return tf.nn.experimental.stateless_dropout(x, self.config.dropout, seed)

    def encode(self, tokens: tf.Tensor, state: State) -> State:
        """Read `tokens` [batch, time] starting from `state`; return the (bounded)
        state after them."""
        return self.read(tokens, state)[1]

    def read(self, tokens: tf.Tensor, state: State) -> tuple[Memory, State]:
        """`encode`, also returning the utterance's memory for the decoder to attend over.

        The encoder has no dropout: it writes the conversation's memory, and on the
        context probe dropout there (0.1 or 0.3) left facts unlearned after 40 epochs.
        """
        outputs, new_state = self._run(self.encoder_rnns, tokens, state, None)
        return (outputs, tf.not_equal(tokens, PAD_ID)), self.bounded(new_state)

    def no_memory(self, batch_size: int | tf.Tensor) -> Memory:
        """The memory before any utterance was read: one masked slot."""
        units = self.config.hidden_units
        return tf.zeros([batch_size, 1, units]), tf.zeros([batch_size, 1], tf.bool)

    def bounded(self, state: State) -> State:
        """Each row's LSTM cell states scaled to an RMS of at most CELL_RMS (h, and a
        GRU's state, lie in [-1, 1] already)."""
        if self.per_layer == 1:
            return state
        limit = CELL_RMS * math.sqrt(self.config.hidden_units)
        return [tf.clip_by_norm(s, limit, axes=[1]) if i % 2 else s for i, s in enumerate(state)]

    def carry(self, state: State, keep: tf.Tensor | float, remember: bool | None = None) -> State:
        """The state an exchange starts from: when remembering (`remember`, by default
        the config's `remember_state`), the previous state where `keep` [batch, 1]
        is 1 and zeros where it is 0 (a new conversation); otherwise always zeros.
        Training, chat and export all start exchanges through here."""
        if not (self.config.remember_state if remember is None else remember):
            return [tf.zeros_like(s) for s in state]
        return [s * keep for s in state]

    def decode(
        self,
        tokens: tf.Tensor,
        state: State,
        memory: Memory,
        noise: tf.Tensor | None = None,
    ) -> tuple[tf.Tensor, State]:
        """Decoder outputs [batch, time, hidden] for inputs `tokens`, started from `state`
        and, with `attention`, attending over `memory` (the utterance being answered)."""
        hidden, state = self._run(self.decoder_rnns, tokens, state, noise)
        if self.config.attention:
            hidden = self._attend(hidden, memory)
        return hidden, state

    def decode_step(
        self, tokens: tf.Tensor, state: State, memory: Memory
    ) -> tuple[tf.Tensor, State]:
        """`decode` for one word per row, `tokens` [batch] -> hidden [batch, hidden]: the
        reply loop's step. An LSTM decoder runs its cells directly (`lstm_step`),
        without the layer's loop over time and its masking, which a reply's
        words never need."""
        if self.config.cell != "lstm":
            hidden, state = self.decode(tokens[:, None], state, memory)
            return hidden[:, -1], state
        x, new_state = self.embedding(tokens), []
        for i, layer in enumerate(self.decoder_rnns):
            x, c = lstm_step(layer.cell, x, *state[2 * i : 2 * i + 2])
            new_state += [x, c]
        if self.config.attention:
            x = self._attend(x[:, None], memory)[:, 0]
        return x, new_state

    def _attend(self, hidden: tf.Tensor, memory: Memory) -> tf.Tensor:
        """W_c [context; h] with context the softmax(h W_a s)-weighted sum of the
        memory's real positions (a large negative score masks padding; an all-padding
        row attends uniformly and adds no loss)."""
        outputs, mask = memory
        scores = tf.einsum("btd,bsd->bts", self.attention_score(hidden), outputs)
        scores += (1.0 - tf.cast(mask, scores.dtype))[:, None, :] * -1e9
        context = tf.einsum("bts,bsd->btd", tf.nn.softmax(scores), outputs)
        return self.attention_combine(tf.concat([context, hidden], axis=-1))

    def logits(
        self, hidden: tf.Tensor, dtype: tf.DType = tf.float32, compiled: bool = False
    ) -> tf.Tensor:
        """Scores over the vocabulary, float32; the projection's matmul takes its
        inputs in `dtype` (training passes bfloat16 where that is fast:
        training/steps.py). `compiled`: for XLA (the reply loop)."""
        kernel, bias = self.projection.kernel, self.projection.bias
        scores = tf.matmul(tf.cast(hidden, dtype), tf.cast(kernel, dtype))
        scores = tf.cast(scores, tf.float32)
        if compiled:
            # Subtracting the negated bias, not adding it: XLA fuses "matmul + bias"
            # into one slow generic loop, and leaves a subtraction's matmul to its
            # fast kernel. Not in training, where the subtraction's gradient would
            # negate all of [tokens, vocabulary] (docs/architecture.md, "Fast paths").
            return scores - (-bias)
        return scores + bias

    def checkpointable(self) -> tf.train.Checkpoint:
        """The weights keyed by their layer paths, for tf.train.Checkpoint.

        Keras 3 layers kept in Python lists are not part of TensorFlow's
        checkpoint object graph, so the weights are listed explicitly; the
        explicit layer names keep the keys stable.
        """
        return tf.train.Checkpoint(**{w.path.replace("/", "__"): w for w in self.weights})

    def build_weights(self) -> None:
        """Create every weight by running one tiny batch (Keras builds layers lazily)."""
        tokens = tf.ones([1, 2], dtype=tf.int32)
        memory, state = self.read(tokens, self.zero_state(1))
        hidden, _ = self.decode(tokens, state, memory)
        # `logits` reads the projection's weights, never calls it: build it here.
        self.projection.build((None, self.config.hidden_units))
        self.logits(hidden)


def lstm_step(cell, x: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Keras's LSTMCell.call (its default implementation, no dropout) for one step:
    the new h and c. The sums are written as differences because XLA fuses
    "matmul + add" into a generic loop that took 29 against 15 microseconds for the
    recurrent matmul of a reply's word (as in `Seq2Seq.logits`)."""
    z = tf.matmul(x, cell.kernel) - (-tf.matmul(h, cell.recurrent_kernel) - cell.bias)
    i, f, g, o = tf.split(z, 4, axis=1)
    gate = cell.recurrent_activation
    c = gate(f) * c + gate(i) * cell.activation(g)
    return gate(o) * cell.activation(c), c


def chrono_bias(horizon: int):
    """An LSTM bias initializer after chrono initialization (Tallec & Ollivier, 2018):
    forget-gate biases log(U(1, horizon - 1)) and input-gate biases their negative,
    so the units start out keeping what they hold over timescales up to `horizon`
    tokens. Keras's default (forget bias 1) keeps 73% a token: a fact is gone
    (0.73^50 < 1e-6) before any gradient from a question 50 tokens later can
    reach it."""

    def init(shape, dtype=None):
        units = shape[0] // 4  # Keras's gate order: input, forget, cell, output
        forget = tf.math.log(tf.random.uniform([units], 1.0, max(horizon - 1.0, 1.0)))
        return tf.cast(tf.concat([-forget, forget, tf.zeros([2 * units])], 0), dtype)

    return init


def derive_noise(noise: tf.Tensor | None, index: int) -> tf.Tensor | None:
    """A distinct stateless seed for each place that draws dropout masks (None stays None)."""
    return None if noise is None else tf.random.experimental.stateless_fold_in(noise, index)


def row_losses(
    model: Seq2Seq, hidden: tf.Tensor, targets: tf.Tensor, dtype: tf.DType = tf.float32
) -> tuple[tf.Tensor, tf.Tensor]:
    """Each row's summed cross-entropy over its non-padding targets [batch], and its
    count of them [batch]: the one place a reply's loss is computed (training,
    evaluation, the ablation and `Chatbot.score` all come here).

    Only real positions are projected onto the vocabulary: the projection is
    the largest matmul, and padding would waste it.
    """
    mask = tf.not_equal(targets, PAD_ID)
    batch = tf.shape(targets)[0]
    rows = tf.boolean_mask(tf.broadcast_to(tf.range(batch)[:, None], tf.shape(targets)), mask)
    logits = model.logits(tf.boolean_mask(hidden, mask), dtype)
    losses = cross_entropy(logits, tf.boolean_mask(targets, mask))
    counts = tf.reduce_sum(tf.cast(mask, tf.float32), axis=1)
    return tf.math.unsorted_segment_sum(losses, rows, batch), counts


@tf.custom_gradient
def cross_entropy(logits: tf.Tensor, labels: tf.Tensor):
    """-log softmax(logits)[label] per row, as tf.nn.sparse_softmax_cross_entropy_with_logits
    but with the softmax kept for the backward pass, which that fused kernel
    recomputes (docs/architecture.md, "Fast paths")."""
    top = tf.stop_gradient(tf.reduce_max(logits, -1, keepdims=True))
    exp = tf.exp(logits - top)
    total = tf.reduce_sum(exp, -1, keepdims=True)
    loss = tf.squeeze(tf.math.log(total) + top, -1) - tf.gather(logits, labels, batch_dims=1)

    def grad(upstream):
        # softmax * upstream, less upstream at each label: two passes over
        # [tokens, vocabulary] fewer than (softmax - one_hot) * upstream.
        rows = tf.range(tf.shape(labels)[0])
        scaled = exp * (upstream[:, None] / total)
        at_labels = tf.stack([rows, tf.cast(labels, rows.dtype)], axis=1)
        return tf.tensor_scatter_nd_sub(scaled, at_labels, upstream), None

    return loss, grad


def masked_loss_sum(
    model: Seq2Seq, hidden: tf.Tensor, targets: tf.Tensor, dtype: tf.DType = tf.float32
) -> tuple[tf.Tensor, tf.Tensor]:
    """Summed cross-entropy over all non-padding targets, and how many there were."""
    losses, counts = row_losses(model, hidden, targets, dtype)
    return tf.reduce_sum(losses), tf.reduce_sum(counts)
