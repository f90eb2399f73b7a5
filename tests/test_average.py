"""The running average of the weights: its arithmetic, and that validation and chat use it."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

from chatbot import Chatbot  # noqa: E402
from chatbot.model_folder import ModelDir  # noqa: E402
from chatbot.training.loop import train  # noqa: E402
from chatbot.training.steps import Trainer  # noqa: E402
from chatbot.vocab import Vocab  # noqa: E402

from .test_training import RUN, TINY  # noqa: E402


def trainer_for(store, corpus, run=RUN) -> Trainer:
    config = TINY
    texts = (t for c in store.iter_conversations(corpus, "train") for t in c)
    vocab = Vocab.build(texts, config.vocab_size, config.min_count, config.slots)
    return Trainer(config, run, vocab)


def values(variables) -> list[np.ndarray]:
    return [v.numpy() for v in variables]


def test_the_average_is_a_warmed_up_exponential_average_of_the_weights(store, corpus):
    trainer = trainer_for(store, corpus, RUN.replace(weight_average=0.9))
    expected = values(trainer.model.trainable_variables)
    state = trainer.zero_state()
    for w in list(trainer.train_streams(store, corpus, 0)[0])[:4]:
        _, _, state = trainer.compiled_step(w.source, w.target_in, w.target_out, w.reset, state)
        t = int(trainer.optimizer.iterations)  # optimizer steps so far: 2 a window here
        m = min(0.9, (1 + t) / (10 + t))
        weights = values(trainer.model.trainable_variables)
        expected = [a - (1 - m) * (a - w) for a, w in zip(expected, weights, strict=True)]
    for a, e in zip(values(trainer.average.values), expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
    raw = values(trainer.model.trainable_variables)
    assert not all(np.allclose(a, r) for a, r in zip(expected, raw, strict=True))
    with trainer.average.applied():
        for v, e in zip(values(trainer.model.trainable_variables), expected, strict=True):
            np.testing.assert_allclose(v, e, rtol=1e-5, atol=1e-6)
    for v, r in zip(values(trainer.model.trainable_variables), raw, strict=True):
        np.testing.assert_array_equal(v, r)  # and the raw weights come back for training


def test_chat_loads_the_average_and_resume_keeps_the_raw_weights(store, corpus):
    train(store, corpus, "m", TINY, RUN.replace(epochs=1))
    prefix, _ = ModelDir(store.models_folder / "m").read_state("last")
    chat = values(Chatbot.load("m", db=store.path).model.trainable_variables)
    reader = tf.train.load_checkpoint(prefix)
    average = [
        reader.get_tensor(f"average/{i}/.ATTRIBUTES/VARIABLE_VALUE") for i in range(len(chat))
    ]
    for c, a in zip(chat, average, strict=True):
        np.testing.assert_array_equal(c, a)
    resumed = trainer_for(store, corpus)
    resumed.restore(prefix)
    raw = values(resumed.model.trainable_variables)
    assert not all(np.allclose(r, a) for r, a in zip(raw, average, strict=True))


def test_without_averaging_chat_loads_the_raw_weights(store, corpus):
    train(store, corpus, "m", TINY, RUN.replace(epochs=1, weight_average=0.0))
    prefix, _ = ModelDir(store.models_folder / "m").read_state("last")
    resumed = trainer_for(store, corpus, RUN.replace(weight_average=0.0))
    resumed.restore(prefix)
    chat = values(Chatbot.load("m", db=store.path).model.trainable_variables)
    for c, r in zip(chat, values(resumed.model.trainable_variables), strict=True):
        np.testing.assert_array_equal(c, r)


def test_a_checkpoint_from_before_averaging_resumes_with_the_average_at_the_weights(
    store, corpus, tmp_path
):
    old = trainer_for(store, corpus)
    old.model.trainable_variables[0].assign_add(tf.ones_like(old.model.trainable_variables[0]))
    prefix = tf.train.Checkpoint(
        model=old.model.checkpointable(), optimizer=old.optimizer, carried=old.carried
    ).write(str(tmp_path / "old" / "ckpt"))
    new = trainer_for(store, corpus)
    new.restore(prefix)
    for a, w in zip(values(new.average.values), values(old.model.trainable_variables), strict=True):
        np.testing.assert_array_equal(a, w)
