"""The store: schema versions, opening, removal (ingestion: test_ingest.py)."""

from __future__ import annotations

import sqlite3

import pytest

from chatbot.errors import StoreError
from chatbot.ingest import ingest
from chatbot.store import SCHEMA_VERSION, Store

from .conftest import chat_file, table_counts, write


def test_new_database_has_current_schema_wal_and_foreign_keys(store):
    assert store.version == SCHEMA_VERSION
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert {"corpora", "conversations", "utterances"} <= set(store.db.table_names())


def test_older_database_is_upgraded_in_place(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE keep_me (x)")
    conn.execute("INSERT INTO keep_me VALUES (1)")
    conn.commit()
    conn.close()
    with Store(db_path) as s:
        assert s.version == SCHEMA_VERSION
        assert s.db.execute("SELECT x FROM keep_me").fetchone() == (1,)


def test_newer_database_is_refused_with_a_clear_error(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this chatbot understands"):
        Store(db_path)


def test_not_a_database_is_a_clear_error(tmp_path):
    path = write(tmp_path / "junk.db", b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        Store(path)


def test_remove_corpus_cascades(store, db_path, tmp_path):
    ingest(store, chat_file(tmp_path), name="small")
    store.remove_corpus("small")
    assert table_counts(db_path) == [0, 0, 0]
    with pytest.raises(StoreError, match="no corpus named 'small'"):
        store.remove_corpus("small")


def test_exchanges_stored_together_land_all_or_none(store):
    import sqlite3

    first = store.start_transcript("starter", {})
    second = store.start_transcript("starter", {})
    store.add_exchanges([(first, "hi", "hello", b"", {}), (second, "yo", "hey", b"", {})])
    with pytest.raises(sqlite3.IntegrityError):  # no transcript 999: the batch is undone
        store.add_exchanges([(first, "again", "sure", b"", {}), (999, "x", "y", b"", {})])
    assert [t.text for t in store.transcript(first)[1]] == ["hi", "hello"]
    assert [t.text for t in store.transcript(second)[1]] == ["yo", "hey"]
