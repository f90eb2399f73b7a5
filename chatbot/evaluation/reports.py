"""Measuring what a model has learned.

`probe_accuracy` runs context-probe conversations (see probe.py) through a
`Chatbot`: every turn but the last two is observed, the question is asked,
and the reply counts as right when it contains the answer word.
`ablation_report` measures a corpus split's perplexity by turn position with
the state carried, reset, and taken from another conversation (ablation.py);
`baseline_report` does the same for a Kneser-Ney trigram on the same tokens;
`generate_replies` and `reply_metrics` measure what the bot says.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from pathlib import Path

from ..bot import Chatbot
from ..encoding import Exchange, encoded_conversations
from ..errors import UsageError
from ..perplexity import perplexity
from ..store import Store
from ..text import tokenize
from ..vocab import Slots, Vocab
from .kneser_ney import KneserNeyTrigram
from .probe import ProbeConversation
from .reply_metrics import reply_metrics


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
    """Probe conversations from JSONL: {"id", "turns", "answer"} per line, and
    "choices" (values the answer could take); without it, the file's distinct
    answers are the choices."""
    records: list[tuple[str, list[str], str, int | None]] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            choices = int(record["choices"]) if "choices" in record else None
            records.append(
                (str(record["id"]), list(record["turns"]), str(record["answer"]), choices)
            )
        except (ValueError, KeyError, TypeError):
            raise UsageError(f'{path}:{number}: expected {{"id", "turns", "answer"}}') from None
    if not records:
        raise UsageError(f"{path} holds no probe conversations")
    distinct = len({answer for _, _, answer, _ in records})
    return [
        ProbeConversation(id_, turns, answer, choices or distinct)
        for id_, turns, answer, choices in records
    ]


def probe_report(bot: Chatbot, conversations: list[ProbeConversation]) -> dict:
    """Accuracy with the state carried, with it reset every exchange, and the chance level."""
    carried = probe_accuracy(bot.fork({"remember_state": True}), conversations)
    reset = probe_accuracy(bot.fork({"remember_state": False}), conversations)
    return {
        "conversations": len(conversations),
        "carried": carried,
        "reset": reset,
        "chance": sum(1 / c.choices for c in conversations) / len(conversations),
    }


def split_conversations(
    store: Store,
    corpus: str,
    split: str,
    vocab: Vocab,
    max_len: int,
    dedupe: bool = True,
    rule: Slots | None = None,
) -> tuple[list[list[Exchange]], int]:
    """The split's conversations as token ids, and how many were left out because the
    training split holds the same dialogue (DailyDialog repeats some across splits)."""
    texts = list(store.iter_conversations(corpus, split))
    dropped = 0
    if dedupe and split != "train":
        seen = {hash(tuple(c)) for c in store.iter_conversations(corpus, "train")}
        kept = [c for c in texts if hash(tuple(c)) not in seen]
        dropped, texts = len(texts) - len(kept), kept
    return list(encoded_conversations(texts, vocab, max_len, rule)), dropped


def _ppl(loss_and_tokens: list) -> float:
    return perplexity(*loss_and_tokens)


def _summarize(sums: dict[str, list]) -> dict:
    """{position: [loss, tokens]} -> overall and per-position perplexity."""
    total = [sum(v[0] for v in sums.values()), sum(v[1] for v in sums.values())]
    return {
        "perplexity": _ppl(total),
        "by_turn": {p: _ppl(v) for p, v in sums.items()},
        "tokens": total[1],
        "tokens_by_turn": {p: v[1] for p, v in sums.items()},
    }


def ablation_report(bot: Chatbot, conversations: list[list[Exchange]], progress=None) -> dict:
    """Perplexity overall and by turn position with the state carried, reset, shuffled."""
    from .ablation import Ablation

    sums = Ablation(bot.model).run(conversations, progress=progress)
    return {condition: _summarize(by_turn) for condition, by_turn in sums.items()}


def baseline_report(
    train: Iterable[list[Exchange]],
    conversations: list[list[Exchange]],
    vocab_size: int,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """The interpolated Kneser-Ney trigram, fit on `train`, on the same tokens;
    `progress(1)` is called per training conversation read."""
    from .ablation import POSITIONS, position

    def exchanges() -> Iterable[Exchange]:
        for conv in train:
            yield from conv
            if progress is not None:
                progress(1)

    kn = KneserNeyTrigram(vocab_size).fit(exchanges())
    sums = {p: [0.0, 0] for p in POSITIONS}
    for conv in conversations:
        for i, (source, reply, learn) in enumerate(conv):
            if not learn:  # the model is not scored on it either
                continue
            loss, tokens = kn.nll(source, reply)
            sums[position(i)][0] += loss
            sums[position(i)][1] += tokens
    return _summarize(sums)


def generate_replies(
    bot: Chatbot, conversations: list[list[Exchange]], progress=None, seed: int | None = None
) -> list[list[str]]:
    """The bot's reply to every exchange, reading the real conversation as it goes
    (with the state carried or not, as `bot.remember_state` says). With `seed`, a
    sampling decoder's draws come from it, so the replies can be measured again."""
    draws = random.Random(seed) if seed is not None else None
    replies = []
    for conv in conversations:
        bot.reset_hidden_state()
        for source, _, learn in conv:
            bot.read(source)
            if learn:  # the user's lines of a generated corpus are not the bot's to say
                draw = draws.getrandbits(31) if draws else None
                replies.append(bot.vocab.decode(bot.reply_ids(draw)))
        if progress is not None:
            progress(1)
    return replies


def corpus_report(
    bot: Chatbot,
    store: Store,
    corpus: str,
    split: str = "test",
    limit: int | None = None,
    baseline: bool = True,
    replies: bool = True,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> dict:
    """Everything `chatbot eval` measures on a corpus split, as one JSON-ready dict.

    `progress(label, total)` returns a callback advanced as conversations are done.
    """
    cfg = bot.config
    convs, duplicates = split_conversations(
        store, corpus, split, bot.vocab, cfg.max_len, rule=bot.slots
    )
    convs = convs[:limit] if limit else convs
    if not convs:
        raise UsageError(
            f"corpus {corpus!r} has no {split} conversations of two or more utterances; "
            "choose another --split"
        )
    ticker = progress or (lambda label, total: lambda n: None)
    report: dict = {
        "corpus": corpus,
        "split": split,
        "conversations": len(convs),
        "left_out_duplicates_of_train": duplicates,
        "remember_state": bot.remember_state,
        "model": ablation_report(bot, convs, ticker("perplexity", len(convs))),
    }
    if baseline:
        train = encoded_conversations(
            store.iter_conversations(corpus, "train"), bot.vocab, cfg.max_len, bot.slots
        )
        fitting = ticker("trigram fit", store.conversation_count(corpus, "train"))
        report["kneser_ney_trigram"] = baseline_report(train, convs, len(bot.vocab), fitting)
    if replies:
        generated = generate_replies(bot, convs, ticker("replies", len(convs)))
        humans = [bot.vocab.decode(ex.target) for conv in convs for ex in conv if ex.learn]
        report["replies"] = reply_metrics(generated, humans)
        report["references"] = reply_metrics(humans)
    return report
