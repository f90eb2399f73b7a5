"""Decoding (decode.py): the compiled loop against a step-by-step reference, beam,
sampling, n-gram blocking, MMI, and words never generated."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

from chatbot import Chatbot  # noqa: E402
from chatbot.model_folder import STARTER  # noqa: E402


@pytest.fixture(scope="module")
def starter():
    return Chatbot.load(STARTER)


def reference_greedy(bot, state, memory, max_length, mmi=0.0, mmi_tokens=5):
    """Step by step in Python, one decoder call per word: what the compiled loop must
    equal; with `mmi`, each of the first `mmi_tokens` words is scored by
    log p(w | state) - mmi * log p(w | zero state, no memory)."""
    from chatbot.vocab import END_ID, PAD_ID, START_ID, UNK_ID

    lm_state, nothing = bot.model.zero_state(1), bot.model.no_memory(1)
    token, out = START_ID, []
    for step in range(max_length):
        hidden, state = bot.model.decode(tf.constant([[token]]), state, memory)
        scores = tf.nn.log_softmax(bot.model.logits(hidden[:, -1])).numpy()[0]
        lm_hidden, lm_state = bot.model.decode(tf.constant([[token]]), lm_state, nothing)
        if mmi and step < mmi_tokens:
            scores -= mmi * tf.nn.log_softmax(bot.model.logits(lm_hidden[:, -1])).numpy()[0]
        scores[[PAD_ID, START_ID, UNK_ID]] = -np.inf  # never generated
        token = int(np.argmax(scores))
        if token == END_ID:
            break
        out.append(token)
    return out


@pytest.mark.parametrize("prompt", ["hello", "what is your name?", "do you like movies?"])
def test_mmi_decoding_equals_its_reference_and_changes_replies(starter, prompt):
    from chatbot.decode import DecodeSettings

    starter.reset_hidden_state()
    starter.observe(prompt)
    settings = DecodeSettings(max_length=12, mmi=0.5, mmi_tokens=3)
    compiled = starter.decoder.reply(starter.state, starter.memory, settings)
    reference = reference_greedy(starter, starter.state, starter.memory, 12, 0.5, 3)
    assert compiled == reference


def test_mmi_moves_some_reply_away_from_greedy(starter):
    from chatbot.decode import DecodeSettings

    changed = 0
    for prompt in ("hello", "what is your name?", "do you like movies?", "how are you?"):
        starter.reset_hidden_state()
        starter.observe(prompt)
        greedy = starter.decoder.reply(starter.state, starter.memory, DecodeSettings())
        for settings in (DecodeSettings(mmi=0.5), DecodeSettings(beam=4, mmi=0.5)):
            changed += starter.decoder.reply(starter.state, starter.memory, settings) != greedy
    assert changed >= 2


@pytest.mark.parametrize(
    "prompt", ["hello", "what is your name?", "tell me about computers", "do you like movies?"]
)
def test_compiled_greedy_equals_reference_and_beam_1(starter, prompt):
    from chatbot.decode import DecodeSettings

    starter.reset_hidden_state()
    starter.observe(prompt)
    settings = DecodeSettings(max_length=12)
    compiled = starter.decoder.reply(starter.state, starter.memory, settings)
    assert compiled == reference_greedy(starter, starter.state, starter.memory, 12)
    beam_one = starter.decoder._beam(
        starter.state,
        starter.memory,
        tf.constant([0, 0]),
        DecodeSettings(beam=1, max_length=12),
        starter.decoder.penalty(tf.zeros([0], tf.int32)),
    )
    ids = [int(i) for i in beam_one.numpy()]
    assert (ids[: ids.index(2)] if 2 in ids else ids) == compiled


@pytest.mark.parametrize("beam", [1, 3])
def test_a_reply_never_says_a_banned_id(starter, beam):
    """What keeps an empty slot (`Slots.empty`) out of a reply."""
    from chatbot.decode import DecodeSettings

    starter.reset_hidden_state()
    starter.observe("how are you today ?")
    settings = DecodeSettings(beam=beam, max_length=12)
    free = starter.decoder.reply(starter.state, starter.memory, settings)
    banned = sorted(set(free))[:2]
    held = starter.decoder.reply(starter.state, starter.memory, settings, banned=banned)
    assert free and held and not set(held) & set(banned)


def test_no_decoding_emits_unk_even_when_the_model_prefers_it():
    from chatbot import Chatbot
    from chatbot.decode import DecodeSettings
    from chatbot.vocab import UNK_ID

    bot = Chatbot.load("starter")
    bias = bot.model.projection.bias
    bias.assign(tf.tensor_scatter_nd_update(bias, [[UNK_ID]], [100.0]))
    bot.observe("hello")
    for settings in (DecodeSettings(), DecodeSettings(beam=4), DecodeSettings(temperature=2.0)):
        reply = bot.decoder.reply(bot.state, bot.memory, settings)
        assert reply and UNK_ID not in reply, settings


def test_beam_and_sampling_settings(starter):
    from chatbot.decode import DecodeSettings
    from chatbot.errors import ConfigError

    starter.reset_hidden_state()
    starter.observe("hello")
    beam = starter.decoder.reply(
        starter.state, starter.memory, DecodeSettings(beam=5, max_length=10)
    )
    sampled = {
        tuple(
            starter.decoder.reply(
                starter.state,
                starter.memory,
                DecodeSettings(temperature=1.5, max_length=6),
            )
        )
        for _ in range(8)
    }
    long_enough = starter.decoder.reply(
        starter.state, starter.memory, DecodeSettings(min_length=4, max_length=8)
    )
    assert 0 < len(beam) <= 10 and len(sampled) > 1 and len(long_enough) >= 4
    for beam in (1, 4):
        starter.reset_hidden_state()
        starter.observe("do you like movies?")
        # Forced to 60 words, the starter repeats bigrams unless blocked.
        free = starter.decoder.reply(
            starter.state, starter.memory, DecodeSettings(beam=beam, min_length=60, max_length=60)
        )
        assert len(set(zip(free, free[1:], strict=False))) < len(free) - 1
        ids = starter.decoder.reply(
            starter.state,
            starter.memory,
            DecodeSettings(beam=beam, no_repeat_ngram=2, min_length=60, max_length=60),
        )
        assert len(set(zip(ids, ids[1:], strict=False))) == len(ids) - 1
        once = starter.decoder.reply(
            starter.state,
            starter.memory,
            DecodeSettings(beam=beam, no_repeat_ngram=1, max_length=20),
        )
        assert len(once) == len(set(once))
    with pytest.raises(ConfigError, match=r"top_p must be in \(0, 1\]"):
        DecodeSettings(top_p=0)


def test_sample_and_rank_keeps_the_best_scored_draw(starter):
    from chatbot.decode import DecodeSettings
    from chatbot.errors import ConfigError

    starter.reset_hidden_state()
    starter.observe("what do you like to do?")
    state, memory = starter.state, starter.memory

    def normalised(ids: list[int]) -> float:
        # The decoder's own score: summed log-probability over the GNMT length penalty.
        from chatbot.vocab import END_ID, START_ID

        inputs = tf.constant([[START_ID, *ids]], tf.int32)
        hidden, _ = starter.model.decode(inputs, state, memory)
        logp = tf.nn.log_softmax(starter.model.logits(hidden[0])).numpy()
        total = sum(logp[i, t] for i, t in enumerate([*ids, END_ID]))
        return total / ((5.0 + len(ids) + 1) / 6.0) ** 0.6

    hot = DecodeSettings(temperature=1.5, top_p=1.0, max_length=12)
    singles = [starter.decoder.reply(state, memory, hot, draw=d) for d in range(8)]
    ranked = [
        starter.decoder.reply(state, memory, DecodeSettings(**{**vars(hot), "samples": 8}), draw=d)
        for d in range(8)
    ]
    # The best of eight draws scores above a typical single draw, every time.
    typical = float(np.median([normalised(r) for r in singles]))
    assert all(normalised(r) >= typical for r in ranked), (ranked, singles)
    assert len({tuple(r) for r in ranked}) > 1  # still a sample, not one fixed reply
    # Nearly greedy draws all agree with greedy.
    cold = DecodeSettings(temperature=1e-4, samples=4, max_length=12)
    greedy = starter.decoder.reply(state, memory, DecodeSettings(max_length=12))
    assert starter.decoder.reply(state, memory, cold) == greedy
    with pytest.raises(ConfigError, match="samples=4 draws several replies to rank"):
        DecodeSettings(samples=4)


def test_nucleus_is_exact_when_small_and_capped_when_flat():
    from chatbot.word_choice import NUCLEUS_MAX, restrict

    rng = np.random.default_rng(0)
    for scale in (6.0, 8.0, 12.0):
        logits = rng.normal(size=(1, 5000)).astype(np.float32) * scale
        kept = restrict(tf.constant(logits), 0, 0.9).numpy() > -1e8
        ordered = np.sort(logits[0])[::-1]
        probs = np.exp(ordered - ordered.max())
        probs /= probs.sum()
        exact = int(((np.cumsum(probs) - probs) < 0.9).sum())
        assert exact < NUCLEUS_MAX and kept.sum() == exact
        assert logits[0][kept[0]].min() == ordered[exact - 1]
    nearly_flat = tf.constant(rng.normal(size=(1, 5000)).astype(np.float32) * 0.01)
    flat = restrict(nearly_flat, 0, 0.9).numpy() > -1e8
    assert flat.sum() == NUCLEUS_MAX


def test_draw_samples_the_softmax_and_never_a_masked_word():
    from chatbot.word_choice import NEG_INF, draw

    probs = [0.0, 0.5, 0.3, 0.0, 0.15, 0.05, 0.0]  # masked words first, between, last
    logits = tf.where(tf.constant([probs]) > 0, tf.math.log(tf.constant([probs])), NEG_INF)
    draws = [int(draw(logits, tf.constant([7, i]))[0]) for i in range(4000)]
    np.testing.assert_allclose(np.bincount(draws, minlength=7) / 4000, probs, atol=0.03)
    assert {0, 3, 6}.isdisjoint(draws)


def test_draw_across_blocks_samples_the_softmax():
    """A vocabulary of several blocks (`DRAW_BLOCK` words each, the last one short),
    with masked words at block edges and whole masked blocks: the two-level
    inversion draws each word as often as its probability says."""
    from chatbot.word_choice import DRAW_BLOCK, NEG_INF, draw

    vocab = 3 * DRAW_BLOCK + 37
    rng = np.random.default_rng(3)
    probs = rng.random(vocab) ** 4
    probs[[0, DRAW_BLOCK - 1, DRAW_BLOCK, 2 * DRAW_BLOCK - 1, vocab - 1]] = 0.0
    probs[2 * DRAW_BLOCK : 3 * DRAW_BLOCK] = 0.0  # a whole block masked
    probs[[5, DRAW_BLOCK + 7, vocab - 2]] = [40.0, 25.0, 15.0]  # likely words in three blocks
    probs /= probs.sum()
    logits = np.where(probs > 0, np.log(np.maximum(probs, 1e-30)), NEG_INF).astype(np.float32)
    rows = 8  # one call draws a word for each of 8 rows, each from its own uniform
    batch = tf.constant(np.tile(logits, (rows, 1)))
    draws = np.concatenate([draw(batch, tf.constant([11, i])).numpy() for i in range(1000)])
    counts = np.bincount(draws, minlength=vocab) / len(draws)
    assert counts[probs == 0].sum() == 0
    likely = [5, DRAW_BLOCK + 7, vocab - 2]
    np.testing.assert_allclose(counts[likely], probs[likely], atol=0.015)
    # Every block gets its share: the blocks' totals, as drawn and as the softmax gives.
    padded = -(-vocab // DRAW_BLOCK) * DRAW_BLOCK - vocab
    shares = lambda p: np.pad(p, (0, padded)).reshape(-1, DRAW_BLOCK).sum(axis=1)  # noqa: E731
    np.testing.assert_allclose(shares(counts), shares(probs), atol=0.015)


@pytest.mark.parametrize(
    "decoding",
    [{}, {"temperature": 0.7, "top_p": 0.9}, {"temperature": 0.3, "mmi": 0.5, "min_length": 4}],
)
def test_replies_decoded_side_by_side_equal_each_alone(starter, decoding):
    from chatbot.decode import DecodeSettings

    settings = DecodeSettings(max_length=12, **decoding)
    prompts = ["hello", "what is your name ?", "do you like music ?"]
    reads = []
    for prompt in prompts:
        starter.reset_hidden_state()
        starter.observe(prompt)
        reads.append((starter.state, starter.memory))
    states, memories = [s for s, _ in reads], [m for _, m in reads]
    draws, banned = (
        [11, 22, 33],
        [[], [], sorted(set(starter.decoder.reply(*reads[2], settings)))[:1]],
    )
    together = starter.decoder.replies(states, memories, settings, draws, banned)
    alone = [
        starter.decoder.reply(s, m, settings, d, b)
        for s, m, d, b in zip(states, memories, draws, banned, strict=True)
    ]
    assert together == alone and len(set(map(tuple, alone))) > 1


def test_utterances_read_side_by_side_equal_each_alone(starter):
    starter.reset_hidden_state()
    starter.observe("my name is zorblax and i live in paris")
    states = [starter.model.zero_state(1), starter.state, starter.state]
    utterances = [[5], [7, 8, 9, 10, 11], list(range(20, 40))]  # lengths 1, 5 and 20
    together = starter.decoder.read_rows(utterances, states)
    for (memory, state), ids, start in zip(together, utterances, states, strict=True):
        alone_memory, alone_state = starter.decoder.read(tf.constant([ids], tf.int32), start)
        for a, b in zip(state, alone_state, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
        mask = alone_memory[1].numpy()
        np.testing.assert_array_equal(memory[1].numpy(), mask)
        # Where the mask is off nothing attends, so only the words' outputs must agree.
        np.testing.assert_allclose(
            memory[0].numpy()[mask], alone_memory[0].numpy()[mask], atol=1e-5
        )


def test_one_rule_says_how_a_chat_decodes():
    from chatbot.decode import CHAT_DEFAULT, chat_decoding

    before = dict(CHAT_DEFAULT)
    assert chat_decoding(CHAT_DEFAULT, {}) == CHAT_DEFAULT
    hotter = chat_decoding(CHAT_DEFAULT, {"temperature": 0.9})
    assert hotter == {**CHAT_DEFAULT, "temperature": 0.9}  # the measured MMI stays
    beam = chat_decoding(CHAT_DEFAULT, {"beam": 4})
    assert beam["beam"] == 4 and beam["temperature"] == 0.0 and beam["mmi"] == CHAT_DEFAULT["mmi"]
    both = chat_decoding({}, {"beam": 4, "temperature": 0.5})
    assert both == {"beam": 4, "temperature": 0.5}  # DecodeSettings refuses it in one line
    assert before == CHAT_DEFAULT  # the rule changes no one's settings


def test_compiled_replies_are_bounded_and_the_most_recently_used_stay(starter, monkeypatch):
    import chatbot.decode as decode
    from chatbot.decode import DecodeSettings

    decoder = decode.Decoder(starter.model)  # its own cache, not the fixture's
    monkeypatch.setattr(decode, "MOST_COMPILED", 3)
    first = DecodeSettings(temperature=0.5)
    decoder._compiled_for(first)
    for t in (0.6, 0.7):
        decoder._compiled_for(DecodeSettings(temperature=t))
    decoder._compiled_for(first)  # used again: now the most recent
    for t in (0.8, 0.9):  # a client sending ever new temperatures
        decoder._compiled_for(DecodeSettings(temperature=t))
    assert len(decoder._compiled) == 3 and first in decoder._compiled
