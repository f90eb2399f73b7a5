"""Shared fixtures: every test runs with HOME and CHATBOT_HOME in its own tmp_path."""

from __future__ import annotations

import json
import os
import random
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DAILYDIALOG = SHARED / "corpora" / "dailydialog"
MAKE_CORNELL = SHARED / "tools" / "make_cornell_format.py"

needs_shared = pytest.mark.skipif(
    not DAILYDIALOG.is_dir(), reason="../shared/corpora is not beside the project"
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CHATBOT_HOME", str(home / "chatbot"))
    return home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.db"


@pytest.fixture
def store(db_path: Path):
    from chatbot.store import Store

    with Store(db_path) as s:
        yield s


@pytest.fixture
def run(db_path: Path):
    """Invoke the CLI against the test database; returns the click Result."""
    from chatbot.cli import cli

    def invoke(*args: str):
        return CliRunner().invoke(cli, [*args, "--db", str(db_path)], catch_exceptions=False)

    return invoke


# Common words for tiny corpora (tests/test_model.py builds its vocabulary from them).
WORDS = [
    "hi",
    "hello",
    "how",
    "are",
    "you",
    "fine",
    "thanks",
    "what",
    "is",
    "your",
    "name",
    "bob",
    "alice",
    "nice",
    "day",
]


@pytest.fixture
def corpus(store, tmp_path):
    """60 random conversations of common words, ingested as 'tiny'."""
    rng = random.Random(1)
    lines = [
        json.dumps(
            {
                "id": f"c{i}",
                "turns": [
                    " ".join(rng.choices(WORDS, k=rng.randint(1, 5)))
                    for _ in range(rng.randint(2, 6))
                ],
            }
        )
        for i in range(60)
    ]
    from chatbot.ingest import ingest

    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(lines) + "\n")
    ingest(store, path, name="tiny")
    return "tiny"


def write(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding=encoding)
    return path


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def chat_file(tmp_path, n=5, name="chat.txt"):
    body = "\n\n".join(f"hello {i}\nhi {i}\nhow are you {i}" for i in range(n))
    return write(tmp_path / name, body + "\n")


def table_counts(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return [
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("corpora", "conversations", "utterances")
        ]
    finally:
        conn.close()
