"""The starter model in a long chat: the carried state stays bounded and the
replies keep following the input instead of collapsing into one sentence."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

from chatbot import Chatbot  # noqa: E402
from chatbot.model import CELL_RMS  # noqa: E402

# What a new user might type over 40 exchanges.
LINES = [
    "Hi! How are you today?",
    "My name is Alice.",
    "What is my name?",
    "what did I just say?",
    "Do you like music?",
    "What is your favourite book?",
    "Tell me a joke.",
    "What is AI?",
    "Are you a robot?",
    "Where do you live?",
    "I am hungry.",
    "What should I eat?",
    "Do you like pizza?",
    "What is the weather like?",
    "I like rainy days.",
    "Can you help me?",
    "What time is it?",
    "Who made you?",
    "Are you happy?",
    "What is love?",
    "Do you have feelings?",
    "What is your name?",
    "How old are you?",
    "Do you know any science?",
    "What is gravity?",
    "Who is the president?",
    "Do you like sports?",
    "What is money?",
    "Can you dance?",
    "What languages do you speak?",
    "Tell me about computers.",
    "What is python?",
    "Do you dream?",
    "Are you smart?",
    "What is the meaning of life?",
    "I have a cat.",
    "Do you like animals?",
    "What is your favourite colour?",
    "Thank you.",
    "Goodbye!",
]


@pytest.fixture(scope="module")
def starter() -> Chatbot:
    return Chatbot.load("starter")


def chat(bot: Chatbot, remember: bool) -> list[str]:
    bot.remember_state = remember
    bot.reset_hidden_state()
    try:
        return [bot.respond(line) for line in LINES]
    finally:
        bot.remember_state = bot.config.remember_state


def test_replies_with_the_state_carried_keep_varying(starter):
    carried, reset = chat(starter, True), chat(starter, False)
    second_half = carried[20:]
    assert len(set(second_half)) >= 10, second_half
    assert not any(
        a == b == c for a, b, c in zip(carried, carried[1:], carried[2:], strict=False)
    ), carried
    assert len(set(carried)) >= 0.8 * len(set(reset)), (carried, reset)


def test_state_norm_stays_bounded_over_100_exchanges(starter):
    starter.reset_hidden_state()
    h = starter.config.hidden_units
    norms = []
    for i in range(100):
        starter.respond(LINES[i % len(LINES)])
        norms.append([float(np.linalg.norm(s)) for s in starter.state])
    norms = np.array(norms)  # [exchange, (h, c)]
    assert norms[:, 0].max() <= np.sqrt(h) + 1e-3  # h = o * tanh(c) lies in [-1, 1]
    assert norms[:, 1].max() <= CELL_RMS * np.sqrt(h) * (1 + 1e-5)
    # No drift: the last 50 exchanges stay in the range of the first 50.
    assert norms[50:].max(axis=0).max() <= 1.05 * norms[:50].max(axis=0).max()
