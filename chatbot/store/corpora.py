"""Corpora: ingesting conversations in one transaction, and reading them back."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..corpora.base import SPLITS, USER, Conversation, Prompt
from ..errors import StoreError
from .connection import Connection, _now

_FLUSH_EVERY = 2000  # conversations per executemany batch: bounded memory, few round trips
_FLUSH_CHARS = 16_000_000  # ... or sooner, once the batch holds this much text (long lines)


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


class CorpusTables(Connection):
    """The corpora, conversations and utterances tables."""

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
        n_conv = n_utt = n_tok = held = 0
        conv_rows: list[tuple] = []
        utt_rows: list[tuple] = []
        for conv in conversations:
            utts = conv.utterances
            conv_rows.append((next_id, corpus_id, conv.external_id, conv.split))
            utt_rows.extend([(next_id, pos, who, text) for pos, (who, text) in enumerate(utts)])
            # Readers give single-spaced, stripped text: words = spaces + 1.
            joined = " ".join([text for _, text in utts])
            n_tok += joined.count(" ") + 1
            held += len(joined)
            n_utt += len(utts)
            next_id += 1
            n_conv += 1
            if len(conv_rows) >= _FLUSH_EVERY or held >= _FLUSH_CHARS:
                self._flush(conv_rows, utt_rows)
                held = 0
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
        """The utterance texts of each conversation, streamed in storage order; what the
        USER says comes as a `Prompt` (read, never learned as a reply)."""
        corpus_id = self.db.execute("SELECT id FROM corpora WHERE name = ?", [corpus]).fetchone()
        if corpus_id is None:
            self.corpus(corpus)
        sql = """SELECT u.conversation_id, u.speaker, u.text FROM utterances u
                 JOIN conversations c ON c.id = u.conversation_id
                 WHERE c.corpus_id = ? {} ORDER BY u.conversation_id, u.position"""
        args: list = [corpus_id[0]]
        if split:
            args.append(split)
        cursor = self.db.conn.execute(sql.format("AND c.split = ?" if split else ""), args)
        current, texts = None, list[str]()
        for conv_id, speaker, text in cursor:
            if conv_id != current and texts:
                yield texts
                texts = []
            current = conv_id
            texts.append(Prompt(text) if speaker == USER else text)
        if texts:
            yield texts
