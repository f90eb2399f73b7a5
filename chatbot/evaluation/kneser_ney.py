"""An interpolated Kneser-Ney trigram model of a reply given the previous utterance.

The classical baseline for `chatbot eval`. It sees exactly the tokens the
neural model is scored on: each exchange is the sequence

    source ids, <start>, reply ids, <end>

and only the reply ids and <end> are predicted, each from the two tokens
before it (so the first reply word is conditioned on the source's last
word). Ids come from the neural model's vocabulary, unknown words included.

The estimates are nltk.lm's `KneserNeyInterpolated` (tests compare the two):
absolute discounting of trigram counts, interpolated with continuation
(type) counts at the bigram and unigram levels, and an unseen context passing
its whole mass down a level. Two differences, both deliberate:

- nltk rescans every n-gram for each continuation count, which takes
  milliseconds per token; here the counts are tallied once, so a test split
  of 100,000 tokens scores in about a second.
- nltk's unigram level gives zero probability to a word never seen after
  another (and so an infinite perplexity); here the unigram level is itself
  discounted and interpolated with a uniform distribution over the vocabulary
  (`uniform_floor`, on by default; off reproduces nltk exactly).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator

from ..encoding import Exchange
from ..vocab import END_ID, START_ID

Trigram = tuple[int, int, int]


def reply_trigrams(source: list[int], reply: list[int]) -> Iterator[Trigram]:
    """The (a, b, w) trigrams whose w is a reply token or <end>.

    Two tokens of context reach back only to the source's last word.
    """
    seq = [source[-1] if source else START_ID, START_ID, *reply, END_ID]
    for i in range(2, len(seq)):
        yield seq[i - 2], seq[i - 1], seq[i]


class KneserNeyTrigram:
    def __init__(self, vocab_size: int, discount: float = 0.75, uniform_floor: bool = True):
        self.vocab_size, self.discount, self.uniform_floor = vocab_size, discount, uniform_floor
        self.trigrams: Counter[Trigram] = Counter()

    def fit(self, exchanges: Iterable[Exchange]) -> KneserNeyTrigram:
        for source, reply, learn in exchanges:
            if not learn:
                continue
            self.trigrams.update(reply_trigrams(source, reply))
        self._tally()
        return self

    def _tally(self) -> None:
        # Trigram level: raw counts per context (a, b).
        self.ctx3_total: Counter[tuple[int, int]] = Counter()
        self.ctx3_types: Counter[tuple[int, int]] = Counter()
        # Bigram level: N1+(. b w), the distinct a seen before (b, w).
        self.cont2: Counter[tuple[int, int]] = Counter()
        for (a, b, w), n in self.trigrams.items():
            self.ctx3_total[a, b] += n
            self.ctx3_types[a, b] += 1
            self.cont2[b, w] += 1
        self.ctx2_total: Counter[int] = Counter()
        self.ctx2_types: Counter[int] = Counter()
        # Unigram level: N1+(. w), the distinct b seen before w.
        self.cont1: Counter[int] = Counter()
        for (b, w), n in self.cont2.items():
            self.ctx2_total[b] += n
            self.ctx2_types[b] += 1
            self.cont1[w] += 1
        self.bigram_types = len(self.cont2)
        self.seen_words = len(self.cont1)

    def _interpolate(self, count: float, total: float, types: int, lower: float) -> float:
        if not total:  # an unseen context hands all its mass to the lower order
            return lower
        d = self.discount
        return max(count - d, 0.0) / total + d * types / total * lower

    def prob(self, word: int, a: int, b: int) -> float:
        """P(word | a, b)."""
        if self.uniform_floor:
            p1 = self._interpolate(
                self.cont1[word], self.bigram_types, self.seen_words, 1 / self.vocab_size
            )
        else:
            p1 = self.cont1[word] / self.bigram_types
        p2 = self._interpolate(self.cont2[b, word], self.ctx2_total[b], self.ctx2_types[b], p1)
        return self._interpolate(
            self.trigrams[a, b, word], self.ctx3_total[a, b], self.ctx3_types[a, b], p2
        )

    def nll(self, source: list[int], reply: list[int]) -> tuple[float, int]:
        """(summed negative log-likelihood, tokens) of `reply` and <end> after `source`."""
        total, n = 0.0, 0
        for a, b, w in reply_trigrams(source, reply):
            p = self.prob(w, a, b)
            total += -math.log(p) if p > 0 else math.inf
            n += 1
        return total, n
