"""Tier 2: chatting: the session, transcripts in the store, the REPL through a pipe, replay."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

from prompt_toolkit.input import create_pipe_input  # noqa: E402
from prompt_toolkit.output import DummyOutput  # noqa: E402

from chatbot import Chatbot, repl  # noqa: E402
from chatbot.model_folder import STARTER  # noqa: E402
from chatbot.session import Session  # noqa: E402
from chatbot.store import Store  # noqa: E402


@pytest.fixture(scope="module")
def starter():
    if not (STARTER / "config.json").is_file():
        pytest.fail("the starter model is missing; run scripts/train_starter.py")
    return Chatbot.load(STARTER)


def test_starter_model_ships_and_answers(starter):
    starter.reset_hidden_state()
    reply = starter.respond("hello")
    assert isinstance(reply, str) and reply.strip()


def test_exchanges_are_committed_as_they_happen(starter, db_path):
    with Store(db_path) as store:
        session = Session(starter, store, "starter")
        session.reset()
        session.respond("hello")
        session.respond("how are you?")
        tid = session.transcript_id
    # A second connection (as after a crash) sees both exchanges with their states.
    with Store(db_path) as other:
        header, turns = other.transcript(tid)
    assert [t.role for t in turns] == ["user", "bot", "user", "bot"]
    assert turns[0][1] == "hello" and turns[3][2] is not None and header["model"] == "starter"
    with Store(db_path) as other:
        settings = other.db.execute("SELECT settings FROM turns WHERE role = 'bot'").fetchall()
    assert (
        json.loads(settings[0][0])["beam"] == 1
        and json.loads(settings[0][0])["remember_state"] is True
    )


def test_resume_gives_the_same_next_reply_as_a_session_that_never_stopped(starter, db_path):
    with Store(db_path) as store:
        session = Session(starter, store, "starter")
        session.reset()
        for text in ("hello", "what is your name?"):
            session.respond(text)
        tid = session.transcript_id
        expected = session.respond("do you like movies?")
        session.undo()
        resumed = Session(Chatbot.load(STARTER), store, "starter")
        resumed.resume(tid)
        assert resumed.respond("do you like movies?") == expected


def test_undo_restores_the_state_and_the_transcript(starter, db_path):
    with Store(db_path) as store:
        session = Session(starter, store, "starter")
        session.reset()
        session.respond("hello")
        before = [s.numpy() for s in starter.state]
        reply = session.respond("tell me a joke")
        assert session.undo() == ("tell me a joke", reply)
        for a, b in zip(before, starter.state, strict=True):
            np.testing.assert_array_equal(a, b)
        assert len(store.transcript(session.transcript_id)[1]) == 2


def test_score_prefers_the_reply_the_model_would_give(starter):
    starter.reset_hidden_state()
    starter.observe("hello")
    own = starter.detokenized_reply()
    own_loss, own_tokens = starter.score(own)
    odd_loss, odd_tokens = starter.score("trains quantum lettuce fiercely")
    assert own_loss / own_tokens < odd_loss / odd_tokens


def test_repl_save_and_model_switch(starter, tmp_path, capsys):
    session = Session(starter, None, "starter")
    session.reset()
    repl.handle(session, "hello")
    repl.handle(session, f"/save {tmp_path / 'out.jsonl'}")
    saved = json.loads((tmp_path / "out.jsonl").read_text())
    assert saved["turns"][0] == "hello" and len(saved["turns"]) == 2
    repl.handle(session, "/model starter")
    assert session.history == [] and "(now talking to starter" in capsys.readouterr().out


def drive(session, keys: str) -> None:
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        repl.run(session, input=pipe, output=DummyOutput())


def test_repl_commands_undo_and_ctrl_d(starter, db_path, capsys):
    with Store(db_path) as store:
        session = Session(starter, store, "starter")
        session.reset()
        weird = "zz \x07 😀 שלום عربى"
        drive(
            session,
            f"hello\r/history\r/undo\r/state\r/set remember-state=off\r/set beam=3\r/set beam=x\r\r{weird}\r/bogus\r/reset\rhi\r\x04",
        )
        out = capsys.readouterr().out
    assert (
        "you> hello" in out
        and "(undid: 'hello')" in out
        and "(remember-state = off)" in out
        and "decoding: beam 1, temperature 0.0" in out
        and "(beam = 3)" in out
        and "beam needs a number" in out
    )
    assert "unknown command /bogus" in out and "(state cleared: a new conversation)" in out
    assert "new words, kept for this chat" in out  # the starter has slots
    assert out.count("bot> ") >= 3  # hello (shown again by /history), the weird line, hi


@pytest.mark.parametrize("line", ["x" * 100_000, "\x00\x1b[31m\x7f", "😀" * 50, "שלום עולם", "   "])
def test_no_input_crashes_an_exchange(starter, line, capsys):
    session = Session(starter, None, "starter")
    assert repl.handle(session, line) is False
    assert "bot> " in capsys.readouterr().out


def test_transcripts_list_export_and_replay_cli(run, starter, db_path):
    with Store(db_path) as store:
        session = Session(starter, store, "starter")
        session.reset()
        session.respond("hello")
        session.respond("how are you?")
        tid = session.transcript_id
    listing = run("transcripts").output
    assert listing.splitlines()[1].split()[:2] == [str(tid), "starter"]
    exported = json.loads(run("transcripts", "export", str(tid)).output)
    assert exported["turns"][0] == "hello" and len(exported["turns"]) == 4
    replayed = run("replay", str(tid), "--beam", "3")
    assert replayed.exit_code == 0 and replayed.output.count("stored> ") == 2
    perplexities = [
        float(line.split("(perplexity ")[1].rstrip(")"))
        for line in replayed.output.splitlines()
        if "perplexity" in line
    ]
    assert len(perplexities) == 2 and all(p >= 1.0 for p in perplexities)
    exported_file = db_path.parent / "chat.jsonl"
    exported_file.write_text(json.dumps({"id": "x", "turns": ["hello", "hi", "bye", "bye"]}) + "\n")
    from_file = run("replay", str(exported_file))
    assert from_file.exit_code == 0 and "[x] you> hello" in from_file.output
    broken = db_path.parent / "broken.jsonl"
    broken.write_text('{"id": "a", "turns": ["hi", "yo"]}\n{"id": "b", "turns": [1\n')
    bad = run("replay", str(broken))
    assert bad.exit_code == 1 and f"{broken}:2: not valid JSON" in bad.output
    assert run("replay", "999").exit_code == 1


def test_two_chats_on_one_database_keep_all_their_turns(db_path):
    import subprocess
    import sys

    script = (
        "import sys\nfrom chatbot import Chatbot\nfrom chatbot.model_folder import STARTER\nfrom chatbot.session import Session\n"
        "from chatbot.store import Store\nstore = Store(sys.argv[1])\ns = Session(Chatbot.load(STARTER), store, 'starter')\n"
        "for i in range(15):\n    s.respond(f'hello {i}')\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(db_path)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with Store(db_path) as store:
        rows = store.transcripts()
    assert sorted(n for _, _, _, n, _ in rows) == [30, 30]


def test_transcript_survives_kill_9(db_path):
    import subprocess
    import sys

    script = (
        "import os, signal, sys\nfrom chatbot import Chatbot\nfrom chatbot.session import Session\n"
        "from chatbot.store import Store\ns = Session(Chatbot.load('starter'), Store(sys.argv[1]), 'starter')\n"
        "s.respond('hello')\ns.respond('how are you?')\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(db_path)], capture_output=True)
    assert proc.returncode == -9
    with Store(db_path) as store:
        ((tid, model, _, turns, first),) = store.transcripts()
        assert (model, turns, first) == ("starter", 4, "hello")
        assert store.transcript(tid)[1][3][2] is not None  # the state after the last reply
