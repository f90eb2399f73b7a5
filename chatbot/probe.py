"""The context probe: conversations whose last reply depends on a fact stated
two to four exchanges earlier, with distractor exchanges between.

    remember : my colour is teal .          (the fact)
    ok , i will remember that .
    do you like tea ?                       (1 to 3 distractor exchanges)
    yes , i like tea .
    what is my colour ?                     (the question)
    teal .                                  (the answer: only the fact tells it)

A model that carries its state across exchanges can answer; one that starts
every exchange from zeros can only guess (chance = 1 / number of colours).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

COLOURS = ("red", "blue", "green", "teal", "pink", "gold", "grey", "black")
THINGS = ("tea", "jazz", "rain", "cats", "chess", "maps", "soup", "trains", "snow", "books")


@dataclass(frozen=True)
class ProbeConversation:
    id: str
    turns: list[str]
    answer: str

    def to_json(self) -> dict:
        return {"id": self.id, "turns": self.turns, "answer": self.answer}


def probe_conversation(
    rng: random.Random, index: int, min_gap: int = 2, max_gap: int = 4
) -> ProbeConversation:
    """One probe; the fact comes `gap` exchanges before the question (2 <= gap <= 4)."""
    colour = rng.choice(COLOURS)
    turns = [f"remember : my colour is {colour} .", "ok , i will remember that ."]
    for _ in range(rng.randint(min_gap, max_gap) - 1):
        thing = rng.choice(THINGS)
        liked = rng.random() < 0.5
        turns += [
            f"do you like {thing} ?",
            f"{'yes' if liked else 'no'} , i {'like' if liked else 'hate'} {thing} .",
        ]
    turns += ["what is my colour ?", f"{colour} ."]
    return ProbeConversation(f"probe-{index}", turns, colour)


def probe_corpus(n: int, seed: int = 0) -> list[ProbeConversation]:
    rng = random.Random(seed)
    return [probe_conversation(rng, i) for i in range(n)]
