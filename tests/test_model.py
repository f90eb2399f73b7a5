"""Tier 2: tiny models, seconds each. The carried state, masking, checkpoints, resume."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.tf

tf = pytest.importorskip("tensorflow")

from chatbot.config import Config, RunConfig  # noqa: E402
from chatbot.corpora.base import Prompt  # noqa: E402
from chatbot.encoding import Exchange as X  # noqa: E402
from chatbot.encoding import encoded_conversations  # noqa: E402
from chatbot.model import Seq2Seq, cross_entropy, masked_loss_sum  # noqa: E402
from chatbot.training.steps import Trainer  # noqa: E402
from chatbot.training.streams import bucketed, windows  # noqa: E402
from chatbot.vocab import Vocab  # noqa: E402
from tests.conftest import WORDS  # noqa: E402

TINY = Config(embed_dim=8, hidden_units=16, vocab_size=64, min_count=1, max_len=8)
RUN = RunConfig(batch_size=2, bptt=4, epochs=2, seed=3)
VOCAB = Vocab(WORDS)


def ids(text: str) -> list[int]:
    return VOCAB.encode(text.split())


def window_of(rows: list[list[tuple[str, str, bool]]], config: Config):
    """A window from explicit (source, reply, reset) steps per row."""
    convs = [[(ids(s), ids(t)) for s, t, _ in row] for row in rows]
    src_len = max(len(s) for row in convs for s, _ in row)
    tgt_len = 1 + max(len(t) for row in convs for _, t in row)
    b, k = len(rows), len(rows[0])
    source = np.zeros((b, k, src_len), np.int32)
    t_in = np.zeros((b, k, tgt_len), np.int32)
    t_out = np.zeros((b, k, tgt_len), np.int32)
    reset = np.array([[float(r) for _, _, r in row] for row in rows], np.float32)
    for i, row in enumerate(convs):
        for j, (s, t) in enumerate(row):
            source[i, j, : len(s)] = s
            t_in[i, j, : len(t) + 1] = [1, *t]
            t_out[i, j, : len(t) + 1] = [*t, 2]
    return source, t_in, t_out, reset


WITHOUT_ATTENTION = TINY.replace(attention=False)


@pytest.mark.parametrize("config", [WITHOUT_ATTENTION, TINY], ids=["plain", "attention"])
def test_padding_changes_neither_state_nor_loss(config):
    model = Seq2Seq(config, len(VOCAB))
    model.build_weights()
    short = tf.constant([ids("how are you")], tf.int32)
    padded = tf.constant([ids("how are you") + [0, 0, 0]], tf.int32)
    (m1, s1), (m2, s2) = (model.read(x, model.zero_state(1)) for x in (short, padded))
    np.testing.assert_allclose(s1[0], s2[0], atol=1e-6)
    target = tf.constant([ids("fine thanks") + [2]], tf.int32)
    target_padded = tf.concat([target, tf.zeros([1, 4], tf.int32)], axis=1)
    h1, _ = model.decode(tf.constant([[1, *ids("fine thanks")]]), s1, m1)
    # The padded source's memory: attention must ignore its padding too.
    h2, _ = model.decode(
        tf.concat([tf.constant([[1, *ids("fine thanks")]]), tf.zeros([1, 4], tf.int32)], 1), s1, m2
    )
    l1, n1 = masked_loss_sum(model, h1, target)
    l2, n2 = masked_loss_sum(model, h2, target_padded)
    assert float(n1) == float(n2) == 3.0
    np.testing.assert_allclose(float(l1), float(l2), rtol=1e-6)


@pytest.mark.parametrize("attention", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("embed", [8, 16])
def test_config_counts_the_weights_keras_makes(attention, cell, embed):
    config = TINY.replace(attention=attention, cell=cell, embed_dim=embed, num_layers=2)
    model = Seq2Seq(config, config.vocab_size)
    model.build_weights()
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == config.parameters


def test_attention_reads_the_utterance_being_answered():
    """With attention, the reply's first word depends on the memory even when the
    state is the same."""
    model = Seq2Seq(TINY, len(VOCAB))
    model.build_weights()
    state = model.zero_state(1)
    start = tf.constant([[1]], tf.int32)
    (m1, _), (m2, _) = (model.read(tf.constant([ids(t)]), state) for t in ("hi bob", "what day"))
    h1, _ = model.decode(start, state, m1)
    h2, _ = model.decode(start, state, m2)
    assert not np.allclose(h1, h2, atol=1e-6)


def test_row_reset_mid_batch_equals_that_conversation_alone():
    trainer = Trainer(TINY, RUN, VOCAB)
    # Row 0 starts a new conversation at step 2 (reset); row 1 runs on undisturbed.
    mixed = window_of(
        [
            [
                ("hi", "hello", True),
                ("how are you", "fine", False),
                ("what is your name", "bob", True),
                ("nice day", "thanks", False),
            ],
            [
                ("hello", "hi", True),
                ("nice day", "fine", False),
                ("how are you", "thanks", False),
                ("hi", "bob", False),
            ],
        ],
        TINY,
    )
    _, _, state_mixed = trainer._forward(*map(tf.constant, mixed), trainer.zero_state())
    # The same row-0 conversation, alone from its first exchange (other row: the same).
    alone = window_of(
        [
            [
                ("what is your name", "bob", True),
                ("nice day", "thanks", False),
                ("hi", "hi", False),
                ("hi", "hi", False),
            ],
            [
                ("what is your name", "bob", True),
                ("nice day", "thanks", False),
                ("hi", "hi", False),
                ("hi", "hi", False),
            ],
        ],
        TINY,
    )
    two_steps = Trainer(TINY, RUN.replace(bptt=2), VOCAB)
    two_steps.model.set_weights(trainer.model.get_weights())
    _, _, state_alone = two_steps._forward(
        *(tf.constant(a[:, :2]) for a in alone), two_steps.zero_state()
    )
    np.testing.assert_allclose(state_mixed[0][0], state_alone[0][0], atol=1e-6)
    assert not np.allclose(state_mixed[0][1], state_alone[0][1])  # row 1 kept its own history


def test_state_carried_across_windows_equals_one_long_pass():
    long = Trainer(TINY, RUN.replace(bptt=4), VOCAB)
    short = Trainer(TINY, RUN.replace(bptt=2), VOCAB)
    short.model.set_weights(long.model.get_weights())
    w = [
        tf.constant(a)
        for a in window_of(
            [
                [
                    ("hi", "hello", True),
                    ("how are you", "fine", False),
                    ("what is your name", "bob", False),
                    ("nice day", "thanks", False),
                ],
                [
                    ("hello", "hi", True),
                    ("nice day", "fine", False),
                    ("how are you", "thanks", True),
                    ("hi", "bob", False),
                ],
            ],
            TINY,
        )
    ]
    loss_long, tokens_long, state_long = long._forward(*w, long.zero_state())
    loss_a, tok_a, state = short._forward(*(a[:, :2] for a in w), short.zero_state())
    loss_b, tok_b, state = short._forward(*(a[:, 2:] for a in w), state)
    assert float(tokens_long) == float(tok_a + tok_b)
    np.testing.assert_allclose(float(loss_long), float(loss_a + loss_b), rtol=1e-5)
    for a, b in zip(state_long, state, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("config", [WITHOUT_ATTENTION, TINY], ids=["plain", "attention"])
def test_a_window_equals_its_exchanges_run_one_by_one(config):
    """The trainer decodes a window's exchanges side by side, reading each utterance
    only up to its exchange's longest row: loss and state must equal running the
    exchanges in turn on the padded window."""
    trainer = Trainer(config, RUN, VOCAB)
    window = [
        tf.constant(a)
        for a in window_of(
            [
                [
                    ("hi", "hello there", True),
                    ("how are you", "fine", False),
                    ("what is your name today", "bob", True),
                ],
                [
                    ("hello", "hi", True),
                    ("nice day", "fine thanks how are you", False),
                    ("hi", "bob", False),
                ],
            ],
            config,
        )
    ]
    loss, tokens, state = trainer._forward(*window, trainer.zero_state())
    source, target_in, target_out, reset = window
    model, expected, total, count = trainer.model, trainer.zero_state(), 0.0, 0.0
    for k in range(3):
        expected = model.carry(expected, 1.0 - reset[:, k : k + 1])
        memory, expected = model.read(source[:, k], expected)
        hidden, _ = model.decode(target_in[:, k], expected, memory)
        step_loss, step_tokens = masked_loss_sum(model, hidden, target_out[:, k])
        total, count = total + float(step_loss), count + float(step_tokens)
    assert float(tokens) == count
    np.testing.assert_allclose(float(loss), total, rtol=1e-5)
    for a, b in zip(state, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_cross_entropy_and_its_gradient_match_tensorflows():
    logits = tf.random.stateless_normal([5, 11], seed=[1, 2]) * 4
    labels = tf.constant([0, 3, 10, 3, 7])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ours = cross_entropy(logits, labels)
        theirs = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        weights = tf.range(1.0, 6.0)  # an upstream gradient that is not all ones
        ours_sum, theirs_sum = tf.reduce_sum(ours * weights), tf.reduce_sum(theirs * weights)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    np.testing.assert_allclose(
        tape.gradient(ours_sum, logits), tape.gradient(theirs_sum, logits), atol=1e-5
    )


def test_bfloat16_projection_gives_nearly_the_float32_loss():
    model = Seq2Seq(TINY, len(VOCAB))
    model.build_weights()
    tokens = tf.constant([ids("how are you today")], tf.int32)
    memory, state = model.read(tokens, model.zero_state(1))
    hidden, _ = model.decode(tokens, state, memory)
    full, _ = masked_loss_sum(model, hidden, tokens)
    half, _ = masked_loss_sum(model, hidden, tokens, tf.bfloat16)
    assert float(full) != float(half)  # the bfloat16 path was taken
    np.testing.assert_allclose(float(half), float(full), rtol=1e-2)


def test_projection_dtype_follows_the_setting():
    from chatbot.training.steps import fast_bfloat16, projection_dtype

    assert projection_dtype(RUN.replace(matmul_precision="float32")) == tf.float32
    assert projection_dtype(RUN.replace(matmul_precision="bfloat16")) == tf.bfloat16
    auto = tf.bfloat16 if fast_bfloat16() else tf.float32
    assert projection_dtype(RUN) == auto


def test_stateless_config_ignores_history():
    trainer = Trainer(TINY.replace(remember_state=False), RUN, VOCAB)
    w1 = window_of([[("hi", "hello", True), ("how are you", "fine", False)]] * 2, TINY)
    w2 = window_of([[("nice day", "thanks", True), ("how are you", "fine", False)]] * 2, TINY)
    t2 = Trainer(TINY.replace(remember_state=False), RUN.replace(bptt=2), VOCAB)
    t2.model.set_weights(trainer.model.get_weights())
    s1 = t2._forward(*map(tf.constant, w1), t2.zero_state())[2]
    s2 = t2._forward(*map(tf.constant, w2), t2.zero_state())[2]
    np.testing.assert_allclose(s1[0], s2[0], atol=1e-6)


def test_windows_hold_whole_conversations_and_reset_every_row_first():
    batches = [
        [[X([4], [5]), X([5], [6]), X([6], [7])], [X([8], [9])]],
        [[X([10], [11]), X([11], [12])]],
    ]
    out = list(windows(batches, batch_size=2, bptt=4))
    assert [w.source[:, :, 0].tolist() for w in out] == [[[4, 5, 6], [8, 0, 0]], [[10, 11], [0, 0]]]
    assert [w.reset.tolist() for w in out] == [[[1, 0, 0], [1, 0, 0]], [[1, 0], [1, 0]]]


def test_chained_rows_go_on_from_the_state_before_and_only_in_the_first_step():
    conv = [X([4], [5]), X([5], [6]), X([6], [7])]
    batches = [[conv] * 64] * 20
    out = list(windows(batches, batch_size=64, bptt=2, chain=0.5, rng=np.random.default_rng(0)))
    firsts = np.stack([w.reset[:, 0] for w in out[::2]])
    assert 0.4 < 1 - firsts.mean() < 0.6  # about half the rows carry on
    assert not any(w.reset[:, 1:].any() for w in out) and not out[1].reset.any()
    again = windows(batches, batch_size=64, bptt=2, chain=0.5, rng=np.random.default_rng(0))
    assert all((a.reset == b.reset).all() for a, b in zip(out, again, strict=True))


def test_a_conversation_longer_than_bptt_goes_on_in_the_next_window():
    conv = [X([i], [i + 1]) for i in range(4, 9)]  # 5 exchanges
    out = list(windows([[conv]], batch_size=1, bptt=2))
    assert [w.source[0, :, 0].tolist() for w in out] == [[4, 5], [6, 7], [8]]
    assert [w.reset[0].tolist() for w in out] == [[1, 0], [0, 0], [0]]


def test_encoded_conversations_skip_single_utterances_and_cut_length():
    out = list(encoded_conversations([["hi"], ["hi how are you fine", "hello"]], VOCAB, max_len=3))
    assert out == [[X(ids("hi how are"), ids("hello"))]]


def test_what_the_user_says_is_read_but_not_learned():
    out = list(encoded_conversations([[Prompt("hi"), "hello", Prompt("how are you")]], VOCAB, 8))
    assert [ex.learn for ex in out[0]] == [True, False]  # the bot's reply only
    w = next(windows([out], batch_size=1, bptt=4))
    assert w.source[0, 1].tolist()[:1] == ids("hello")  # the encoder still reads it
    assert not w.target_in[0, 1].any() and not w.target_out[0, 1].any()  # but no loss
    assert w.target_tokens == len(ids("hello")) + 1


def test_batches_group_conversations_by_exchange_count():
    convs = [[X([1], [2])] * n for n in (3, 1, 2, 1, 3, 2)]
    batches = list(bucketed(convs, 2, np.random.default_rng(0)))
    assert sorted(sorted(len(c) for c in b) for b in batches) == [[1, 1], [2, 2], [3, 3]]


def test_dropout_only_in_training_on_the_decoder_and_repeatable_from_its_seed():
    config = TINY.replace(dropout=0.5)
    trainer = Trainer(config, RUN, VOCAB)
    w = [tf.constant(a) for a in window_of([[("hi", "hello how are you", True)] * 4] * 2, config)]
    seed = tf.constant([3, 11], tf.int64)

    def run(*noise):  # (loss, encoder state) after the window
        loss, _, state = trainer._forward(*w, trainer.zero_state(), *noise)
        return float(loss), state[0].numpy()

    clean, noisy, again, other = run(), run(seed), run(seed + 0), run(seed + 1)
    # The masks change the replies' loss (slightly: an untrained model's logits are flat).
    assert abs(noisy[0] - clean[0]) > 1e-5 * clean[0]
    assert abs(other[0] - noisy[0]) > 1e-5 * clean[0]  # another seed, other masks
    assert again[0] == noisy[0]  # the masks depend on the seed alone
    # The encoder, which writes the conversation's memory, is never dropped.
    np.testing.assert_array_equal(noisy[1], clean[1])
    # Evaluation (no seed) is the model without dropout.
    plain = Trainer(TINY, RUN, VOCAB)
    plain.model.set_weights(trainer.model.get_weights())
    loss, _, state = plain._forward(*w, plain.zero_state())
    assert float(loss) == pytest.approx(clean[0])
    np.testing.assert_allclose(state[0], clean[1], atol=1e-6)


def test_dropout_rate_is_checked():
    from chatbot.errors import ConfigError

    with pytest.raises(ConfigError, match=r"dropout must be in \[0, 1\). Received: dropout=1.0"):
        TINY.replace(dropout=1.0)


def test_fused_adam_matches_keras_adam():
    from chatbot._tf import keras
    from chatbot.training.optim import FusedAdam

    rng = np.random.default_rng(0)
    start = [rng.normal(size=(6, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)]
    grads = [[rng.normal(size=x.shape).astype(np.float32) for x in start] for _ in range(3)]
    results = []
    for cls in (keras.optimizers.Adam, FusedAdam):
        weights = [keras.Variable(x) for x in start]
        optimizer = cls(0.01)
        for g in grads:
            optimizer.apply_gradients(zip(map(tf.constant, g), weights, strict=True))
        results.append([w.numpy() for w in weights])
    for keras_w, fused_w, first in zip(*results, start, strict=True):
        assert np.abs(keras_w - first).max() > 1e-3  # the steps moved the weights
        np.testing.assert_allclose(fused_w, keras_w, atol=1e-6)


def test_the_last_reply_reaches_back_to_the_first_utterance():
    """Whole-conversation backpropagation: the loss of exchange 4 alone has a
    gradient on the embedding of a word read only in exchange 1."""
    trainer = Trainer(TINY, RUN, VOCAB)
    rows = [
        [("alice", "hello", True), ("how are you", "fine", False)]
        + [("nice day", "thanks", False), ("what is your name", "bob", False)]
    ] * 2
    w = [tf.constant(a) for a in window_of(rows, TINY)]
    only_last = [w[0], w[1], w[2] * np.array([0, 0, 0, 1], np.int32)[None, :, None], w[3]]
    *_, grads = trainer.gradients(*only_last, trainer.zero_state())
    names = [v.path for v in trainer.model.trainable_variables]
    embedding = tf.convert_to_tensor(grads[names.index("embedding/embeddings")])
    assert float(tf.norm(embedding[VOCAB.encode(["alice"])[0]])) > 0
    stateless = Trainer(TINY.replace(remember_state=False), RUN, VOCAB)
    *_, grads = stateless.gradients(*only_last, stateless.zero_state())
    embedding = tf.convert_to_tensor(grads[names.index("embedding/embeddings")])
    assert float(tf.norm(embedding[VOCAB.encode(["alice"])[0]])) == 0


def test_one_optimizer_step_per_window():
    trainer = Trainer(TINY, RUN, VOCAB)
    w = window_of([[("hi", "hello", True)] * 4] * 2, TINY)
    trainer.compiled_step(*w, trainer.zero_state())
    trainer.compiled_step(*(a[:, :3] for a in w), trainer.zero_state())  # any number of steps
    assert int(trainer.optimizer.iterations) == 2


def test_carried_cell_state_is_bounded():
    from chatbot.model import CELL_RMS

    model = Seq2Seq(TINY, len(VOCAB))
    model.build_weights()
    c = model.bounded([tf.fill([2, 16], 0.5), tf.constant([[100.0] * 16, [1.0] * 16])])
    np.testing.assert_allclose(c[0], 0.5)  # h untouched
    np.testing.assert_allclose(tf.norm(c[1], axis=1), [CELL_RMS * 4, 4.0], rtol=1e-5)


def test_encoder_gates_start_out_remembering_up_to_the_horizon():
    from chatbot.errors import ConfigError

    h = TINY.hidden_units
    chrono = Seq2Seq(TINY.replace(memory_horizon=60), len(VOCAB))
    chrono.build_weights()
    bias = chrono.encoder_rnns[0].cell.bias.numpy()
    forget, inputs = bias[h : 2 * h], bias[:h]
    assert (forget >= 0).all() and (forget <= np.log(59) + 1e-6).all() and forget.std() > 0.1
    np.testing.assert_allclose(inputs, -forget)
    # The decoder, and a horizon of 0, keep Keras's forget bias of 1.
    plain = Seq2Seq(TINY.replace(memory_horizon=0), len(VOCAB))
    plain.build_weights()
    for layer in (chrono.decoder_rnns[0], plain.encoder_rnns[0]):
        np.testing.assert_allclose(layer.cell.bias.numpy()[h : 2 * h], 1.0)
    with pytest.raises(ConfigError, match="memory_horizon"):
        TINY.replace(memory_horizon=-1)


@pytest.mark.parametrize(
    "config",
    [TINY.replace(num_layers=2), WITHOUT_ATTENTION, TINY.replace(cell="gru", attention=True)],
    ids=["lstm-2-layers", "lstm-attention", "gru-attention"],
)
def test_decode_step_equals_decode_of_one_word(config):
    """The reply loop's step (LSTM cells run directly) gives what the decoder layers give."""
    model = Seq2Seq(config, len(VOCAB))
    model.build_weights()
    rng = np.random.default_rng(0)
    memory, state = model.read(
        tf.constant(rng.integers(3, len(VOCAB), (3, 5)), tf.int32), model.zero_state(3)
    )
    state = [s + tf.constant(rng.normal(size=s.shape), tf.float32) for s in state]
    tokens = tf.constant([4, 9, len(VOCAB) - 1], tf.int32)
    hidden, new_state = model.decode(tokens[:, None], state, memory)
    step_hidden, step_state = model.decode_step(tokens, state, memory)
    np.testing.assert_allclose(step_hidden, hidden[:, 0], rtol=1e-5, atol=1e-6)
    for got, want in zip(step_state, new_state, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
