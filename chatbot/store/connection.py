"""The SQLite file: opening it, the schema and its migrations, and transactions.

The file runs in WAL mode with foreign keys on. `PRAGMA user_version` holds the
schema version: an older database is upgraded in place, a newer one refused.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import sqlite_utils

from ..errors import StoreError, os_reason


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


def _v4(db: sqlite_utils.Database) -> None:
    # A conversation served over HTTP is reached by a random key, not its row id,
    # which anyone could count through.
    db.execute("ALTER TABLE transcripts ADD COLUMN key TEXT")
    db.execute("CREATE UNIQUE INDEX transcripts_key ON transcripts (key)")


# MIGRATIONS[i] takes a database at version i to version i + 1.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4]
SCHEMA_VERSION = len(MIGRATIONS)


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


class Connection:
    """One SQLite file, opened and migrated. Use as a context manager, or call `close()`."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_db_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder for database {self.path}: {os_reason(exc)}; "
                "choose another --db"
            ) from None
        # A database in a folder that cannot be written (a read-only mount, another
        # user's files) is opened read-only, so it can at least be listed: WAL
        # needs to write beside the file. Writing to it is refused in one line.
        self.read_only = self.path.is_file() and not os.access(self.path.parent, os.W_OK)
        try:
            # isolation_level=None: we open transactions ourselves, explicitly.
            if self.read_only:
                # immutable: SQLite reads without the -shm file it cannot create.
                uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
                conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
            else:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self._identity = _identity(self.path)
            if not self.read_only:
                self.db.execute("PRAGMA journal_mode = WAL")
            # Chosen knowingly: in WAL mode NORMAL never corrupts the file and loses
            # nothing when a process dies; only a power loss or OS crash can drop the
            # last commits (FULL would fsync every chat exchange). README says so.
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from None

    def __enter__(self) -> Self:
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
        if version < SCHEMA_VERSION and self.read_only:
            raise StoreError(
                f"database {self.path} is read-only and needs upgrading to schema version "
                f"{SCHEMA_VERSION}; open it once where its folder can be written"
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
        if self.read_only:
            raise StoreError(
                f"database {self.path} is read-only (its folder cannot be written); nothing "
                "was stored. Use a database where you can write (--db)"
            )
        # SQLite keeps writing to a file deleted under it, and every commit would be
        # lost without a word when the process ends: refuse instead.
        if _identity(self.path) != self._identity:
            raise StoreError(
                f"the database {self.path} was deleted or replaced while in use; nothing "
                "was stored. Start again (a new database is made at that path)"
            )
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


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the database file, or None where there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
