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
from chatbot.cli import STARTER  # noqa: E402
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
    assert [r for r, _, _ in turns] == ["user", "bot", "user", "bot"]
    assert turns[0][1] == "hello" and turns[3][2] is not None and header["model"] == "starter"


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
            f"hello\r/history\r/undo\r/state\r/set remember=off\r\r{weird}\r/bogus\r/reset\rhi\r\x04",
        )
        out = capsys.readouterr().out
    assert "you> hello" in out and "(undid: 'hello')" in out and "remember off" in out
    assert "unknown command /bogus" in out and "(state cleared: a new conversation)" in out
    assert "not in the vocabulary" in out
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
    replayed = run("replay", str(tid))
    assert replayed.exit_code == 0 and replayed.output.count("stored> ") == 2
    assert run("replay", "999").exit_code == 1
