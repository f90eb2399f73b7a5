"""The context probe: conversations whose last reply depends on a fact stated
several exchanges earlier, with distractor exchanges between.

    my colour is teal          (the fact)
    ok
    tea ?                      (distractor exchanges)
    i like tea
    my colour ?                (the question)
    teal                       (the answer: only the fact tells it)

A model that carries its state across exchanges can answer; one that starts
every exchange from zeros can only guess (chance = 1 / number of values the
asked slot can take).

Several kinds vary what memory is asked for: another slot and other fillers
(`pet`), the fact six exchanges back (`far`), two facts of which the question
picks one (`two`). Utterances are short on purpose: the probe measures memory
across exchanges, not the patience of a tiny model over long sentences.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

COLOURS = ("red", "blue", "green", "teal", "pink", "gold", "grey", "black")
PETS = ("cat", "dog", "hen", "frog", "fish", "goat", "owl", "pony")
THINGS = ("tea", "jazz", "rain", "cats", "chess", "maps", "soup", "trains", "snow", "books")
PLACES = ("the park", "the shop", "the lake", "school", "town", "the beach")


@dataclass(frozen=True)
class Slot:
    """A fact: how it is stated, how it is asked for, the values it takes."""

    statement: str  # with {} for the value
    question: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Filler:
    """A distractor exchange: a question and its answer, with {} for a random word."""

    question: str
    answer: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class ProbeKind:
    name: str
    slots: tuple[Slot, ...]  # facts stated in this order; the question asks one of them
    filler: Filler
    min_gap: int  # exchanges from the last fact to the question
    max_gap: int


COLOUR = Slot("my colour is {}", "my colour ?", COLOURS)
PET = Slot("my pet is a {}", "what pet do i have ?", PETS)
LIKES = Filler("{} ?", "i like {}", THINGS)
GOING = Filler("shall we go to {} ?", "no , not {}", PLACES)

KINDS = {
    k.name: k
    for k in (
        ProbeKind("colour", (COLOUR,), LIKES, 2, 4),
        ProbeKind("pet", (PET,), GOING, 1, 5),
        ProbeKind("far", (COLOUR,), LIKES, 6, 6),
        ProbeKind("two", (COLOUR, PET), GOING, 2, 3),
    )
}


@dataclass(frozen=True)
class ProbeConversation:
    id: str
    turns: list[str]
    answer: str
    choices: int  # values the asked slot can take: chance is 1 / choices

    def to_json(self) -> dict:
        return {"id": self.id, "turns": self.turns, "answer": self.answer, "choices": self.choices}


def probe_conversation(rng: random.Random, index: int, kind: ProbeKind) -> ProbeConversation:
    """One probe of `kind`: its facts, then fillers, then a question on one fact."""
    turns: list[str] = []
    facts = []
    for slot in kind.slots:
        value = rng.choice(slot.values)
        turns += [slot.statement.format(value), "ok"]
        facts.append((slot, value))
    for _ in range(rng.randint(kind.min_gap, kind.max_gap) - 1):
        word = rng.choice(kind.filler.words)
        turns += [kind.filler.question.format(word), kind.filler.answer.format(word)]
    slot, value = rng.choice(facts)
    turns += [slot.question, value]
    return ProbeConversation(f"{kind.name}-{index}", turns, value, len(slot.values))


def probe_corpus(
    n: int, seed: int = 0, kind: str | ProbeKind = "colour"
) -> list[ProbeConversation]:
    rng = random.Random(seed)
    chosen = KINDS[kind] if isinstance(kind, str) else kind
    return [probe_conversation(rng, i, chosen) for i in range(n)]
