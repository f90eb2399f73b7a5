"""Ingestion: a corpus file or folder -> one transaction in the store.

The policy lives here (the store only writes rows): detect the format, hash
the input so the same input twice is a no-op, give every conversation a split
(the corpus's official one, else a hash of its id), drop repeated ids, and
refuse an input in which nothing valid remains.
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import corpora
from .corpora import Conversation, Problems
from .corpora.base import hash_split
from .errors import CorpusFormatError, UsageError
from .store import CorpusInfo, Store

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class IngestResult:
    corpus: CorpusInfo
    already_present: bool = False
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    warned: int = 0


def check_name(name: str, kind: str) -> str:
    """Names end up in file paths and commands: keep them to a safe alphabet."""
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"{kind} name must be letters, digits, '.', '_' or '-' (at most 64). Received: {name!r}"
        )
    return name


def content_sha256(path: Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, in name order)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            h.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def ingest(
    store: Store,
    path: str | Path,
    fmt: str | None = None,
    name: str | None = None,
    replace: bool = False,
    on_error: str = "skip",
    progress: Callable[[Iterable[Conversation]], Iterable[Conversation]] = lambda it: it,
) -> IngestResult:
    """Read `path` and store it as corpus `name`, whole or not at all."""
    path = Path(path)
    problems = Problems(on_error)
    fmt = fmt or corpora.detect(path)
    name = check_name(name or path.stem, "corpus")
    conversations = corpora.read(path, fmt, problems)  # validates fmt and path first
    if not (path.is_file() or path.is_dir()):  # a FIFO or a device would never end
        raise UsageError(f"{path} is not a regular file or a folder; give a corpus file")
    sha = content_sha256(path)
    existing = store.corpus_by_sha256(sha)
    if existing and not replace:
        return IngestResult(existing, already_present=True)
    stream = progress(_prepared(conversations, problems, path))
    with _gc_paused():
        info = store.add_corpus(name, fmt, str(path.resolve()), sha, stream, replace=replace)
    return IngestResult(
        info, False, problems.skipped, problems.errors, problems.warnings, problems.warned
    )


def ingest_generated(
    store: Store,
    conversations: Iterable[Conversation],
    fmt: str,
    name: str,
    recipe: str,
    replace: bool = False,
    progress: Callable[[Iterable[Conversation]], Iterable[Conversation]] = lambda it: it,
) -> IngestResult:
    """Store generated `conversations` as corpus `name`, whole or not at all. `recipe`
    (what made them: generator, version, arguments) stands in for a file's content:
    the same recipe twice is a no-op."""
    name = check_name(name, "corpus")
    sha = hashlib.sha256(recipe.encode("utf-8")).hexdigest()
    existing = store.corpus_by_sha256(sha)
    if existing and not replace:
        return IngestResult(existing, already_present=True)
    problems = Problems("fail")
    stream = progress(_prepared(conversations, problems, Path(recipe)))
    with _gc_paused():
        info = store.add_corpus(name, fmt, recipe, sha, stream, replace=replace)
    return IngestResult(info)


def ingest_recall(
    store: Store,
    name: str,
    conversations: int,
    seed: int,
    replace: bool = False,
    progress: Callable[[Iterable[Conversation]], Iterable[Conversation]] = lambda it: it,
) -> IngestResult:
    """The recall corpus (corpora/recall.py), its small talk from chitchat's train split."""
    from .corpora import chitchat, recall

    recipe = f"recall v{recall.VERSION} --conversations {conversations} --seed {seed}"
    pairs = recall.filler_pairs(chitchat.builtin_path())
    generated = recall.conversations(conversations, seed, pairs)
    return ingest_generated(store, generated, "recall", name, recipe, replace, progress)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while rows are built.

    Ingestion allocates hundreds of thousands of small tuples and no cycles;
    the collector would rescan them over and over (docs/architecture.md, "Fast
    paths"). Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _prepared(
    conversations: Iterable[Conversation], problems: Problems, path: Path
) -> Iterator[Conversation]:
    """Assign splits, drop repeated ids, and fail (inside the transaction) if nothing is valid."""
    seen: set[str] = set()
    for conv in conversations:
        if conv.external_id in seen:
            problems.error(path, None, f"conversation id {conv.external_id!r} repeats; skipped")
            continue
        seen.add(conv.external_id)
        conv.split = conv.split or hash_split(conv.external_id)
        yield conv
    if not seen:
        first = f" (first problem: {problems.errors[0]})" if problems.errors else ""
        raise CorpusFormatError(f"no valid conversations in {path}{first}")
