"""Ingestion: counts, idempotence, atomicity (a failing reader, kill -9), splits."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chatbot import corpora
from chatbot.corpora import Conversation, Utterance
from chatbot.errors import CorpusFormatError, StoreError
from chatbot.ingest import hash_split, ingest
from chatbot.store import Store

from .conftest import chat_file, table_counts, write


def test_ingest_counts_and_reads_back(store, tmp_path):
    result = ingest(store, chat_file(tmp_path), name="small")
    assert (result.corpus.conversations, result.corpus.utterances, result.corpus.tokens) == (
        5,
        15,
        40,
    )
    assert sum(result.corpus.splits.values()) == 5
    assert list(store.iter_conversations("small"))[2] == ["hello 2", "hi 2", "how are you 2"]
    assert store.conversation("small", "c1") == [
        (None, "hello 0"),
        (None, "hi 0"),
        (None, "how are you 0"),
    ]


def test_same_input_twice_is_a_noop(store, db_path, tmp_path):
    path = chat_file(tmp_path)
    ingest(store, path, name="small")
    again = ingest(store, path, name="other-name")
    assert again.already_present and again.corpus.name == "small"
    assert table_counts(db_path) == [1, 5, 15]


def test_replace_reingests_and_name_clash_is_refused(store, db_path, tmp_path):
    ingest(store, chat_file(tmp_path, 5), name="small")
    with pytest.raises(StoreError, match="exists; use --replace"):
        ingest(store, chat_file(tmp_path, 3, "other.txt"), name="small")
    ingest(store, chat_file(tmp_path, 3, "other.txt"), name="small", replace=True)
    assert table_counts(db_path) == [1, 3, 9]


def test_reader_failing_midway_leaves_database_as_it_was(store, db_path, tmp_path, monkeypatch):
    ingest(store, chat_file(tmp_path), name="before")
    before = table_counts(db_path)

    def exploding(path, problems):
        for i in range(5000):  # more than one executemany batch reaches the database
            yield Conversation(f"x{i}", [Utterance(None, "hi")])
        raise CorpusFormatError("reader broke halfway")

    monkeypatch.setitem(corpora.FORMATS, "text", exploding)
    with pytest.raises(CorpusFormatError, match="halfway"):
        ingest(store, chat_file(tmp_path, 2, "new.txt"), name="broken")
    assert table_counts(db_path) == before
    # --replace that fails keeps the old corpus too
    with pytest.raises(CorpusFormatError):
        ingest(store, chat_file(tmp_path, 2, "new.txt"), name="before", replace=True)
    assert table_counts(db_path) == before


def test_kill_9_during_ingest_leaves_nothing(db_path):
    script = f"""
import os, signal
from chatbot.store import Store
from chatbot.corpora import Conversation, Utterance
def stream():
    for i in range(10000):
        yield Conversation(str(i), [Utterance(None, "hello"), Utterance(None, "hi")], "train")
        if i == 7000:
            os.kill(os.getpid(), signal.SIGKILL)
Store({str(db_path)!r}).add_corpus("doomed", "text", "-", "0" * 64, stream())
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    with Store(db_path) as s:
        assert s.corpora() == []
    assert table_counts(db_path) == [0, 0, 0]


def test_nothing_valid_fails_and_stores_nothing(store, db_path, tmp_path):
    path = write(tmp_path / "bad.jsonl", "not json\n[1]\n")
    with pytest.raises(CorpusFormatError, match=r"no valid conversations .*bad.jsonl:1"):
        ingest(store, path)
    assert table_counts(db_path) == [0, 0, 0]


def test_repeated_conversation_ids_are_dropped(store, tmp_path):
    path = write(
        tmp_path / "dup.jsonl", '{"id": "a", "turns": ["x"]}\n{"id": "a", "turns": ["y"]}\n'
    )
    result = ingest(store, path)
    assert result.corpus.conversations == 1 and result.skipped == 1
    assert "repeats" in result.errors[0]


def test_hash_split_is_deterministic_and_roughly_90_5_5():
    splits = [hash_split(f"conv-{i}") for i in range(20000)]
    assert splits == [hash_split(f"conv-{i}") for i in range(20000)]
    share = {s: splits.count(s) / len(splits) for s in ("train", "valid", "test")}
    assert (
        0.88 < share["train"] < 0.92
        and 0.04 < share["valid"] < 0.06
        and 0.04 < share["test"] < 0.06
    )
