"""Tier 2: tf.distribute training: mirrored in-process, and two workers on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

from chatbot import Chatbot  # noqa: E402
from chatbot.errors import ConfigError  # noqa: E402
from chatbot.training.distribute import Placement, localhost_tf_configs, share  # noqa: E402
from chatbot.training.loop import train  # noqa: E402
from tests.test_training import RUN, TINY  # noqa: E402

FLAGS = ["--embed-dim", "8", "--hidden-units", "16", "--vocab-size", "64", "--min-count", "1"]
FLAGS += ["--max-len", "8", "--batch-size", "4", "--bptt", "2", "--seed", "7"]


def test_conversations_are_shared_whole_and_batches_split_evenly():
    convs = [[f"c{i}"] for i in range(7)]
    shares = [list(share(iter(convs), r, 3)) for r in range(3)]
    assert sorted(sum(shares, [])) == sorted(convs) and shares[1] == [["c1"], ["c4"]]
    assert Placement(2, (0,), True).check(4) == 2
    with pytest.raises(ConfigError, match="multiple of the 3 replicas"):
        Placement(3, (0,), True).check(4)


def test_mirrored_strategy_follows_the_single_device_run(store, corpus):
    single = train(store, corpus, "single", TINY, RUN)
    mirrored = train(
        store, corpus, "mirrored", TINY, RUN, strategy=tf.distribute.MirroredStrategy()
    )
    for a, b in zip(single.history, mirrored.history, strict=True):
        assert a["train_ppl"] == pytest.approx(b["train_ppl"], rel=0.02)
        assert a["valid_ppl"] == pytest.approx(b["valid_ppl"], rel=0.02)


def two_workers(db, *args: str) -> list[subprocess.CompletedProcess]:
    """`chatbot train ... --strategy multiworker` as two local processes; both must finish."""
    procs = []
    for tf_config in localhost_tf_configs(2):
        env = {**os.environ, "TF_CONFIG": tf_config}
        command = [sys.executable, "-m", "chatbot", "train", *args, "--db", str(db)]
        procs.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    done = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    for d in done:
        assert d.returncode == 0, d.stderr[-2000:]
    return done


@pytest.mark.slow
def test_two_workers_on_localhost_train_resume_and_chat(store, corpus, db_path):
    """Two workers (batch 4 = 2 + 2 slots) follow the one-process trajectory within 5%;
    a resumed two-worker run continues it; the chief's model loads and chats."""
    single = train(store, corpus, "single", TINY, RUN.replace(epochs=3))
    base = ["--corpus", corpus, "--name", "mw", "--strategy", "multiworker", *FLAGS]
    first = two_workers(db_path, *base, "--epochs", "2")
    assert all("epoch 2: train ppl" in d.stdout for d in first)
    two_workers(
        db_path,
        "--corpus",
        corpus,
        "--name",
        "mw",
        "--strategy",
        "multiworker",
        "--resume",
        "--epochs",
        "3",
    )
    history = store.model("mw").metrics["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for a, b in zip(single.history, history, strict=True):
        assert a["train_ppl"] == pytest.approx(b["train_ppl"], rel=0.05)
        assert a["valid_ppl"] == pytest.approx(b["valid_ppl"], rel=0.05)
    assert history[2]["train_ppl"] < history[0]["train_ppl"]
    reply = Chatbot.load("mw", db=store.path).respond("hi how are you")
    assert isinstance(reply, str) and reply.strip()
