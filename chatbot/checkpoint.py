"""A model folder on disk: what it holds, and writing it atomically.

    NAME/
      config.json            the Config the model was trained with
      vocab.json             its vocabulary
      checkpoints/last/      the latest training state (resume from here)
      checkpoints/best/      the state with the best validation perplexity, its model
                             weights the running average that was validated (chat uses this)
      logs/                  TensorBoard logs, when asked for

Each checkpoint folder holds TensorFlow checkpoint files (weights, their
running average, optimizer slots, the carried state), `train_state.json` (epoch, data cursor, step,
metrics) and copies of config.json and vocab.json, so it describes itself.
A checkpoint is written to `NAME.tmp/` and renamed into place, so a crash or
kill -9 leaves either the old checkpoint or the new one, never half of one.
TensorFlow checkpoints and JSON only: loading never unpickles anything.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import Config
from .errors import ModelError
from .files import write_atomic
from .vocab import Vocab

CKPT_PREFIX = "ckpt"
# The starter model shipped inside the package (scripts/train_starter.py writes it).
STARTER = Path(__file__).parent / "starter"


class ModelDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.vocab_path = self.path / "vocab.json"
        self.logs = self.path / "logs"

    def checkpoint(self, which: str) -> Path | None:
        """The folder of checkpoint `which` ("last" or "best"), if one was completed."""
        for candidate in (
            self.path / "checkpoints" / which,
            self.path / "checkpoints" / f"{which}.old",
        ):
            if (candidate / "train_state.json").is_file():
                return candidate
        return None

    def exists(self) -> bool:
        return self.config_path.is_file()

    def create(self, config: Config, vocab: Vocab) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.config_path, config.to_json())
        vocab.save(self.vocab_path)

    def load(self) -> tuple[Config, Vocab]:
        if not self.exists():
            raise ModelError(f"{self.path} is not a model folder (no config.json)")
        return Config.load(self.config_path), Vocab.load(self.vocab_path)

    def write_checkpoint(self, which: str, write_tf: Callable[[str], Any], state: dict) -> Path:
        """Write checkpoint `which` atomically; `write_tf(prefix)` writes the TensorFlow part."""
        root = self.path / "checkpoints"
        final, tmp, old = root / which, root / f"{which}.tmp", root / f"{which}.old"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        write_tf(str(tmp / CKPT_PREFIX))
        shutil.copy(self.config_path, tmp / "config.json")
        shutil.copy(self.vocab_path, tmp / "vocab.json")
        write_atomic(tmp / "train_state.json", json.dumps(state, indent=1))
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        return final

    def read_state(self, which: str) -> tuple[str, dict]:
        """(TensorFlow checkpoint prefix, train_state) of checkpoint `which`."""
        folder = self.checkpoint(which)
        if folder is None:
            raise ModelError(f"{self.path} has no {which} checkpoint; train it first")
        state = json.loads((folder / "train_state.json").read_text(encoding="utf-8"))
        return str(folder / CKPT_PREFIX), state
