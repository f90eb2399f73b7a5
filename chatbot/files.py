"""Small file helpers shared by the modules that write a model folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ModelError


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file, then rename it over `path`: never half a file."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
    tmp.replace(path)


def read_json(path: str | Path, what: str) -> Any:
    """Parsed JSON, or a ModelError naming `what` could not be read and why."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {what} {path}: {exc}") from None
