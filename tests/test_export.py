"""Tier 2: the SavedModel export serves the same turns as the library, state in and out."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

from chatbot import Chatbot  # noqa: E402
from chatbot.export import export  # noqa: E402
from chatbot.text import detokenize, tokenize  # noqa: E402

TURNS = ["Hi, how are you?", "What's your name?", "I don't like rain.", "tell me a joke"]


def flat_state(bot: Chatbot) -> np.ndarray:
    return np.concatenate([s.numpy() for s in bot.state])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "starter"
    export(Chatbot.load("starter"), path)
    return tf.saved_model.load(str(path))


@pytest.mark.parametrize("signature", ["serving_default", "reply_tokens"])
def test_exported_turns_equal_the_library_with_the_state_carried(served, signature):
    bot = Chatbot.load("starter")
    fn = served.signatures[signature]
    state = tf.zeros([bot.config.state_size, bot.config.hidden_units])
    for text in TURNS:
        if signature == "serving_default":
            out = fn(utterance=tf.constant(text), state=state)
        else:
            out = fn(tokens=tf.constant(tokenize(text), tf.string), state=state)
        words = [w.decode() for w in out["reply_tokens"].numpy()]
        assert detokenize(words) == bot.respond(text)
        assert out["reply"].numpy().decode() == " ".join(words)
        np.testing.assert_allclose(out["state"].numpy(), flat_state(bot), atol=1e-5)
        state = out["state"]
    assert np.abs(state.numpy()).sum() > 0


def test_a_stateless_export_ignores_the_incoming_state(tmp_path):
    bot = Chatbot.load("starter")
    bot.remember_state = False
    export(bot, tmp_path / "m")
    fn = tf.saved_model.load(str(tmp_path / "m")).signatures["serving_default"]
    shape = [bot.config.state_size, bot.config.hidden_units]
    a = fn(utterance=tf.constant("what is your name ?"), state=tf.zeros(shape))
    b = fn(utterance=tf.constant("what is your name ?"), state=tf.random.normal(shape))
    assert a["reply"].numpy() == b["reply"].numpy()
    assert a["reply"].numpy().decode() == " ".join(tokenize(bot.respond("what is your name ?")))


def test_cli_export_and_refusal_to_overwrite(run, tmp_path):
    out = tmp_path / "served"
    first = run("export", "--model", "starter", str(out))
    assert first.exit_code == 0, first.output
    assert (out / "saved_model.pb").is_file() and "state float32 [2, 192]" in first.output
    again = run("export", "--model", "starter", str(out))
    assert again.exit_code == 2 and "not empty" in again.output
