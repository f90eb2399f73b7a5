"""Transcripts: every chat exchange, committed as it happens, with its state and settings."""

from __future__ import annotations

import json
from typing import NamedTuple

from ..errors import StoreError
from .connection import Connection, _now


class Turn(NamedTuple):
    """One stored turn; a bot turn has the state after it and the settings that made it."""

    role: str
    text: str
    state: bytes | None
    settings: dict | None


def exchanges(turns: list[Turn]) -> list[tuple[Turn, Turn]]:
    """(user turn, bot turn) pairs of a transcript, in order."""
    users = [t for t in turns if t.role == "user"]
    bots = [t for t in turns if t.role == "bot"]
    return list(zip(users, bots, strict=False))


class TranscriptTables(Connection):
    """The transcripts and turns tables."""

    def start_transcript(self, model: str, settings: dict, key: str | None = None) -> int:
        """A new transcript's id; `key`, when given, is how a server's clients name it."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO transcripts (model, settings, started_at, key) VALUES (?, ?, ?, ?)",
                [model, json.dumps(settings), _now(), key],
            )
        return int(cur.lastrowid or 0)

    def transcript_by_key(self, key: str) -> int | None:
        """The id of the transcript started with `key`, or None."""
        row = self.db.execute("SELECT id FROM transcripts WHERE key = ?", [key]).fetchone()
        return None if row is None else int(row[0])

    def transcript_key(self, transcript_id: int) -> str | None:
        row = self.db.execute(
            "SELECT key FROM transcripts WHERE id = ?", [transcript_id]
        ).fetchone()
        return None if row is None else row[0]

    def add_exchange(
        self, transcript_id: int, user: str, bot: str, state: bytes, settings: dict
    ) -> None:
        """Commit one exchange at once (a killed chat loses nothing).

        `state` is the state after the reply; `settings` the decoding settings that made it.
        """
        self.add_exchanges([(transcript_id, user, bot, state, settings)])

    def add_exchanges(self, exchanges: list[tuple[int, str, str, bytes, dict]]) -> None:
        """Commit several exchanges (`add_exchange`'s arguments each) in one
        transaction: all of them or none (a server's batch of replies)."""
        with self.transaction():
            now = _now()
            for transcript_id, user, bot, state, settings in exchanges:
                (pos,) = self.db.execute(
                    "SELECT coalesce(max(position), -1) + 1 FROM turns WHERE transcript_id = ?",
                    [transcript_id],
                ).fetchone()
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

    def delete_transcript(self, transcript_id: int) -> None:
        """Remove a transcript and its turns (an unknown id raises StoreError)."""
        self.transcript(transcript_id)
        with self.transaction():
            self.db.execute("DELETE FROM transcripts WHERE id = ?", [transcript_id])

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
