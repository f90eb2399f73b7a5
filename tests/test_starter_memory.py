"""Tier 2: the shipped starter gives back what it was told, through the real chat
path (a `Session` with the starter's own chat decoding), and only with the state
carried."""

from __future__ import annotations

import random

import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

from chatbot import Chatbot  # noqa: E402
from chatbot.session import Session  # noqa: E402
from chatbot.store import Store  # noqa: E402

SMALL_TALK = ["How are you today?", "Do you like music?"]


@pytest.fixture(scope="module")
def starter() -> Chatbot:
    return Chatbot.load("starter")


def ask_name(starter: Chatbot, db_path, remember: bool) -> str:
    random.seed(0)  # a Session draws each sampled reply's seed from `random`
    with Store(db_path) as store:
        session = Session(starter.fork(), store, "starter")
        session.configure({**starter.chat_decoding, "remember_state": remember})
        session.respond("My name is Zorblax.")
        for line in SMALL_TALK:
            session.respond(line)
        return session.respond("What is my name?")


def test_a_name_it_never_saw_is_given_back_two_exchanges_later(starter, db_path):
    assert "zorblax" in ask_name(starter, db_path, remember=True).lower()


def test_with_the_state_reset_the_name_is_gone(starter, db_path):
    assert "zorblax" not in ask_name(starter, db_path, remember=False).lower()


def test_state_shows_the_words_the_conversation_holds(starter, db_path):
    with Store(db_path) as store:
        session = Session(starter.fork(), store, "starter")
        session.respond("My name is Zorblax.")
        assert any(
            line.startswith("slots (1 of ") and "zorblax" in line for line in session.describe()
        )
        session.reset()
        assert any(line.startswith("slots (0 of ") for line in session.describe())
