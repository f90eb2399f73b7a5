"""The SQLite store: corpora, conversations, utterances (and later transcripts, models).

This is the only module that touches SQLite. It opens one file with WAL and
foreign keys on, upgrades an older schema in place (`PRAGMA user_version`
holds the version), and refuses a newer one. Bulk ingestion is one
transaction: a corpus lands whole or not at all, also on Ctrl-C or kill -9
(SQLite rolls back an unfinished transaction the next time the file opens).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import sqlite_utils

from .corpora.base import SPLITS, Conversation
from .errors import StoreError

_FLUSH_EVERY = 2000  # conversations per executemany batch: bounded memory, few round trips


def _v1(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE corpora (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            format TEXT NOT NULL,
            source TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            conversations INTEGER NOT NULL DEFAULT 0,
            utterances INTEGER NOT NULL DEFAULT 0,
            tokens INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL)""")
    db.execute("""
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            corpus_id INTEGER NOT NULL REFERENCES corpora(id) ON DELETE CASCADE,
            external_id TEXT NOT NULL,
            split TEXT NOT NULL CHECK (split IN ('train', 'valid', 'test')),
            UNIQUE (corpus_id, external_id))""")
    db.execute("""
        CREATE TABLE utterances (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            speaker TEXT,
            text TEXT NOT NULL,
            UNIQUE (conversation_id, position))""")


def _v2(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            corpus TEXT NOT NULL,
            path TEXT NOT NULL,
            config TEXT NOT NULL,
            metrics TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""")


def _v3(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE transcripts (
            id INTEGER PRIMARY KEY,
            model TEXT NOT NULL,
            settings TEXT NOT NULL,
            started_at TEXT NOT NULL)""")
    db.execute("""
        CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('user', 'bot')),
            text TEXT NOT NULL,
            state BLOB,
            settings TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (transcript_id, position))""")


# MIGRATIONS[i] takes a database at version i to version i + 1.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    format: str
    source: str
    sha256: str
    conversations: int
    utterances: int
    tokens: int
    created_at: str
    splits: dict[str, int]

    @property
    def mean_turns(self) -> float:
        return self.utterances / self.conversations if self.conversations else 0.0


@dataclass(frozen=True)
class ModelInfo:
    name: str
    corpus: str
    path: str
    config: dict
    metrics: dict
    updated_at: str


