"""A corpus as TFRecord shards, for training where one SQLite file's round trips are
too slow or too far away (many workers, a corpus the size of OpenSubtitles).

    OUT/
      manifest.json                     corpus, shard count, per-split counts
      train-00000-of-00004.tfrecord     conversation i of a split is in shard i mod 4
      ...
      valid-00000-of-00004.tfrecord
      test-00000-of-00004.tfrecord

A record is one conversation, whole: a `tf.train.Example` with `id`,
`prompts` (the positions of the utterances the model reads but does not learn
to say: `corpora.base.Prompt`) and `utterances` (each utterance's tokens from
`chatbot.text.tokenize`, joined by single spaces; tokenizing them again gives
the same tokens, so training needs no second vocabulary pass over raw text). Vocabulary-free, so one
export serves models of any vocabulary size.

`ShardCorpus` reads the shards back in the original order (round-robin over
the files) and answers what training asks of a store (`streams.ConversationSource`),
so `train()` accepts it in place of one; every worker then takes its own
conversations from the stream (distribute.py).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .._tf import tf
from ..corpora.base import SPLITS, Prompt
from ..errors import CorpusFormatError, UsageError
from ..files import read_json, write_atomic
from ..store import Store
from ..text import tokenize

FORMAT = {"format": "chatbot-shards", "version": 1}


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def _example(conversation_id: str, utterances: list[str]) -> bytes:
    feature = {
        "id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[conversation_id.encode()])),
        "prompts": tf.train.Feature(
            int64_list=tf.train.Int64List(
                value=[i for i, u in enumerate(utterances) if isinstance(u, Prompt)]
            )
        ),
        "utterances": tf.train.Feature(
            bytes_list=tf.train.BytesList(
                value=[" ".join(tokenize(u)).encode() for u in utterances]
            )
        ),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def export_shards(
    store: Store, corpus: str, out: str | Path, shards: int = 4, progress=None
) -> dict:
    """Write `corpus` as `shards` TFRecord files per split into `out`; returns the manifest.

    Written into a sibling temporary folder and renamed at the end: an
    interrupted export leaves nothing that looks finished.
    """
    out = Path(out)
    if shards < 1:
        raise UsageError(f"--shards must be at least 1. Received: {shards}")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty; choose a new folder for the shards")
    store.corpus(corpus)  # a clear error for an unknown corpus
    out.parent.mkdir(parents=True, exist_ok=True)
    # A folder of our own with a unique name: one the user has beside OUT is never touched.
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        return _write_shards(store, corpus, out, shards, tmp, progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_shards(store: Store, corpus: str, out: Path, shards: int, tmp: Path, progress) -> dict:
    manifest: dict = {**FORMAT, "corpus": corpus, "shards": shards, "splits": {}}
    for split in SPLITS:
        names = [shard_name(split, i, shards) for i in range(shards)]
        writers = [tf.io.TFRecordWriter(str(tmp / n)) for n in names]
        conversations = exchanges = 0
        for i, utterances in enumerate(store.iter_conversations(corpus, split)):
            writers[i % shards].write(_example(f"{split}-{i}", utterances))
            conversations += 1
            exchanges += max(len(utterances) - 1, 0)
            if progress is not None:
                progress(1)
        for w in writers:
            w.close()
        manifest["splits"][split] = {
            "conversations": conversations,
            "exchanges": exchanges,
            "files": names,
        }
    write_atomic(tmp / "manifest.json", json.dumps(manifest, indent=1))
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return manifest


class ShardCorpus:
    """Shards read back as a store's training interface: `iter_conversations` and
    `exchange_count` (the corpus name argument is accepted and ignored)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        path = self.folder / "manifest.json"
        if not path.is_file():
            raise UsageError(
                f"{self.folder} has no manifest.json; write shards with `chatbot export-shards`"
            )
        self.manifest = read_json(path, "shard manifest")
        if not isinstance(self.manifest, dict) or any(
            self.manifest.get(k) != v for k, v in FORMAT.items()
        ):
            raise UsageError(f"{path} is not a chatbot-shards manifest of version 1")
        _check_manifest(self.manifest, self.folder, path)
        self.name = self.manifest["corpus"]

    def corpus(self, name: str) -> str:
        return self.name

    def exchange_count(self, corpus: str, split: str) -> int:
        return int(self.manifest["splits"].get(split, {}).get("exchanges", 0))

    def conversation_count(self, corpus: str, split: str) -> int:
        return int(self.manifest["splits"].get(split, {}).get("conversations", 0))

    def iter_conversations(self, corpus: str, split: str | None = None) -> Iterator[list[str]]:
        files = self.manifest["splits"].get(split or "train", {}).get("files", [])
        if not files:
            return
        paths = tf.data.Dataset.from_tensor_slices([str(self.folder / f) for f in files])
        # One record from each file in turn: the order the conversations were written in.
        records = paths.interleave(tf.data.TFRecordDataset, cycle_length=len(files), block_length=1)
        spec = {
            "utterances": tf.io.VarLenFeature(tf.string),
            "prompts": tf.io.VarLenFeature(tf.int64),  # absent in older shards: none
        }
        parsed = records.map(
            lambda r: {k: v.values for k, v in tf.io.parse_single_example(r, spec).items()}
        )
        try:
            for record in parsed.as_numpy_iterator():
                prompts = set(record["prompts"].tolist())
                texts = [u.decode(errors="replace") for u in record["utterances"]]
                yield [Prompt(t) if i in prompts else t for i, t in enumerate(texts)]
        except tf.errors.OpError as exc:  # a damaged or foreign file: TensorFlow's own words
            reason = exc.message.splitlines()[0].split("}}")[-1].strip()
            raise CorpusFormatError(
                f"a shard in {self.folder} cannot be read ({reason[:200]}); "
                "write the shards again with `chatbot export-shards`"
            ) from None


def _check_manifest(manifest: dict, folder: Path, path: Path) -> None:
    """Refuse, in one line, a manifest whose fields are not what export_shards writes,
    or whose files are not plain files inside its own folder."""

    def bad(what: str) -> UsageError:
        return UsageError(f"{path}: {what}; write the shards again with `chatbot export-shards`")

    splits = manifest.get("splits")
    if not isinstance(manifest.get("corpus"), str) or not isinstance(splits, dict):
        raise bad("'corpus' must be a name and 'splits' an object")
    for split, entry in splits.items():
        if split not in SPLITS or not isinstance(entry, dict):
            raise bad(f"unknown split {split!r}")
        for key in ("conversations", "exchanges"):
            value = entry.get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise bad(f"{split}.{key} must be a count. Received: {value!r}")
        files = entry.get("files", [])
        if not isinstance(files, list):
            raise bad(f"{split}.files must be a list of file names")
        for name in files:
            # Only names inside the folder: a manifest must not reach other files.
            if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
                raise bad(f"{split}.files names {name!r}, which is not a file in {folder}")
            if not (folder / name).is_file():
                raise bad(f"{split}.files names {name}, which is missing")
