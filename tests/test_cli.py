"""The CLI: commands print what the library did; bad input is one line with exit 2 or 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write

README = Path(__file__).resolve().parents[1] / "README.md"
CONFIG_JSON = json.dumps({"cell": "lstm", "hidden_units": 8, "remember_state": True})


def one_line_error(result, code, *fragments):
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_ingest_list_show_remove(run, tmp_path):
    path = write(
        tmp_path / "mine.jsonl", json.dumps({"id": "c9", "turns": ["hi there", "hello"]}) + "\n"
    )
    result = run("ingest", str(path), "--name", "mine")
    assert (
        result.exit_code == 0
        and "Ingested 'mine' (jsonl): 1 conversations, 2 utterances" in result.output
    )
    listing = run("corpora").output.splitlines()
    assert listing[0].split()[:5] == ["name", "format", "conversations", "utterances", "tokens"]
    assert listing[1].split()[:6] == ["mine", "jsonl", "1", "2", "3", "2.00"]
    assert run("show", "mine", "--conversation", "c9").output == "-: hi there\n-: hello\n"
    assert "c9" in run("show", "mine").output
    assert run("ingest", str(path)).output.startswith(
        f"{path} is already ingested as corpus 'mine'"
    )
    assert run("corpora", "rm", "mine").exit_code == 0
    assert "No corpora yet" in run("corpora").output


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("models", "No models yet"),
        ("corpora", "No corpora yet"),
        ("transcripts", "No transcripts yet"),
    ],
)
def test_listing_a_database_that_is_not_there_creates_nothing(tmp_path, command, message):
    from click.testing import CliRunner

    from chatbot.cli import cli

    def run_at(db, *args):
        return CliRunner().invoke(cli, [*args, "--db", str(db)], catch_exceptions=False)

    db = tmp_path / "mistyped" / "x.db"
    result = run_at(db, command)
    assert result.exit_code == 0 and message in result.output
    assert not db.parent.exists()
    if command == "models":
        one_line_error(run_at(db, "models", "rm", "m"), 1, "no model named 'm'", "check --db")
        assert not db.parent.exists()


def test_models_rm_deletes_the_record_and_folder_but_not_a_run_in_progress(run, store):
    from chatbot.files import exclusive_lock

    for name in ("old", "busy"):
        (store.models_folder / name).mkdir(parents=True)
        (store.models_folder / name / "config.json").write_text("{}")
        store.register_model(name, "dd", str(store.models_folder / name), CONFIG_JSON, {})
    with exclusive_lock(store.training_lock("busy"), "held by the test"):
        one_line_error(run("models", "rm", "busy"), 1, "'busy' is being trained")
    assert (store.models_folder / "busy" / "config.json").is_file()

    assert run("models", "rm", "old").output == "Removed model 'old'.\n"
    assert not (store.models_folder / "old").exists()
    assert [m.name for m in store.models()] == ["busy"]
    one_line_error(run("models", "rm", "old"), 1, "no model named 'old'", "models: busy")


def test_models_lists_a_run_whose_process_is_gone_as_interrupted(run, store):
    from chatbot.files import exclusive_lock

    metrics = {"epochs": 3, "best_valid_ppl": 40.5, "status": "training"}
    store.register_model("m", "dd", str(store.models_folder / "m"), CONFIG_JSON, metrics)
    with exclusive_lock(store.training_lock("m"), "held by the test"):
        assert run("models").output.splitlines()[1].split()[5:] == ["3", "40.50", "training"]
    row = run("models").output.splitlines()[1]
    assert row.split()[5:7] == ["3", "40.50"] and "interrupted (train --resume" in row


def test_builtin_chatterbot_english(run):
    result = run("ingest", "--builtin", "chatterbot-english")
    assert result.exit_code == 0 and "Ingested 'chatterbot-english' (chatterbot)" in result.output


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["ingest", "does/not/exist.txt"], 2, "no such file or folder: does/not/exist.txt"),
        (["ingest", "{tmp}/data.csv"], 2, "pass --format"),
        (["ingest", "{tmp}/data.csv", "--format", "xml"], 2, "'xml' is not one of"),
        (["ingest", "{tmp}/empty.txt"], 1, "empty.txt is empty"),
        (["ingest", "{tmp}/image.txt"], 1, "looks like a binary file"),
        (["ingest", "{tmp}/cut.jsonl", "--on-error", "fail"], 1, "cut.jsonl:2: not valid JSON"),
        (["ingest", "{tmp}/chat.txt", "--name", "bad name!"], 2, "corpus name must be"),
        (["ingest", "--builtin", "klingon"], 2, "'klingon' is not one of 'chatterbot-english'"),
        (["ingest"], 2, "give either PATH or --builtin"),
        (["show", "nothing"], 1, "no corpus named 'nothing'"),
        (["corpora", "rm", "nothing"], 1, "no corpus named 'nothing'"),
        (["ingest", "--bogus"], 2, "No such option"),
    ],
)
def test_bad_input_is_one_clear_line(run, tmp_path, args, code, fragment):
    write(tmp_path / "data.csv", "a,b\n")
    write(tmp_path / "empty.txt", b"")
    write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\0\0\0\0IHDR")
    write(tmp_path / "cut.jsonl", '{"id": "1", "turns": ["ok"]}\n{"id": "2", "turns": ["trunc')
    write(tmp_path / "chat.txt", "hi\nhello\n")
    one_line_error(run(*[a.format(tmp=tmp_path) for a in args]), code, fragment)


def test_truncated_line_is_skipped_and_reported(run, tmp_path):
    path = write(
        tmp_path / "cut.jsonl", '{"id": "1", "turns": ["ok"]}\n{"id": "2", "turns": ["trunc'
    )
    result = run("ingest", str(path))
    assert result.exit_code == 0
    assert f"skipped: {path}:2: not valid JSON" in result.output
    assert "1 conversations, 1 utterances, 1 records skipped" in result.output


def test_wrong_encoding_warns_and_ingests(run, tmp_path):
    path = write(tmp_path / "latin.txt", "caf\xe9\nna\xefve\n", encoding="iso-8859-1")
    result = run("ingest", str(path))
    assert result.exit_code == 0 and "2 utterances" in result.output
    assert f"warning: {path}:1: bytes not valid utf-8 replaced" in result.output


def test_ctrl_c_during_ingest_keeps_nothing_and_says_so(run, tmp_path, monkeypatch, db_path):
    from chatbot import corpora

    def interrupted(path, problems):
        yield from ()
        raise KeyboardInterrupt

    monkeypatch.setitem(corpora.FORMATS, "text", interrupted)
    result = run("ingest", str(write(tmp_path / "chat.txt", "hi\n")))
    one_line_error(result, 130, "interrupted")
    assert "No corpora yet" in run("corpora").output


def test_default_database_lives_in_chatbot_home(isolated_home, tmp_path):
    from click.testing import CliRunner

    from chatbot.cli import cli

    path = write(tmp_path / "chat.txt", "hi\nhello\n")
    assert CliRunner().invoke(cli, ["ingest", str(path)]).exit_code == 0
    assert (isolated_home / "chatbot" / "chatbot.db").is_file()


@pytest.mark.parametrize(
    "args", [["--help"], ["corpora"], ["ingest", "--builtin", "chatterbot-english"]]
)
def test_light_commands_never_import_tensorflow(tmp_path, args):
    code = (
        "import sys\nfrom chatbot.cli import cli\n"
        "try:\n    cli.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print('TF-MODULES:', loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args, "--db", str(tmp_path / "x.db")]
        if args != ["--help"]
        else [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TF-MODULES: []" in out


def test_readme_documents_every_command():
    from chatbot.cli import cli

    readme = README.read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"chatbot {name}" in readme, f"README does not mention `chatbot {name}`"


def test_python_dash_m_runs_the_cli():
    out = subprocess.run(
        [sys.executable, "-m", "chatbot", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "ingest" in out.stdout


def test_ci_runs_the_readme_commands():
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    block = readme.split("```")[1]
    install, test = [line for line in block.strip().splitlines() if line]
    assert 'pip install -e ".[test]"' in install and 'pip install -e ".[test]"' in ci
    assert test in ci.splitlines()


def test_training_threads_are_set_before_tensorflow_starts():
    code = (
        "import os, sys\nfrom chatbot._tf import prefer_parallel_ops\n"
        "os.environ['TF_NUM_INTEROP_THREADS'] = '7'  # the user's own value\n"
        "first = prefer_parallel_ops()\n"
        "print(first, os.environ['TF_NUM_INTRAOP_THREADS'], os.environ['TF_NUM_INTEROP_THREADS'])\n"
        "del os.environ['TF_NUM_INTRAOP_THREADS']\n"
        "sys.modules['tensorflow'] = sys  # as if TensorFlow had started: too late\n"
        "print(prefer_parallel_ops(), 'TF_NUM_INTRAOP_THREADS' in os.environ)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_NUM_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.split("\n")
    assert out[0] == "True 1 7"
    assert out[1] == "False False"


def test_train_help_is_short_and_every_flag_is_a_setting(run):
    import dataclasses

    from chatbot.config import Config, RunConfig

    shown = run("train", "--help").output
    options = [line.split()[0] for line in shown.splitlines() if line.startswith("  -")]
    assert len(options) <= 25, options
    for field in dataclasses.fields(Config) + dataclasses.fields(RunConfig):
        flag = "--" + field.name.replace("_", "-")
        assert (flag in options) == field.metadata["flag"], flag