class Turn(NamedTuple):
    """One stored turn; a bot turn has the state after it and the settings that made it."""

    role: str
    text: str
    state: bytes | None
    settings: dict | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def default_home() -> Path:
    """`$CHATBOT_HOME`, or the user's data directory."""
    if os.environ.get("CHATBOT_HOME"):
        return Path(os.environ["CHATBOT_HOME"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("chatbot", appauthor=False))


def default_db_path() -> Path:
    return default_home() / "chatbot.db"


class Store:
    """One SQLite file. Use as a context manager, or call `close()`."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_db_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder for database {self.path}: {exc.strerror}; "
                "choose another --db"
            ) from None
        try:
            # isolation_level=None: we open transactions ourselves, explicitly.
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode = WAL")
            # Chosen knowingly: in WAL mode NORMAL never corrupts the file and loses
            # nothing when a process dies; only a power loss or OS crash can drop the
            # last commits (FULL would fsync every chat exchange). README says so.
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.conn.close()

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.version
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this chatbot "
                f"understands ({SCHEMA_VERSION}); upgrade chatbot or use another --db"
            )
        while version < SCHEMA_VERSION:
            with self.transaction():
                # Read again under the write lock: another process opening the
                # same new file may have migrated it while we waited.
                version = self.version
                if version < SCHEMA_VERSION:
                    MIGRATIONS[version](self.db)
                    self.db.execute(f"PRAGMA user_version = {version + 1}")
                    version += 1

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (KeyboardInterrupt too)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            # SQLite rolls back by itself on some errors ("database or disk is full");
            # a second ROLLBACK would fail and hide the real error.
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- corpora ---------------------------------------------------------------

    def corpus(self, name: str) -> CorpusInfo:
        row = self.db.execute("SELECT * FROM corpora WHERE name = ?", [name]).fetchone()
        if row is None:
            known = ", ".join(c.name for c in self.corpora()) or "none yet; run `chatbot ingest`"
            raise StoreError(f"no corpus named {name!r} in {self.path} (corpora: {known})")
        return self._info(row)

    def has_corpus(self, name: str) -> bool:
        return (
            self.db.execute("SELECT 1 FROM corpora WHERE name = ?", [name]).fetchone() is not None
        )

    def corpus_by_sha256(self, sha256: str) -> CorpusInfo | None:
        row = self.db.execute("SELECT * FROM corpora WHERE sha256 = ?", [sha256]).fetchone()
        return self._info(row) if row else None

    def corpora(self) -> list[CorpusInfo]:
        rows = self.db.execute("SELECT * FROM corpora ORDER BY name").fetchall()
        return [self._info(r) for r in rows]

    def _info(self, row: tuple) -> CorpusInfo:
        splits = dict(
            self.db.execute(
                "SELECT split, count(*) FROM conversations WHERE corpus_id = ? GROUP BY split",
                [row[0]],
            ).fetchall()
        )
        return CorpusInfo(*row[1:9], splits={s: splits.get(s, 0) for s in SPLITS})  # type: ignore[misc]

    def remove_corpus(self, name: str) -> None:
        self.corpus(name)  # a clear error when it does not exist
        with self.transaction():
            self.db.execute("DELETE FROM corpora WHERE name = ?", [name])

    def add_corpus(
        self,
        name: str,
        fmt: str,
        source: str,
        sha256: str,
        conversations: Iterable[Conversation],
        replace: bool = False,
    ) -> CorpusInfo:
        """Insert a corpus and all its conversations in one transaction.

        Every conversation must carry its split. With `replace`, a corpus of
        the same name is deleted in the same transaction, so a failed
        re-ingestion leaves the old one in place.
        """
        with self.transaction():
            if replace:
                self.db.execute("DELETE FROM corpora WHERE name = ?", [name])
            elif self.has_corpus(name):
                raise StoreError(f"a corpus named {name!r} exists; use --replace or another --name")
            now = _now()
            cur = self.db.execute(
                "INSERT INTO corpora (name, format, source, sha256, created_at) VALUES (?,?,?,?,?)",
                [name, fmt, source, sha256, now],
            )
            counts = self._insert_conversations(cur.lastrowid, conversations)
            self.db.execute(
                "UPDATE corpora SET conversations=?, utterances=?, tokens=? WHERE name=?",
                [*counts, name],
            )
        return self.corpus(name)

    def _insert_conversations(
        self, corpus_id: int | None, conversations: Iterable[Conversation]
    ) -> tuple[int, int, int]:
        # Ids are assigned here rather than read back row by row: inside the
        # IMMEDIATE transaction no other writer can take them.
        next_id = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM conversations").fetchone()[
            0
        ]
        n_conv = n_utt = n_tok = 0
        conv_rows: list[tuple] = []
        utt_rows: list[tuple] = []
        for conv in conversations:
            utts = conv.utterances
            conv_rows.append((next_id, corpus_id, conv.external_id, conv.split))
            utt_rows.extend([(next_id, pos, who, text) for pos, (who, text) in enumerate(utts)])
            # Readers give single-spaced, stripped text: words = spaces + 1.
            n_tok += " ".join([text for _, text in utts]).count(" ") + 1
            n_utt += len(utts)
            next_id += 1
            n_conv += 1
            if len(conv_rows) >= _FLUSH_EVERY:
                self._flush(conv_rows, utt_rows)
        self._flush(conv_rows, utt_rows)
        return n_conv, n_utt, n_tok

    def _flush(self, conv_rows: list[tuple], utt_rows: list[tuple]) -> None:
        self.db.conn.executemany(
            "INSERT INTO conversations (id, corpus_id, external_id, split) VALUES (?,?,?,?)",
            conv_rows,
        )
        self.db.conn.executemany(
            "INSERT INTO utterances (conversation_id, position, speaker, text) VALUES (?,?,?,?)",
            utt_rows,
        )
        conv_rows.clear()
        utt_rows.clear()

    # -- models ------------------------------------------------------------------

    def register_model(self, name: str, corpus: str, path: str, config: str, metrics: dict) -> None:
        """Insert or update model `name` (config is JSON text; metrics a dict)."""
        now = _now()
        with self.transaction():
            self.db.execute(
                """INSERT INTO models (name, corpus, path, config, metrics, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET corpus = excluded.corpus,
                   path = excluded.path, config = excluded.config,
                   metrics = excluded.metrics, updated_at = excluded.updated_at""",
                [name, corpus, path, config, json.dumps(metrics), now, now],
            )

    def models(self) -> list[ModelInfo]:
        rows = self.db.execute(
            "SELECT name, corpus, path, config, metrics, updated_at FROM models ORDER BY name"
        ).fetchall()
        return [ModelInfo(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), r[5]) for r in rows]

    def model(self, name: str) -> ModelInfo:
        for info in self.models():
            if info.name == name:
                return info
        known = ", ".join(m.name for m in self.models()) or "none yet; run `chatbot train`"
        raise StoreError(f"no model named {name!r} in {self.path} (models: {known})")

    # -- transcripts -----------------------------------------------------------

    def start_transcript(self, model: str, settings: dict) -> int:
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO transcripts (model, settings, started_at) VALUES (?, ?, ?)",
                [model, json.dumps(settings), _now()],
            )
        return int(cur.lastrowid or 0)

    def add_exchange(
        self, transcript_id: int, user: str, bot: str, state: bytes, settings: dict
    ) -> None:
        """Commit one exchange at once (a killed chat loses nothing).

        `state` is the state after the reply; `settings` the decoding settings that made it.
        """
        with self.transaction():
            (pos,) = self.db.execute(
                "SELECT coalesce(max(position), -1) + 1 FROM turns WHERE transcript_id = ?",
                [transcript_id],
            ).fetchone()
            now = _now()
            self.db.conn.executemany(
                "INSERT INTO turns (transcript_id, position, role, text, state, settings, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (transcript_id, pos, "user", user, None, None, now),
                    (transcript_id, pos + 1, "bot", bot, state, json.dumps(settings), now),
                ],
            )

    def drop_last_exchange(self, transcript_id: int) -> None:
        with self.transaction():
            self.db.execute(
                """DELETE FROM turns WHERE transcript_id = ? AND position >= (
                     SELECT max(position) - 1 FROM turns WHERE transcript_id = ?)""",
                [transcript_id, transcript_id],
            )

    def transcript(self, transcript_id: int) -> tuple[dict, list[Turn]]:
        """(header, turns in order) of a transcript."""
        row = self.db.execute(
            "SELECT id, model, settings, started_at FROM transcripts WHERE id = ?", [transcript_id]
        ).fetchone()
        if row is None:
            raise StoreError(
                f"no transcript {transcript_id} in {self.path}; see `chatbot transcripts`"
            )
        rows = self.db.execute(
            "SELECT role, text, state, settings FROM turns WHERE transcript_id = ? "
            "ORDER BY position",
            [transcript_id],
        ).fetchall()
        turns = [Turn(r, t, st, json.loads(se) if se else None) for r, t, st, se in rows]
        header = {
            "id": row[0],
            "model": row[1],
            "settings": json.loads(row[2]),
            "started_at": row[3],
        }
        return header, turns

    def transcripts(self) -> list[tuple[int, str, str, int, str]]:
        """(id, model, started_at, turns, first user line) of every transcript, newest first."""
        return self.db.execute(
            """SELECT t.id, t.model, t.started_at, count(u.id),
                      coalesce((SELECT text FROM turns WHERE transcript_id = t.id ORDER BY position
                                LIMIT 1), '')
               FROM transcripts t LEFT JOIN turns u ON u.transcript_id = t.id
               GROUP BY t.id ORDER BY t.id DESC"""
        ).fetchall()

    # -- reading conversations back -------------------------------------------

    def conversation(self, corpus: str, external_id: str) -> list[tuple[str | None, str]]:
        """(speaker, text) of each utterance of one conversation."""
        rows = self.db.execute(
            """SELECT u.speaker, u.text FROM utterances u
               JOIN conversations c ON c.id = u.conversation_id
               JOIN corpora k ON k.id = c.corpus_id
               WHERE k.name = ? AND c.external_id = ? ORDER BY u.position""",
            [corpus, external_id],
        ).fetchall()
        if not rows:
            self.corpus(corpus)
            raise StoreError(f"corpus {corpus!r} has no conversation {external_id!r}")
        return rows

    def conversation_ids(self, corpus: str, limit: int = 10) -> list[tuple[str, str, int]]:
        """(external id, split, utterances) of the first `limit` conversations."""
        return self.db.execute(
            """SELECT c.external_id, c.split,
                      (SELECT count(*) FROM utterances u WHERE u.conversation_id = c.id)
               FROM conversations c JOIN corpora k ON k.id = c.corpus_id
               WHERE k.name = ? ORDER BY c.id LIMIT ?""",
            [corpus, limit],
        ).fetchall()

    def exchange_count(self, corpus: str, split: str) -> int:
        """Exchanges (utterance pairs) in a split: the training stream's length."""
        row = self.db.execute(
            """SELECT coalesce(sum(n - 1), 0) FROM (
                 SELECT count(*) AS n FROM utterances u
                 JOIN conversations c ON c.id = u.conversation_id
                 JOIN corpora k ON k.id = c.corpus_id
                 WHERE k.name = ? AND c.split = ? GROUP BY c.id)""",
            [corpus, split],
        ).fetchone()
        return int(row[0])

    def conversation_count(self, corpus: str, split: str) -> int:
        return self.corpus(corpus).splits.get(split, 0)

    def iter_conversations(self, corpus: str, split: str | None = None) -> Iterator[list[str]]:
        """The utterance texts of each conversation, streamed in storage order."""
        corpus_id = self.db.execute("SELECT id FROM corpora WHERE name = ?", [corpus]).fetchone()
        if corpus_id is None:
            self.corpus(corpus)
        sql = """SELECT u.conversation_id, u.text FROM utterances u
                 JOIN conversations c ON c.id = u.conversation_id
                 WHERE c.corpus_id = ? {} ORDER BY u.conversation_id, u.position"""
        args: list = [corpus_id[0]]
        if split:
            args.append(split)
        cursor = self.db.conn.execute(sql.format("AND c.split = ?" if split else ""), args)
        current, texts = None, list[str]()
        for conv_id, text in cursor:
            if conv_id != current and texts:
                yield texts
                texts = []
            current = conv_id
            texts.append(text)
        if texts:
            yield texts
