"""Tier 2: TFRecord shards round-trip, and training from them equals training from the store."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

from chatbot import Chatbot  # noqa: E402
from chatbot.errors import UsageError  # noqa: E402
from chatbot.text import tokenize  # noqa: E402
from chatbot.training.loop import train  # noqa: E402
from chatbot.training.shards import ShardCorpus, export_shards  # noqa: E402
from tests.test_training import RUN, TINY  # noqa: E402


def test_shards_round_trip_in_the_original_order(store, corpus, tmp_path):
    manifest = export_shards(store, corpus, tmp_path / "shards", shards=3)
    assert sorted(p.name for p in (tmp_path / "shards").iterdir())[:2] == [
        "manifest.json",
        "test-00000-of-00003.tfrecord",
    ]
    shards = ShardCorpus(tmp_path / "shards")
    for split in ("train", "valid", "test"):
        expected = [
            [" ".join(tokenize(u)) for u in conv]
            for conv in store.iter_conversations(corpus, split)
        ]
        assert list(shards.iter_conversations(corpus, split)) == expected
        assert manifest["splits"][split]["conversations"] == len(expected)
        assert shards.exchange_count(corpus, split) == store.exchange_count(corpus, split)
    assert shards.name == corpus and not (tmp_path / "shards.tmp").exists()


def test_training_from_shards_equals_training_from_the_store(store, corpus, tmp_path):
    export_shards(store, corpus, tmp_path / "shards", shards=2)
    from_store = train(store, corpus, "a", TINY, RUN)
    from_shards = train(store, corpus, "b", TINY, RUN, source=ShardCorpus(tmp_path / "shards"))
    assert from_store.history == [
        {**h, "seconds": s["seconds"]}
        for h, s in zip(from_shards.history, from_store.history, strict=True)
    ]
    a, b = (Chatbot.load(n, db=store.path).model.get_weights() for n in "ab")
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert store.model("b").corpus == corpus


def test_cli_export_shards_train_and_errors(run, store, corpus, tmp_path):
    out = tmp_path / "s"
    done = run("export-shards", "--corpus", corpus, "--shards", "2", str(out))
    assert done.exit_code == 0 and "Wrote 2 shards per split" in done.output
    again = run("export-shards", "--corpus", corpus, str(out))
    assert again.exit_code == 2 and "not empty" in again.output
    missing = run("export-shards", "--corpus", "nope", str(tmp_path / "t"))
    assert missing.exit_code == 1 and "nope" in missing.output
    both = run("train", "--corpus", corpus, "--shards", str(out))
    assert both.exit_code == 2 and "one of them" in both.output
    flags = ["--embed-dim", "8", "--hidden-units", "16", "--epochs", "1", "--min-count", "1"]
    trained = run("train", "--shards", str(out), "--name", "fromshards", *flags)
    assert trained.exit_code == 0, trained.output
    assert "fromshards" in run("models").output
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(UsageError, match="not a chatbot-shards manifest"):
        ShardCorpus(tmp_path / "bad")
    bad = run("train", "--shards", str(tmp_path / "bad"))
    assert bad.exit_code == 2 and "manifest" in bad.output


def test_shards_keep_which_utterances_are_the_users(store, tmp_path):
    from chatbot.corpora.base import USER, Conversation, Prompt, Utterance
    from chatbot.ingest import ingest_generated

    turns = [Utterance(USER, "my name is rex"), Utterance("bot", "hi rex"), Utterance(USER, "bye")]
    convs = [Conversation(f"g{i}", turns, "train") for i in range(3)]
    ingest_generated(store, convs, "recall", "gen", recipe="test: three conversations")
    stored = list(store.iter_conversations("gen", "train"))
    assert [[isinstance(u, Prompt) for u in conv] for conv in stored] == [[True, False, True]] * 3
    export_shards(store, "gen", tmp_path / "shards", shards=2)
    read = list(ShardCorpus(tmp_path / "shards").iter_conversations("gen", "train"))
    assert read == stored
    assert [[isinstance(u, Prompt) for u in conv] for conv in read] == [[True, False, True]] * 3
