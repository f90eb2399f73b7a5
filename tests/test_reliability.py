"""Reliability, second pass: dead-end runs, writes that replace nothing of the user's,
inputs that would hang, a database deleted under a chat, escapes, settings."""

from __future__ import annotations

import json
import os

import pytest

from chatbot.decode import DecodeSettings
from chatbot.errors import ConfigError, StoreError

SIZES = ["--embed-dim", "8", "--hidden-units", "8", "--epochs", "1", "--min-count", "1"]


@pytest.mark.parametrize(
    "bad",
    [
        {"temperature": float("inf")},
        {"repetition_penalty": float("inf")},
        {"length_penalty": float("nan")},
        {"beam": "3"},
        {"top_p": True},
    ],
)
def test_decoding_settings_must_be_finite_and_of_their_type(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        DecodeSettings(**bad)


def test_ingest_of_a_fifo_is_one_line_not_a_hang(run, tmp_path):
    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)
    result = run("ingest", str(fifo), "--format", "text")
    assert result.exit_code != 0
    assert "not a regular file" in result.output


def test_a_database_deleted_under_a_chat_refuses_to_store(tmp_path):
    from chatbot.store import Store

    with Store(tmp_path / "chat.db") as store:
        tid = store.start_transcript("starter", {})
        store.add_exchange(tid, "hi", "hello", b"", {})
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"chat.db{suffix}").unlink(missing_ok=True)
        with pytest.raises(StoreError, match="deleted or replaced"):
            store.add_exchange(tid, "still there?", "...", b"", {})


def test_save_never_replaces_a_symlink_or_a_fifo(tmp_path):
    from chatbot.repl import handle_safely

    class Quiet:
        history: list = []

        def record(self):
            return {"id": "x", "turns": []}

    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in (link, fifo):
        handle_safely(Quiet(), f"/save {path}")  # type: ignore[arg-type]
        assert path.is_symlink() or not path.is_file()
    assert target.read_text() == "keep me"


def test_models_rm_removes_a_folder_left_by_a_run_killed_before_it_registered(run, db_path):
    folder = db_path.parent / "models" / "ghost"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    run("corpora")  # the database exists
    from chatbot.store import Store

    Store(db_path).close()
    result = run("models", "rm", "ghost")
    assert result.exit_code == 0, result.output
    assert not folder.exists()
    assert run("models", "rm", "ghost").exit_code != 0  # now it is unknown


@pytest.mark.tf
@pytest.mark.parametrize("resume", [False, True])
def test_a_run_stopped_before_its_first_checkpoint_starts_again(run, store, corpus, resume):
    from chatbot.config import Config, RunConfig
    from chatbot.model_folder import ModelDir
    from chatbot.vocab import Vocab

    # What a kill before the first checkpoint leaves: the folder's config and vocabulary.
    ModelDir(store.models_folder / "m").create(
        Config(embed_dim=8, hidden_units=8, min_count=1), Vocab(["hi"]), RunConfig(epochs=1)
    )
    args = ["train", "--corpus", corpus, "--name", "m"]
    result = run(*args, "--resume") if resume else run(*args, *SIZES)
    assert result.exit_code == 0, result.output
    assert ModelDir(store.models_folder / "m").checkpoint("best") is not None
    assert json.loads((store.models_folder / "m" / "config.json").read_text())["hidden_units"] == 8


