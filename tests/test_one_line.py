"""Paths that once ended in "unexpected …Error, please report it" or in an error line
with no reason in it (issue 36): each is now one line that names the problem."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from chatbot.errors import ModelError, UsageError, os_reason

from .conftest import write


def test_a_byte_order_mark_is_not_text(tmp_path):
    from chatbot import corpora
    from chatbot.corpora import Problems

    bom = "\ufeff".encode()
    lines = b'{"id": "a", "turns": ["hello there", "hi"]}\n{"id": "b", "turns": ["x", "y"]}\n'
    jsonl = write(tmp_path / "bom.jsonl", bom + lines)
    text = write(tmp_path / "bom.txt", bom + b"hello there\nhi\n")
    problems = Problems()
    records = list(corpora.read(jsonl, "jsonl", problems))
    assert [c.external_id for c in records] == ["a", "b"] and problems.skipped == 0
    first = next(iter(corpora.read(text, "text", Problems()))).utterances[0].text
    assert first == "hello there"


def test_replay_of_a_non_ascii_digit_or_a_bad_file_is_one_line(run, tmp_path):
    result = run("replay", "²")
    assert result.exit_code == 2
    assert result.output.strip() == "Error: ² is neither a transcript id nor a JSONL file"
    bad = write(tmp_path / "bad.jsonl", "not json\n")
    result = run("replay", str(bad))
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    # replay has no --on-error: its hint must not send the user to one
    assert "--on-error" not in result.output and "transcripts export" in result.output


@pytest.mark.tf
def test_resuming_a_transcript_with_another_model_is_one_line(run, store):
    tid = store.start_transcript("another", {})
    store.add_exchange(tid, "hi", "hello", b"\0" * 8, {})
    result = run("chat", "--resume", str(tid), "--model", "starter")
    assert result.exit_code == 2
    assert "made with model 'another'" in result.output
    assert "--model another" in result.output and "Traceback" not in result.output


def test_a_state_stored_by_a_model_of_other_sizes_is_one_line():
    from chatbot.session import unpack_state

    with pytest.raises(ModelError, match="retrained with other sizes"):
        unpack_state(b"\0" * 4 * 384, 2, 16)


def _shards(tmp_path, **change):
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "train-00000-of-00001.tfrecord").write_bytes(b"")
    splits = {"train": {"conversations": 1, "exchanges": 1, "files": []}}
    splits["train"]["files"] = ["train-00000-of-00001.tfrecord"]
    manifest = {"format": "chatbot-shards", "version": 1, "corpus": "c", "splits": splits}
    for key, value in change.items():
        if key in manifest:
            manifest[key] = value
        else:
            splits["train"][key] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.parametrize(
    "change, says",
    [
        ({"files": ["../../etc/passwd"]}, "not a file in"),
        ({"files": ["/etc/passwd"]}, "not a file in"),
        ({"files": ["missing.tfrecord"]}, "which is missing"),
        ({"files": 5}, "must be a list"),
        ({"exchanges": -1}, "must be a count"),
        ({"corpus": None}, "'corpus' must be a name"),
        ({"splits": {"other": {}}}, "unknown split"),
    ],
)
def test_a_shard_manifest_that_reaches_outside_its_folder_is_one_line(tmp_path, change, says):
    from chatbot.training.shards import ShardCorpus

    with pytest.raises(UsageError, match=says):
        ShardCorpus(_shards(tmp_path, **change))


@pytest.mark.tf
def test_a_damaged_shard_is_one_line(tmp_path):
    from chatbot.errors import CorpusFormatError
    from chatbot.training.shards import ShardCorpus

    folder = _shards(tmp_path)
    (folder / "train-00000-of-00001.tfrecord").write_bytes(b"\x17" * 300)
    with pytest.raises(CorpusFormatError, match="cannot be read.*export-shards"):
        list(ShardCorpus(folder).iter_conversations("c", "train"))


@pytest.mark.tf
def test_a_checkpoint_that_cannot_be_written_is_one_line_and_leaves_nothing(tmp_path):
    from chatbot._tf import tf
    from chatbot.model_folder import STARTER, ModelDir

    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(STARTER / "config.json", folder / "config.json")
    shutil.copy(STARTER / "vocab.json", folder / "vocab.json")

    def full_disk(prefix):  # what TensorFlow's SaveV2 raises on ENOSPC
        raise tf.errors.ResourceExhaustedError(None, None, f"{prefix}.data-00000-of-")

    with pytest.raises(ModelError, match=r"last checkpoint .* could not be written .*--resume"):
        ModelDir(folder).write_checkpoint("last", full_disk, {"epoch": 0})
    assert list((folder / "checkpoints").iterdir()) == []


def test_a_locked_database_says_busy_not_restore_from_a_backup(run, store, monkeypatch):
    from chatbot.store import Store

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(Store, "corpora", locked)
    result = run("corpora")
    assert result.exit_code == 1
    assert "busy: another chatbot process" in result.output and "backup" not in result.output


def test_an_os_error_always_says_why():
    assert os_reason(OSError()) == "OSError"
    assert os_reason(FileNotFoundError(2, "No such file or directory", "x.txt")) == (
        "No such file or directory (x.txt)"
    )
    assert "None" not in os_reason(PermissionError("denied")) == "denied"


def test_the_format_hint_names_only_what_format_accepts(run, tmp_path):
    result = run("ingest", str(write(tmp_path / "corpus.weird", "hi\n")))
    assert result.exit_code == 2
    offered = result.output.split("one of: ")[1].strip().split(", ")
    assert "chitchat" not in offered
    for fmt in offered:  # each one the hint offers is accepted
        assert "Invalid value" not in run("ingest", "nothing", "--format", fmt).output


ESCAPES = "\x1b]0;owned\x07\x1b[2J"


def test_no_command_prints_outside_text_raw(run, store, tmp_path):
    """Names, paths, stored lines and error details are shown with their escapes
    written out (`\\x1b`), never sent to the terminal (issue 36)."""
    source = write(tmp_path / f"chat{ESCAPES}.txt", "hello there\nhi\n")
    assert run("ingest", str(source), "--name", "c").exit_code == 0
    tid = store.start_transcript("starter", {})
    store.add_exchange(tid, f"{ESCAPES}hello", f"hi{ESCAPES}", b"", {})
    outputs = {
        "show": run("show", "c").output,
        "transcripts": run("transcripts").output,
        "export": run("transcripts", "export", str(tid)).output,
        "error": run("ingest", str(tmp_path / f"missing{ESCAPES}.txt")).output,
    }
    for command, output in outputs.items():
        assert "\x1b" not in output and "\x07" not in output, command
    assert "\\x1b]0;owned\\x07" in outputs["show"] + outputs["error"]


@pytest.mark.tf
def test_replay_shows_a_file_s_conversation_id_with_its_escapes_written_out(run, tmp_path):
    record = {"id": f"x{ESCAPES}", "turns": ["hi", "hello"]}
    result = run("replay", str(write(tmp_path / "r.jsonl", json.dumps(record) + "\n")))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "[x\\x1b]0;owned\\x07\\x1b[2J]" in result.output
