"""How a reply step's scores over the vocabulary become its next word: n-gram
blocking, top-k / nucleus restriction, and drawing a sample. Pure functions
on [rows, vocab] tensors, used inside decode.py's compiled reply loop."""

from __future__ import annotations

from ._tf import tf

NEG_INF = -1e9  # the score of a word that must not be chosen
NUCLEUS_MAX = 256  # the most words nucleus (top-p) sampling keeps
DRAW_BLOCK = 128  # words per block when a sample is drawn (`draw`)


def block_ngrams(logits: tf.Tensor, generated: tf.Tensor, step: tf.Tensor, n: int) -> tf.Tensor:
    """Forbid any word that would repeat an n-gram already in the reply (rows x vocab)."""
    if n == 1:
        banned = generated
        valid = tf.range(tf.shape(generated)[1])[None, :] < step
    else:
        # Every earlier run of n - 1 words that equals the last n - 1 words bans
        # the word that followed it.
        starts = tf.range(tf.shape(generated)[1] - n + 1)
        prefix = tf.gather(generated, tf.maximum(step - n + 1, 0) + tf.range(n - 1), axis=1)
        runs = tf.gather(generated, starts[:, None] + tf.range(n - 1)[None, :], axis=1)
        matches = tf.reduce_all(tf.equal(runs, prefix[:, None, :]), axis=-1)
        valid = matches & (starts[None, :] + n - 1 < step) & (step >= n - 1)
        banned = tf.gather(generated, starts + n - 1, axis=1)
    hits = tf.one_hot(banned, tf.shape(logits)[-1]) * tf.cast(valid, tf.float32)[..., None]
    return tf.where(tf.reduce_max(hits, axis=1) > 0, NEG_INF, logits)


def draw(logits: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A sample from softmax(logits) per row, by inverting its cumulative distribution
    at one uniform number, in two levels: first the block of DRAW_BLOCK words whose
    cumulative probability reaches it, then the word within that block.

    The same distribution as tf.random.stateless_categorical and as argmax(logits
    + Gumbel noise), both slower under XLA on a CPU than the greedy step itself
    (docs/architecture.md, "Fast paths"): two short cumulative sums instead of
    one draw per word. A word of probability 0 (masked) is never drawn."""
    vocab = logits.shape[-1]
    blocks = -(-vocab // DRAW_BLOCK)
    weights = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
    weights = tf.reshape(
        tf.pad(weights, [[0, 0], [0, blocks * DRAW_BLOCK - vocab]]), [-1, blocks, DRAW_BLOCK]
    )
    block_totals = tf.reduce_sum(weights, axis=-1)
    uniform = _uniform(seed, tf.shape(logits)[0])
    block, within = _invert(block_totals, uniform)
    in_block = tf.gather(weights, block, batch_dims=1)
    word, _ = _invert(in_block, within)
    return block * DRAW_BLOCK + word


def _uniform(seed: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
    """[rows, 1] uniform numbers in (0, 1): all from one `seed` [2], or each row's from
    its own (`seed` [rows, 2]: conversations decoded side by side draw as they would
    alone, since a row's number is the first of its seed's stream either way)."""

    def one(s: tf.Tensor, n: tf.Tensor | int) -> tf.Tensor:
        return tf.random.stateless_uniform([n, 1], s, minval=1e-12, maxval=1.0, alg="philox")

    if seed.shape.rank == 1:
        return one(seed, rows)
    return tf.map_fn(lambda s: one(s, 1)[0], seed, fn_output_signature=tf.float32)


def _invert(weights: tf.Tensor, uniform: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """For rows of non-negative `weights` and a uniform number in (0, 1) per row: the
    index whose share of the cumulative weight holds it, and where in that share it
    fell, again in (0, 1). Scaled by the computed total, which rounding keeps from
    summing exactly: below it, so the index passed is always one of positive weight."""
    cumulative = tf.cumsum(weights, axis=-1)
    target = uniform * cumulative[:, -1:]
    index = tf.reduce_sum(tf.cast(cumulative < target, tf.int32), axis=-1)
    upto = tf.gather(cumulative, index, batch_dims=1)
    own = tf.gather(weights, index, batch_dims=1)
    position = (target[:, 0] - (upto - own)) / own
    return index, tf.clip_by_value(position, 1e-12, 1.0 - 1e-7)[:, None]


def restrict(logits: tf.Tensor, top_k: int, top_p: float) -> tf.Tensor:
    """Keep the `top_k` largest logits and the smallest set reaching probability `top_p`."""
    if 0 < top_k < logits.shape[-1]:  # a k beyond the vocabulary keeps every word
        kth = tf.math.top_k(logits, k=top_k).values[:, -1:]
        logits = tf.where(logits < kth, NEG_INF, logits)
    if top_p < 1.0:
        # Only the NUCLEUS_MAX likeliest words are sorted (a full sort of the vocabulary
        # every word was the sampled reply's slowest part); their
        # probabilities are under the whole vocabulary's softmax, so the nucleus is
        # exact unless it would hold more words than that.
        k = min(NUCLEUS_MAX, logits.shape[-1])
        ordered = tf.math.top_k(logits, k=k).values
        probs = tf.exp(ordered - tf.reduce_logsumexp(logits, axis=-1, keepdims=True))
        cumulative = tf.cumsum(probs, axis=-1, exclusive=True)
        cutoff = tf.reduce_min(
            tf.where(cumulative < top_p, ordered, -NEG_INF), axis=-1, keepdims=True
        )
        logits = tf.where(logits < cutoff, NEG_INF, logits)
    return logits
