"""A model folder on disk: what it holds, and writing it atomically.

    NAME/
      config.json            the model's Config (its sizes: fixed for its life)
      run.json               the RunConfig its training last ran with
      vocab.json             its vocabulary
      checkpoints/last/      the latest training state (resume from here)
      checkpoints/best/      the state with the best validation perplexity, its model
                             weights the running average that was validated (chat uses this)
      logs/                  TensorBoard logs, when asked for

Each checkpoint folder holds TensorFlow checkpoint files (weights, their
running average, optimizer slots, the carried state), `train_state.json` (epoch, data cursor, step,
metrics) and copies of config.json, run.json and vocab.json, so it describes itself.
A checkpoint is written to a fresh `NAME.*.tmp/`, flushed to disk and renamed
into place (`files.replace_folder`), so a crash, kill -9 or power loss at any
point leaves the old checkpoint or the new one (as `NAME/` or `NAME.old/`),
never half of one.
TensorFlow checkpoints and JSON only: loading never unpickles anything.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import Config, RunConfig
from .errors import ModelError, os_reason
from .files import read_json, replace_folder, write_atomic
from .vocab import Vocab

CKPT_PREFIX = "ckpt"
# The starter model shipped inside the package (scripts/train_starter.py writes it).
STARTER = Path(__file__).parent / "starter"


class ModelDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.vocab_path = self.path / "vocab.json"
        self.run_path = self.path / "run.json"
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

    def create(self, config: Config, vocab: Vocab, run: RunConfig | None = None) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.config_path, config.to_json())
        vocab.save(self.vocab_path)
        if run is not None:
            self.write_run(run)

    def write_run(self, run: RunConfig) -> None:
        write_atomic(self.run_path, run.to_json())

    def run_config(self) -> RunConfig:
        """The run settings it was last trained with (in config.json before run.json was)."""
        return RunConfig.load(self.run_path, old_config=self.config_path)

    def chat_decoding(self) -> dict | None:
        """The decoding measured best for chatting with this model (decoding.json,
        written by scripts/choose_decoding.py --save), if there is one."""
        path = self.path / "decoding.json"
        return read_json(path, "the chat decoding") if path.is_file() else None

    def load(self) -> tuple[Config, Vocab]:
        if not self.exists():
            raise ModelError(f"{self.path} is not a model folder (no config.json)")
        return Config.load(self.config_path), Vocab.load(self.vocab_path)

    def write_checkpoint(self, which: str, write_tf: Callable[[str], Any], state: dict) -> Path:
        """Write checkpoint `which` atomically; `write_tf(prefix)` writes the TensorFlow part."""
        root = self.path / "checkpoints"
        root.mkdir(parents=True, exist_ok=True)
        for stale in root.glob(f"{which}.*.tmp"):  # from a killed run (training is locked)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{which}.", suffix=".tmp", dir=root))
        try:
            write_tf(str(tmp / CKPT_PREFIX))
            shutil.copy(self.config_path, tmp / "config.json")
            shutil.copy(self.vocab_path, tmp / "vocab.json")
            if self.run_path.is_file():
                shutil.copy(self.run_path, tmp / "run.json")
            write_atomic(tmp / "train_state.json", json.dumps(state, indent=1))
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)  # the last good checkpoint stays as it was
            raise self._unwritable(which, exc) from None
        replace_folder(tmp, root / which)
        return root / which

    def _unwritable(self, which: str, exc: Exception) -> Exception:
        """A failed checkpoint write as one line (a full disk reaches us from TensorFlow
        as a ResourceExhaustedError that names only a file)."""
        from ._tf import tf

        if isinstance(exc, OSError):
            reason = os_reason(exc)
        elif isinstance(exc, tf.errors.OpError):
            free = shutil.disk_usage(self.path).free / 1e6
            reason = f"TensorFlow: {type(exc).__name__}, {free:,.1f} MB free on its disk"
        else:
            return exc
        return ModelError(
            f"the {which} checkpoint of {self.path} could not be written ({reason}); "
            "make room, then `chatbot train --resume` goes on from the last one"
        )

    @staticmethod
    def read_tf(target: Any, prefix: str, vocab_size: int) -> Any:
        """`target.read(prefix)` (a tf.train.Checkpoint), after checking that the files
        can be read and that the embedding fits the vocabulary; any failure is one
        ModelError line, not a TensorFlow traceback."""
        from ._tf import tf

        folder = Path(prefix).parent
        try:
            shapes = dict(tf.train.list_variables(prefix))
            embedding = [v for k, v in shapes.items() if "embedding" in k and len(v) == 2]
            if embedding and embedding[0][0] != vocab_size:
                raise ModelError(
                    f"{folder}: the checkpoint has {embedding[0][0]} words and vocab.json has "
                    f"{vocab_size}; the folder mixes two models, retrain it"
                )
            return target.read(prefix)
        except (tf.errors.OpError, ValueError, AssertionError, IndexError) as exc:
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc)
            raise ModelError(
                f"{folder}: the checkpoint cannot be read ({reason}); retrain the model or "
                "restore the folder"
            ) from None

    def read_state(self, which: str) -> tuple[str, dict]:
        """(TensorFlow checkpoint prefix, train_state) of checkpoint `which`."""
        folder = self.checkpoint(which)
        if folder is None:
            raise ModelError(f"{self.path} has no {which} checkpoint; train it first")
        state = read_json(folder / "train_state.json", "the training state")
        if not isinstance(state, dict):
            raise ModelError(f"{folder / 'train_state.json'} is not a training state; retrain")
        return str(folder / CKPT_PREFIX), state
