"""DailyDialog: `dialogues_*.txt`, one dialogue per line, utterances ending in `__eou__`.

Given the corpus folder, the official files give the splits:
`dialogues_train.txt` -> train, `dialogues_validation.txt` -> valid,
`dialogues_test.txt` -> test (found at any depth, as in the official
train/ validation/ test/ layout). Any other `dialogues_*.txt` holding text
(for example the unsplit `dialogues_text.txt`) is read without an official
split. The act, emotion and topic label files are not utterances and are
skipped. A dialogue's id is "<file stem>:<line number>".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import UsageError
from .base import Conversation, Problems, Utterance, clean, read_lines

OFFICIAL_SPLITS = {"train": "train", "validation": "valid", "test": "test"}
LABEL_FILES = ("dialogues_act", "dialogues_emotion", "dialogues_topic")
EOU = "__eou__"


def dialogue_files(path: Path) -> list[Path]:
    """The utterance files of a DailyDialog folder, in train, validation, test order."""
    if path.is_file():
        return [path]
    files = [p for p in path.rglob("dialogues_*.txt") if not p.name.startswith(LABEL_FILES)]
    order = list(OFFICIAL_SPLITS)
    files.sort(key=lambda p: (order.index(_split_key(p)) if _split_key(p) in order else 9, str(p)))
    if not files:
        raise UsageError(f"no dialogues_*.txt files in {path}; is this a DailyDialog folder?")
    return files


def _split_key(path: Path) -> str:
    return path.stem.removeprefix("dialogues_")


def read(path: Path, problems: Problems) -> Iterator[Conversation]:
    for file in dialogue_files(path):
        split = OFFICIAL_SPLITS.get(_split_key(file))
        for number, line in read_lines(file, problems):
            if not line.strip():
                continue
            if EOU not in line:
                problems.error(file, number, f"no {EOU} marker: not a DailyDialog dialogue line")
                continue
            texts = [clean(t) for t in line.split(EOU)]
            texts = [t for t in texts if t]
            if not texts:
                problems.error(file, number, "dialogue has no utterances")
                continue
            # Speakers alternate in DailyDialog; the corpus does not name them.
            turns = [Utterance("AB"[i % 2], t) for i, t in enumerate(texts)]
            yield Conversation(f"{file.stem}:{number}", turns, split)