@pytest.mark.tf
def test_a_corpus_without_words_is_refused_before_training(run, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text(json.dumps({"id": "a", "turns": ["\x01", "\x02"]}) + "\n")
    assert run("ingest", str(path), "--name", "blank").exit_code == 0
    result = run("train", "--corpus", "blank", *SIZES)
    assert result.exit_code == 1
    assert "no words" in result.output and "nan" not in result.output.lower()


def test_a_text_file_without_blank_lines_is_cut_into_parts(tmp_path, monkeypatch):
    from chatbot.corpora import Problems, plaintext

    monkeypatch.setattr(plaintext, "MAX_UTTERANCES", 3)
    path = tmp_path / "one.txt"
    path.write_text("\n".join(f"line {i}" for i in range(7)) + "\n\nnext\nconversation\n")
    problems = Problems()
    convs = list(plaintext.read(path, problems))
    assert [c.external_id for c in convs] == ["c1", "c1.2", "c1.3", "c2"]
    assert [len(c.utterances) for c in convs] == [3, 3, 1, 2]
    assert problems.warned == 1 and "cut into parts" in problems.warnings[0]


def test_the_store_flushes_by_size_as_well_as_by_count(store, monkeypatch):
    from chatbot.corpora import Conversation, Utterance
    from chatbot.store import corpora as store_corpora

    flushes = []
    monkeypatch.setattr(store_corpora, "_FLUSH_CHARS", 1000)
    cls = type(store)
    original = cls._flush

    def counting(self, conv_rows, utt_rows):
        flushes.append(len(conv_rows))
        original(self, conv_rows, utt_rows)

    monkeypatch.setattr(cls, "_flush", counting)
    big = [
        Conversation(f"c{i}", [Utterance(None, "x" * 600), Utterance(None, "y")], "train")
        for i in range(5)
    ]
    store.add_corpus("big", "jsonl", "-", "sha", big)
    assert max(flushes) <= 2 and sum(flushes) == 5


def test_cornell_index_keeps_offsets_skips_an_overlong_line_and_is_bounded(tmp_path, monkeypatch):
    from chatbot import corpora
    from chatbot.corpora import Problems, cornell
    from chatbot.errors import CorpusFormatError

    from .test_readers import SEP, make_cornell, texts

    folder = make_cornell(tmp_path)
    lines = folder / "movie_lines.txt"
    monkeypatch.setattr(cornell, "MAX_LINE", 100)
    overlong = SEP.join(["L5", "u0", "m0", "BOB", "x" * 250])
    lines.write_bytes(overlong.encode() + b"\n" + lines.read_bytes())
    problems = Problems()
    convs = list(corpora.read(folder, "cornell", problems))
    assert texts(convs)[0] == ["Hi Alice.", "How are you?", "Fine, thanks."]  # offsets still right
    assert problems.errors == [f"{lines}:1: line longer than 100 characters"]
    monkeypatch.setattr(cornell, "MAX_LINES", 4)  # the file has 5 ids
    with pytest.raises(CorpusFormatError, match="more than 4 lines"):
        list(corpora.read(folder, "cornell", Problems()))


def test_a_database_in_a_folder_that_cannot_be_written_is_listed_and_never_written(tmp_path):
    import shutil
    import subprocess
    import sys

    from click.testing import CliRunner

    from chatbot.cli import cli

    def run(*args: str):
        return CliRunner().invoke(cli, [*args, "--db", str(db)], catch_exceptions=False)

    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "chatbot.db"
    assert run("ingest", "corpora/sample.jsonl", "--name", "s").exit_code == 0
    commands = [["corpora"], ["ingest", "corpora/sample.txt", "--name", "t"]]
    script = "; ".join(
        f"{sys.executable} -m chatbot {' '.join(c)} --db {db}; echo rc=$?" for c in commands
    )
    if os.geteuid() != 0:
        folder.chmod(0o555)
        shell = ["sh", "-c", script]
    elif shutil.which("unshare"):  # root writes anywhere: a read-only mount instead
        mount = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder}"
        shell = ["unshare", "-m", "sh", "-c", f"{mount} && {script}"]
    else:
        pytest.skip("running as root without unshare: no folder can be made unwritable")
    done = subprocess.run(shell, capture_output=True, text=True, timeout=120)
    folder.chmod(0o755)
    if "rc=" not in done.stdout:
        pytest.skip(f"no read-only mount here: {done.stderr.strip()[:200]}")
    listing, after_listing, after_ingest = done.stdout.split("rc=")
    assert "\ns " in "\n" + listing and after_listing.startswith("0")  # corpus s is listed
    assert after_ingest.startswith("1")  # the ingest is refused
    assert "is read-only (its folder cannot be written); nothing was stored" in done.stderr
    assert run("corpora").output.count("\n") == 2  # s alone: t never landed


def test_the_training_memory_estimate_grows_with_each_size():
    from chatbot.config import Config, RunConfig
    from chatbot.training.budget import window_bytes

    config, run = Config(hidden_units=16), RunConfig(batch_size=512)
    base = window_bytes(config, run, 2000, 34)
    # Within 10% of the peak measured for these sizes on DailyDialog (2.77 GB).
    assert 2.5e9 < base < 3.05e9
    assert window_bytes(config, run.replace(batch_size=1024), 2000, 34) > base
    assert window_bytes(config, run, 4000, 34) > base
    assert window_bytes(config.replace(hidden_units=128), run, 2000, 34) > base
    assert window_bytes(config, run, 2000, 5) < base  # short conversations: short windows
    assert window_bytes(config, run.replace(bptt=5), 2000, 34) == window_bytes(config, run, 2000, 5)


@pytest.mark.tf
def test_a_batch_too_large_for_the_memory_is_one_line_before_training(run, corpus, monkeypatch):
    from chatbot.training import budget

    monkeypatch.setattr(budget, "available_bytes", lambda: 2e9)
    result = run("train", "--corpus", corpus, "--name", "big", *SIZES, "--batch-size", "65536")
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert "--batch-size 65536" in line and "2.0 GB free" in line and "\n" not in line
    assert run("models").output.count("big") == 0  # nothing was created
    assert run("train", "--corpus", corpus, "--name", "small", *SIZES).exit_code == 0
