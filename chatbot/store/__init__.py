"""The SQLite store: the only package that touches SQLite.

Callers use one facade, `Store`, made of a room per kind of record, each
in its own module: the connection, schema and migrations (connection.py),
corpora and their conversations (corpora.py), the model registry
(models.py) and chat transcripts (transcripts.py).

Every write is one explicit transaction (`BEGIN IMMEDIATE`): a corpus lands
whole or not at all, also on Ctrl-C or kill -9 (SQLite rolls back an
unfinished transaction the next time the file opens), and a chat exchange is
committed before the chat moves on.

sqlite-utils opens the database and runs statements; the SQL itself is
written out on purpose rather than through its table API: bulk ingestion
needs `executemany` inside our own transaction (the table API commits per
call), the upsert of a model row and the reads are joins and aggregates the
table API does not express, and a reader sees the schema in one place.
"""

from __future__ import annotations

from .connection import MIGRATIONS, SCHEMA_VERSION, default_db_path, default_home
from .corpora import CorpusInfo, CorpusTables
from .models import ModelInfo, ModelRegistry
from .transcripts import TranscriptTables, Turn, exchanges

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "CorpusInfo",
    "ModelInfo",
    "Store",
    "Turn",
    "default_db_path",
    "default_home",
    "exchanges",
]


class Store(CorpusTables, ModelRegistry, TranscriptTables):
    """One SQLite file. Use as a context manager, or call `close()`."""
