"""Measuring what a model has learned.

`probe_accuracy` runs context-probe conversations (see probe.py) through a
`Chatbot`: every turn but the last two is observed, the question is asked,
and the reply counts as right when it contains the answer word.
"""

from __future__ import annotations

from collections.abc import Iterable

from .bot import Chatbot
from .probe import ProbeConversation
from .text import tokenize


def probe_accuracy(bot: Chatbot, conversations: Iterable[ProbeConversation]) -> float:
    right = total = 0
    for conv in conversations:
        bot.reset_hidden_state()
        for turn in conv.turns[:-2]:
            bot.observe(turn)
        right += conv.answer in tokenize(bot.respond(conv.turns[-2]))
        total += 1
    return right / total if total else 0.0
