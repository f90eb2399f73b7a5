"""Tier 2: the SavedModel export serves the same turns as the library, state in and out."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

from chatbot import Chatbot  # noqa: E402
from chatbot.export import export, hashed_slot  # noqa: E402
from chatbot.text import detokenize, tokenize  # noqa: E402
from chatbot.vocab import Slots, Vocab  # noqa: E402

TURNS = [
    "Hi, how are you?",
    "My name is Zorblax.",
    "What's your name?",
    "I have a dog called Quib and a cat called Zorblax",
    "I don't like rain.",
    # A statement names its last rare word; a question names none (vocab.Slots).
    "Honestly, nothing beats Crozootiax. Remind me, which city do I live in?",
    "I moved to Boston last year!",
    "what is my name?",
]


def flat_state(bot: Chatbot) -> np.ndarray:
    return np.concatenate([s.numpy() for s in bot.state])


def starter(slot_rank: int | None) -> Chatbot:
    """The starter, or the starter with the user's words past `slot_rank` read as
    slots, each taking a slot by the word's hash."""
    bot = Chatbot.load("starter")
    if slot_rank is not None:
        bot.config = dataclasses.replace(bot.config, slot_rank=slot_rank, slot_hash=True)
        bot.reset_hidden_state()
    return bot


@pytest.fixture(scope="module", params=[None, 300], ids=["as-shipped", "slot-rank-300-by-hash"])
def served(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "starter"
    export(starter(request.param), path)
    return request.param, tf.saved_model.load(str(path))


@pytest.mark.parametrize("signature", ["serving_default", "reply_tokens"])
def test_exported_turns_equal_the_library_with_the_state_carried(served, signature):
    slot_rank, served = served
    bot = starter(slot_rank)
    fn = served.signatures[signature]
    state = tf.zeros([bot.config.state_size, bot.config.hidden_units])
    slots, seen = tf.constant([], tf.string), tf.constant(0)  # a new conversation
    for text in TURNS:
        conversation = {"state": state, "slots": slots, "seen": seen}
        if signature == "serving_default":
            out = fn(utterance=tf.constant(text), **conversation)
        else:
            out = fn(tokens=tf.constant(tokenize(text), tf.string), **conversation)
        words = [w.decode() for w in out["reply_tokens"].numpy()]
        assert detokenize(words) == bot.respond(text)
        assert out["reply"].numpy().decode() == " ".join(words)
        np.testing.assert_allclose(out["state"].numpy(), flat_state(bot), atol=1e-5)
        held = [w.decode() or None for w in out["slots"].numpy()]
        assert held == bot.slots.words and int(out["seen"]) == bot.slots.seen
        state, slots, seen = out["state"], out["slots"], out["seen"]
    assert np.abs(state.numpy()).sum() > 0
    if bot.vocab.slot_ids and not bot.slots.by_hash:  # bound in the order they came
        held = [w for w in bot.slots.words if w]
        assert held.index("zorblax") < held.index("quib")


def test_a_stateless_export_ignores_the_incoming_state(tmp_path):
    bot = Chatbot.load("starter")
    bot.remember_state = False
    export(bot, tmp_path / "m")
    fn = tf.saved_model.load(str(tmp_path / "m")).signatures["serving_default"]
    shape = [bot.config.state_size, bot.config.hidden_units]
    new = {"slots": tf.constant([], tf.string), "seen": tf.constant(0)}
    a = fn(utterance=tf.constant("what is your name ?"), state=tf.zeros(shape), **new)
    b = fn(utterance=tf.constant("what is your name ?"), state=tf.random.normal(shape), **new)
    assert a["reply"].numpy() == b["reply"].numpy()
    assert a["reply"].numpy().decode() == " ".join(tokenize(bot.respond("what is your name ?")))


def test_cli_export_and_refusal_to_overwrite(run, tmp_path):
    out = tmp_path / "served"
    first = run("export", "--model", "starter", str(out))
    assert first.exit_code == 0, first.output
    assert (out / "saved_model.pb").is_file() and "state float32 [2, 192]" in first.output
    again = run("export", "--model", "starter", str(out))
    assert again.exit_code == 2 and "not empty" in again.output


@settings(max_examples=40, deadline=None)
@given(
    st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12),
    st.lists(st.booleans(), min_size=1, max_size=20),
)
def test_the_export_hashes_a_word_to_the_slot_the_library_does(word, bound):
    vocab = Vocab.build(["a"], max_size=5 + len(bound), slots=len(bound))
    slots = Slots(vocab, by_hash=True)
    slots.words = [f"w{n}" if b else None for n, b in enumerate(bound)]
    held = tf.constant([w or "" for w in slots.words])
    assert int(hashed_slot(tf.constant(word), held)) == slots._next_slot(word)
