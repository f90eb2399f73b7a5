"""Tier 2: training end to end on a tiny corpus: checkpoints, resume, load, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

from chatbot import Chatbot  # noqa: E402
from chatbot.config import Config, RunConfig  # noqa: E402
from chatbot.model_folder import ModelDir  # noqa: E402
from chatbot.training.loop import train  # noqa: E402

TINY = Config(embed_dim=8, hidden_units=16, vocab_size=64, min_count=1, max_len=8)
RUN = RunConfig(batch_size=4, bptt=2, epochs=2, seed=7)


class CrashAfter:
    """A reporter that raises after `n` windows of epoch `epoch`: a simulated crash."""

    def __init__(self, epoch: int, n: int):
        self.epoch, self.n, self.seen = epoch, n, 0

    def epoch_start(self, epoch, total, done):
        self.current = epoch

    def window(self, loss_sum, tokens):
        if self.current == self.epoch:
            self.seen += 1
            if self.seen == self.n:
                raise RuntimeError("simulated crash")

    def epoch_end(self, metrics):
        pass


class Counting:
    """A reporter that keeps each epoch's announced total and the windows it saw."""

    def __init__(self):
        self.totals, self.windows = [], []

    def epoch_start(self, epoch, total, done):
        self.totals.append(total)
        self.windows.append(0)

    def window(self, loss_sum, tokens):
        self.windows[-1] += 1

    def epoch_end(self, metrics):
        pass


def test_after_an_epoch_the_progress_total_is_the_count_it_ran(store, corpus):
    counting = Counting()
    state = train(store, corpus, "long", TINY, RUN.replace(bptt=1, epochs=3), reporter=counting)
    # bptt 1: every exchange is a window of its own, far more than the first guess
    assert counting.totals[0] < counting.windows[0]
    assert (
        counting.totals[1:] == counting.windows[:-1] == [h["windows"] for h in state.history][:-1]
    )


def weights_of(store, name):
    return Chatbot.load(name, db=store.path).model.get_weights()


def test_training_writes_a_complete_model_folder_and_registers_it(store, corpus):
    state = train(store, corpus, "m", TINY, RUN)
    folder = store.models_folder / "m"
    for part in (
        "config.json",
        "run.json",
        "checkpoints/best/run.json",
        "vocab.json",
        "checkpoints/best/ckpt.index",
        "checkpoints/last/train_state.json",
        "checkpoints/best/config.json",
        "checkpoints/best/vocab.json",
    ):
        assert (folder / part).is_file(), part
    assert state.epoch == 2 and len(state.history) == 2 and state.stopped == "finished 2 epochs"
    info = store.model("m")
    assert info.corpus == "tiny" and info.metrics["best_valid_ppl"] == state.best_valid_ppl
    assert Config.load(folder / "config.json") == TINY
    assert ModelDir(folder).run_config() == RUN


def test_save_then_load_gives_identical_outputs(store, corpus):
    train(store, corpus, "m", TINY, RUN)
    a, b = Chatbot.load("m", db=store.path), Chatbot.load(str(store.models_folder / "m"))
    for x, y in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    assert [a.respond(t) for t in ("hi", "how are you", "bob")] == [
        b.respond(t) for t in ("hi", "how are you", "bob")
    ]


def test_resume_after_a_crash_matches_an_uninterrupted_run(store, corpus):
    config = TINY  # with the default dropout: the masks must come back too
    assert config.dropout > 0
    train(store, corpus, "straight", config, RUN)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(
            store,
            corpus,
            "crashed",
            config,
            RUN,
            reporter=CrashAfter(epoch=2, n=3),
            checkpoint_every=1,
        )
    saved = json.loads(
        (store.models_folder / "crashed" / "checkpoints/last/train_state.json").read_text()
    )
    assert (saved["epoch"], saved["cursor"]) == (1, 2)  # the crash came before window 3 was saved
    state = train(store, corpus, "crashed", resume=True)
    assert state.epoch == 2
    for x, y in zip(weights_of(store, "straight"), weights_of(store, "crashed"), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6)
    # and the training step really drew masks
    train(store, corpus, "no-dropout", config.replace(dropout=0.0), RUN)
    without = weights_of(store, "no-dropout")
    assert any(
        not np.allclose(x, y, atol=1e-4)
        for x, y in zip(weights_of(store, "straight"), without, strict=True)
    )


