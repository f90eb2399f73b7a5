"""The model registry: which model folders exist, on which corpus, with what metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreError
from .connection import Connection, _now


@dataclass(frozen=True)
class ModelInfo:
    name: str
    corpus: str
    path: str
    config: dict
    metrics: dict
    updated_at: str


class ModelRegistry(Connection):
    """The models table."""

    @property
    def models_folder(self) -> Path:
        """Model folders live next to the database."""
        return self.path.parent / "models"

    def training_lock(self, name: str) -> Path:
        """The file a run training model `name` holds locked (files.exclusive_lock)."""
        return self.models_folder / f".{name}.lock"

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

    def remove_model(self, name: str) -> None:
        """Forget model `name` (its folder is the caller's to delete)."""
        self.model(name)  # a clear error when it does not exist
        with self.transaction():
            self.db.execute("DELETE FROM models WHERE name = ?", [name])

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
