"""Measuring what a model has learned.

`probe_accuracy` runs context-probe conversations (see probe.py) through a
`Chatbot`: every turn but the last two is observed, the question is asked,
and the reply counts as right when it contains the answer word.
`perplexity_report` measures a corpus split with the state carried and with
it reset every exchange: the context ablation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from .bot import Chatbot
from .errors import UsageError
from .probe import ProbeConversation
from .store import Store
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


def load_probe(path: str | Path) -> list[ProbeConversation]:
    """Probe conversations from JSONL: {"id", "turns", "answer"} per line."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            out.append(
                ProbeConversation(str(record["id"]), list(record["turns"]), str(record["answer"]))
            )
        except (ValueError, KeyError, TypeError):
            raise UsageError(f'{path}:{number}: expected {{"id", "turns", "answer"}}') from None
    if not out:
        raise UsageError(f"{path} holds no probe conversations")
    return out


def probe_report(bot: Chatbot, conversations: list[ProbeConversation]) -> dict:
    """Accuracy with the state carried, with it reset every exchange, and the chance level."""
    remember = bot.remember_state
    try:
        bot.remember_state = True
        carried = probe_accuracy(bot, conversations)
        bot.remember_state = False
        reset = probe_accuracy(bot, conversations)
    finally:
        bot.remember_state = remember
    answers = {c.answer for c in conversations}
    return {
        "conversations": len(conversations),
        "carried": carried,
        "reset": reset,
        "chance": 1 / len(answers),
    }


def perplexity_report(bot: Chatbot, store: Store, corpus: str, split: str) -> dict:
    """Word perplexity of `split` with the state carried and with it reset every exchange."""
    from .train import Trainer, perplexity

    result: dict = {"corpus": corpus, "split": split}
    for name, remember in (("carried", True), ("reset", False)):
        trainer = Trainer(bot.config.replace(remember_state=remember), bot.vocab)
        trainer.model.set_weights(bot.model.get_weights())
        loss, tokens = trainer.evaluate(store, corpus, split)
        result[name] = perplexity(loss, tokens)
        result["tokens"] = tokens
    return result