def test_checkpoint_left_half_written_falls_back_to_the_previous_one(store, corpus):
    train(store, corpus, "m", TINY, RUN)
    ckpts = store.models_folder / "m" / "checkpoints"
    (ckpts / "last").rename(ckpts / "last.old")  # a crash between the two renames
    (ckpts / "last.tmp").mkdir()  # and a half-written new one
    assert ModelDir(store.models_folder / "m").checkpoint("last") == ckpts / "last.old"
    assert train(store, corpus, "m", run=RUN.replace(epochs=3), resume=True).epoch == 3


def test_chatbot_state_api(store, corpus):
    train(store, corpus, "m", TINY, RUN)
    bot = Chatbot.load("m", db=store.path)
    zero = [s.numpy() for s in bot.state]
    bot.observe("hello how are you")
    assert not np.allclose(bot.state[0], zero[0])
    bot.reset_hidden_state()
    np.testing.assert_array_equal(bot.state[0], zero[0])
    bot.remember_state = False
    bot.observe("hi")
    after_hi = bot.state[0].numpy()
    bot.observe("hello how are you")
    bot.observe("hi")  # the state was reset first, so history does not matter
    np.testing.assert_allclose(bot.state[0], after_hi, atol=1e-6)
    assert isinstance(bot.respond("zzz-not-in-vocab"), str)


def test_cli_train_models_and_errors(run, corpus, db_path):
    from chatbot.store import Store

    args = [
        "train",
        "--corpus",
        corpus,
        "--name",
        "cli",
        "--embed-dim",
        "8",
        "--hidden-units",
        "16",
        "--batch-size",
        "4",
        "--epochs",
        "1",
        "--vocab-size",
        "64",
        "--min-count",
        "1",
    ]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert (
        "epoch 1: train ppl" in result.output and "Model 'cli': finished 1 epoch;" in result.output
    )
    assert run("models").output.splitlines()[1].split()[:6] == [
        "cli",
        "tiny",
        "lstm",
        "16",
        "yes",
        "1",
    ]
    again = run(*args)
    assert again.exit_code == 1 and "exists" in again.output and "--resume" in again.output
    bad = run("train", "--corpus", corpus, "--hidden-units", "-3")
    assert (
        bad.exit_code == 2
        and "hidden_units must be an integer from 1 to 8192. Received: hidden_units=-3"
        in bad.output
    )
    assert run("train", "--corpus", "nope").exit_code == 1
    resumed = run("train", "--corpus", corpus, "--name", "cli", "--resume", "--epochs", "2")
    assert resumed.exit_code == 0 and "epoch 2: train ppl" in resumed.output
    refused = run("train", "--corpus", corpus, "--name", "cli", "--resume", "--hidden-units", "8")
    assert refused.exit_code == 2 and "leave out --hidden-units" in refused.output
    other_batch = run("train", "--corpus", corpus, "--name", "cli", "--resume", "--batch-size", "2")
    assert other_batch.exit_code == 2 and "--batch-size 4" in other_batch.output
    faster = run(
        "train", "--corpus", corpus, "--name", "cli", "--resume", "--epochs", "3",
        "--learning-rate", "0.001",
    )  # fmt: skip
    assert faster.exit_code == 0, faster.output
    with Store(db_path) as store:
        folder = ModelDir(store.model("cli").path)
        assert folder.run_config().learning_rate == 0.001
        assert store.model("cli").metrics["history"][-1]["learning_rate"] == pytest.approx(0.001)


