"""ChatterBot YAML corpora: `conversations:` is a list of lists of statements.

Accepts one .yml file or a folder of them (read file by file, in name order;
each file is small). `builtin_path("chatterbot-english")` finds the English
corpus of the installed `chatterbot-corpus` package, so it ingests without a
download. A conversation's id is "<file stem>:<index>".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import UsageError
from .base import Conversation, Problems, Utterance, check_text_file, clean

BUILTINS = {"chatterbot-english": "english"}


def builtin_path(name: str) -> Path:
    if name not in BUILTINS:
        raise UsageError(f"unknown builtin corpus {name!r}; choose from: {', '.join(BUILTINS)}")
    import chatterbot_corpus

    return Path(chatterbot_corpus.__file__).parent / "data" / BUILTINS[name]


def yaml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.suffix in (".yml", ".yaml"))
    if not files:
        raise UsageError(f"no .yml files in {path}; is this a ChatterBot corpus folder?")
    return files


# A ChatterBot file is a few kB (the largest in chatterbot-corpus: ~50 kB); a file
# is parsed whole, and PyYAML's nodes take a couple of hundred times the input's
# size in memory, so it is capped to keep ingestion's memory bounded (README).
MAX_FILE_BYTES = 2 * 1024 * 1024


def _load(text: str) -> object:
    """yaml.safe_load without aliases: `*name` would let a few hundred bytes
    expand to gigabytes (the "billion laughs"), and corpora never need it."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: object, index: object) -> object:
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=NoAliases)  # noqa: S506 - a SafeLoader subclass


def read(path: Path, problems: Problems) -> Iterator[Conversation]:
    import yaml

    for file in yaml_files(path):
        check_text_file(file)
        if file.stat().st_size > MAX_FILE_BYTES:
            problems.error(file, None, f"larger than {MAX_FILE_BYTES >> 20} MB; split it")
            continue
        raw = file.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", errors="replace")
            problems.warn(file, 1, f"bytes not valid utf-8 replaced ({exc.reason})")
        try:
            data = _load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.error(
                file, mark.line + 1 if mark else 1, f"not valid YAML ({exc})".split("\n")[0]
            )
            continue
        except RecursionError:
            problems.error(file, None, "not valid YAML (nested too deeply)")
            continue
        if not isinstance(data, dict) or not isinstance(data.get("conversations"), list):
            problems.error(file, 1, "expected a mapping with a 'conversations:' list")
            continue
        for index, conv in enumerate(data["conversations"], start=1):
            if not isinstance(conv, list):
                problems.error(file, 1, f"conversation {index} is not a list of statements")
                continue
            texts = [clean(str(s)) for s in conv if s is not None and str(s).strip()]
            if texts:
                yield Conversation(f"{file.stem}:{index}", [Utterance(None, t) for t in texts])
