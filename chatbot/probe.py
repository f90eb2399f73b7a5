"""The context probe: conversations whose last reply depends on a fact stated
two to four exchanges earlier, with distractor exchanges between.

    my colour is teal          (the fact)
    ok
    tea ?                      (1 to 3 distractor exchanges)
    i like tea
    my colour ?                (the question)
    teal                       (the answer: only the fact tells it)

A model that carries its state across exchanges can answer; one that starts
every exchange from zeros can only guess (chance = 1 / number of colours).
Utterances are short on purpose: the probe measures memory across
exchanges, not the patience of a tiny model over long sentences.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .config import Config

# A model size and schedule that learns the probe in about 80 s on 2 cores.
# bptt covers a whole probe (at most 9 exchanges) wherever it starts in a
# window, so the gradient reaches the fact; with bptt 10 it plateaued at 49-73%.
PROBE_CONFIG = Config(
    embed_dim=32,
    hidden_units=64,
    batch_size=16,
    bptt=20,
    # One optimizer step per window. Split into shares (update_every < bptt) the
    # later shares come from weights several steps old, and the probe got more
    # sensitive to the rate: a step per exchange learned it at 0.002 (100%) but
    # not at 0.004 (15%); a step every 5 exchanges reached 85% at 0.01.
    update_every=20,
    epochs=30,
    learning_rate=0.01,
    # The probe sits on a plateau for epochs before the memory clicks; decaying
    # the rate there (the default) left it at chance.
    lr_decay=1.0,
    min_count=1,
    max_len=8,
    patience=30,
    seed=0,
)

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
    """One probe; the fact comes `gap` exchanges before the question."""
    colour = rng.choice(COLOURS)
    turns = [f"my colour is {colour}", "ok"]
    for _ in range(rng.randint(min_gap, max_gap) - 1):
        thing = rng.choice(THINGS)
        turns += [f"{thing} ?", f"i like {thing}"]
    turns += ["my colour ?", colour]
    return ProbeConversation(f"probe-{index}", turns, colour)


def probe_corpus(n: int, seed: int = 0) -> list[ProbeConversation]:
    rng = random.Random(seed)
    return [probe_conversation(rng, i) for i in range(n)]
