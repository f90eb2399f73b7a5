"""Recall in chat: does the bot give back a fact it was told 1 to 10 exchanges ago?

Held-out conversations in phrasings of this module's own, none of which the
recall corpus's generator uses (corpora/recall.py), with small talk from the
chitchat corpus's test split. A person states a fact (a name, a city, a pet's
name, a food, a job, ...), talks about other things for `distance` exchanges,
and asks for it back. The conversation counts as recalled when the bot's reply
to the question holds the fact's word. Up to two exchanges of small talk may come
before the fact, so an unseen word is not always the conversation's first slot.
Each goes through the real chat path
(`Session`, the model's chat decoding) under three conditions:

- carried: the state carried through the conversation, as in a chat;
- reset: the state reset before every exchange (`remember-state off`; the
  slots too, so a slot's number tells nothing of what came before);
- other: the question asked after another conversation's history, which
  stated another value of the same kind (the word it must not give back is
  not this conversation's): the state holds a conversation, just not this one.

Values are split into words the model's vocabulary has ("in vocabulary") and
invented ones it cannot have seen ("unseen"), said back through slots.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..corpora.recall import invented
from ..text import tokenize

# (kind, statements, questions, values): phrasings the generator never uses.
EVAL_KINDS = (
    (
        "name",
        ("hey there , people call me {v} .", "nice to meet you , i'm called {v} ."),
        ("remind me , what am i called ?", "so what's my name again ?"),
        "oliver amelia harry charlotte leo ruby jacob poppy",
    ),
    (
        "city",
        ("i've lived in {v} all my life .", "home for me is {v} ."),
        ("which city do i live in ?", "remind me where my home is ?"),
        "rome paris boston dublin madrid tokyo berlin chicago",
    ),
    (
        "pet",
        ("we have a dog , his name is {v} .", "our cat is named {v} ."),
        ("what's the name of my pet ?", "remind me , what is my pet called ?"),
        "max buddy luna bella charlie daisy rocky milo",
    ),
    (
        "food",
        ("nothing beats {v} for me .", "if i could eat one thing forever it'd be {v} ."),
        ("what food do i love most ?", "which food did i say i love ?"),
        "pizza pasta sushi cheese chocolate tacos steak curry",
    ),
    (
        "job",
        ("for work i'm a {v} .", "i earn my living as a {v} ."),
        ("what's my job again ?", "what do i do for work ?"),
        "teacher nurse doctor lawyer engineer chef pilot farmer",
    ),
)
CONDITIONS = ("carried", "reset", "other")


@dataclass(frozen=True)
class Case:
    kind: str
    value: str
    before: tuple[tuple[str, str], ...]  # small talk before the fact
    statement: str
    fillers: tuple[tuple[str, str], ...]
    question: str

    @property
    def distance(self) -> int:
        """Exchanges from the fact's to the question's: 1 when asked right after."""
        return len(self.fillers) + 1


def cases(
    n: int, seed: int, pairs: Sequence[tuple[str, str]], distances: Sequence[int] = (1, 2, 3, 4)
) -> list[Case]:
    """`n` held-out conversations from `seed`; half the values are invented words."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind, statements, questions, values = EVAL_KINDS[i % len(EVAL_KINDS)]
        value = invented(rng) if i % 2 else rng.choice(values.split())
        before = tuple(pairs[rng.randrange(len(pairs))] for _ in range(rng.randint(0, 2)))
        fillers = tuple(pairs[rng.randrange(len(pairs))] for _ in range(rng.choice(distances) - 1))
        statement = rng.choice(statements).format(v=value)
        out.append(Case(kind, value, before, statement, fillers, rng.choice(questions)))
    return out


def recalled(reply: str, value: str) -> bool:
    return value in tokenize(reply)


def run_case(session, case: Case, condition: str, other: Case | None = None) -> bool:
    """One conversation through `session` (a `Session`): True if the answer holds the value."""
    session.reset()
    session.set("remember-state", "off" if condition == "reset" else "on")
    history = other if condition == "other" and other is not None else case
    for user, _ in history.before:
        session.respond(user)
    session.respond(history.statement)
    for user, _ in history.fillers:
        session.respond(user)
    return recalled(session.respond(case.question), case.value)


def recall_report(
    session,
    all_cases: Iterable[Case],
    in_vocab: Callable[[str], bool],
    conditions: Sequence[str] = CONDITIONS,
    progress: Callable[[int], None] = lambda n: None,
) -> dict:
    """Recall rates by condition: overall, by kind, by distance, in vocabulary or unseen."""
    all_cases = list(all_cases)
    hits: dict = defaultdict(lambda: [0, 0])
    for i, case in enumerate(all_cases):
        # "other": the previous case of the same kind, with another value.
        other = next(
            (c for c in reversed(all_cases[:i]) if c.kind == case.kind and c.value != case.value),
            None,
        )
        seen = "in_vocabulary" if in_vocab(case.value) else "unseen"
        for condition in conditions:
            if condition == "other" and other is None:
                continue  # the first of its kind has no other conversation to borrow
            ok = run_case(session, case, condition, other)
            for key in ("all", f"kind:{case.kind}", f"distance:{case.distance}", seen):
                hits[condition, key][0] += ok
                hits[condition, key][1] += 1
        progress(1)
    session.reset()
    session.set("remember-state", "on")
    report: dict = {"conversations": len(all_cases)}
    for (condition, key), (ok, total) in sorted(hits.items()):
        report.setdefault(condition, {})[key] = {"recalled": ok, "of": total, "rate": ok / total}
    return report


def recall_in_chat(
    bot,
    n: int,
    seed: int = 0,
    distances: Sequence[int] = (1, 2, 3, 4),
    progress: Callable[[int], None] = lambda n: None,
) -> dict:
    """`recall_report` for `n` held-out cases, through a `Session` with the model's own
    chat decoding (as `chatbot chat` starts), small talk from chitchat's test split."""
    from ..corpora import chitchat
    from ..corpora.recall import filler_pairs
    from ..session import Session

    session = Session(bot, None, "eval")
    session.configure(bot.chat_decoding)
    pairs = filler_pairs(chitchat.builtin_path(), split="test")
    held_out = cases(n, seed, pairs, distances)
    report = recall_report(session, held_out, lambda w: w in bot.vocab, progress=progress)
    return {**report, "decoding": dict(bot.chat_decoding), "distances": list(distances)}