def test_ablation_matches_the_training_loop_and_the_conditions_differ(store, corpus):
    """The ablation (conversations side by side) and Trainer.evaluate (bptt windows)
    are separate code; carried and reset must agree with them exactly."""
    from chatbot.evaluation.reports import ablation_report, split_conversations
    from chatbot.perplexity import perplexity
    from chatbot.training.steps import Trainer

    train(store, corpus, "m", TINY, RUN)
    bot = Chatbot.load("m", db=store.path)
    convs, _ = split_conversations(store, corpus, "train", bot.vocab, TINY.max_len)
    report = ablation_report(bot, convs)
    for condition, remember in (("carried", True), ("reset", False)):
        trainer = Trainer(TINY.replace(remember_state=remember), RUN, bot.vocab)
        trainer.model.set_weights(bot.model.get_weights())
        expected = perplexity(*trainer.evaluate(store, corpus, "train"))
        assert report[condition]["perplexity"] == pytest.approx(expected, rel=1e-4)
    turn1 = {c: report[c]["by_turn"]["1"] for c in report}
    assert turn1["carried"] == pytest.approx(turn1["reset"]) == pytest.approx(turn1["shuffled"])
    later = [report[c]["by_turn"]["3"] for c in ("carried", "reset", "shuffled")]
    assert len(set(later)) == 3  # history, none, and someone else's history all differ
    assert sum(report["carried"]["tokens_by_turn"].values()) == report["carried"]["tokens"]


def test_cli_eval_reports_every_measure(run, store, corpus):
    train(store, corpus, "m", TINY, RUN)
    result = run("eval", "--model", "m", "--split", "train", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["corpus"] == "tiny"
    assert report["conversations"] == len(list(store.iter_conversations("tiny", "train")))
    for name in ("carried", "reset", "shuffled"):
        assert 1.0 < report["model"][name]["perplexity"] < 64
        assert set(report["model"][name]["by_turn"]) == {"1", "2", "3", "4+"}
    assert 1.0 < report["kneser_ney_trigram"]["perplexity"] < 64
    assert report["kneser_ney_trigram"]["tokens"] == report["model"]["carried"]["tokens"]
    assert report["replies"]["replies"] == report["references"]["replies"] > 50
    assert 0 < report["replies"]["distinct_1"] <= 1
    limited = json.loads(
        run(
            "eval",
            "--model",
            "m",
            "--split",
            "train",
            "--limit",
            "5",
            "--no-baseline",
            "--no-replies",
            "--json",
        ).output
    )
    assert limited["conversations"] == 5 and "replies" not in limited
    assert "kneser_ney_trigram" not in limited
    text = run("eval", "--model", "m", "--split", "train")
    assert text.exit_code == 0
    for label in ("state carried", "state reset", "state shuffled", "KN trigram", "distinct-1"):
        assert label in text.output
    missing = run("eval", "--model", "m", "--split", "test", "--corpus", "nope")
    assert missing.exit_code != 0 and "nope" in missing.output


def test_a_run_in_progress_is_listed_with_its_finished_epochs(store, corpus, monkeypatch):
    from chatbot.training.steps import Trainer

    listed = []

    def evaluate(self, *args):  # runs at each epoch's end, before that epoch counts
        listed.append(store.model("m").metrics)  # what `chatbot models` shows meanwhile
        return 100.0 - len(listed), 50

    monkeypatch.setattr(Trainer, "evaluate", evaluate)
    train(store, corpus, "m", TINY, RUN.replace(epochs=2))
    assert [(m["status"], m["epochs"]) for m in listed] == [("training", 0), ("training", 1)]
    assert listed[1]["best_valid_ppl"] is not None
    done = store.model("m").metrics
    assert (done["epochs"], done["stopped"], "status" in done) == (2, "finished 2 epochs", False)


def test_learning_rate_decays_on_a_plateau_and_is_checkpointed(store, corpus, monkeypatch):
    from chatbot.training.steps import Trainer

    valid_losses = iter([100.0, 120.0, 130.0, 125.0, 140.0])  # better, then worse 4 times
    monkeypatch.setattr(Trainer, "evaluate", lambda self, *args: (next(valid_losses), 50))
    run = RUN.replace(epochs=5, patience=10, learning_rate=0.01, lr_decay=0.5)
    rates = [0.01, 0.01, 0.005, 0.0025, 0.00125, 0.000625]  # halved after every worse epoch
    state = train(store, corpus, "m", TINY, run)
    # each epoch's rate, then the one after the last epoch's decay, as checkpointed
    assert [h["learning_rate"] for h in state.history] == pytest.approx(rates[:-1])
    prefix, _ = ModelDir(store.models_folder / "m").read_state("last")
    trainer = Trainer(TINY, run, Chatbot.load("m", db=store.path).vocab)
    trainer.restore(prefix)
    assert float(trainer.optimizer.learning_rate) == pytest.approx(rates[-1])
