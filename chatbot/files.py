"""Small file helpers shared by the modules that write a model folder or a saved chat."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import ModelError


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in `folder` durable (POSIX; a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """Flush every file under `folder`, then the folders themselves, to disk."""
    for root, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(Path(root))


def replace_folder(new: Path, final: Path) -> None:
    """Move the complete folder `new` to `final` so that a crash at any point leaves
    a complete folder at `final` or at `final.old` (which readers fall back to):
    the old copy is renamed aside before the new one takes its name, and an
    aside copy is deleted only while a complete `final` exists."""
    old = final.with_name(final.name + ".old")
    fsync_tree(new)
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)  # stale: `final` is complete
        final.rename(old)
    new.rename(final)
    fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def exclusive_lock(path: Path, busy: str) -> Iterator[None]:
    """Hold an advisory lock on `path` (created if needed) or raise ModelError(`busy`)
    when another process holds it. The kernel drops it when the process dies, so a
    killed run never leaves a stale lock. Where flock does not exist, no lock."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ModelError(busy) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_locked(path: Path) -> bool:
    """Whether a process holds `path` under `exclusive_lock` now. A shared lock, taken
    and dropped at once, tells; the file is never created. Where flock does not
    exist, we cannot tell, and say it is held."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return True
    try:
        f = open(path)  # noqa: SIM115 - closed below; read-only, so never created
    except FileNotFoundError:
        return False
    except OSError:  # unreadable: we cannot tell
        return True
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that a crash leaves the old file or the new one, never
    half of one: a uniquely named temporary file beside it, flushed to disk, renamed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def read_json(path: str | Path, what: str) -> Any:
    """Parsed JSON, or a ModelError naming `what` could not be read and why."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {what} {path}: {exc}") from None
    except RecursionError:
        raise ModelError(f"cannot read {what} {path}: nested too deeply") from None
