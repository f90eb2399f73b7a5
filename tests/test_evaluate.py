"""Tier 1: the evaluation's pure parts: the Kneser-Ney baseline, reply metrics, dedupe."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.encoding import Exchange
from chatbot.evaluation.kneser_ney import KneserNeyTrigram, reply_trigrams
from chatbot.evaluation.reply_metrics import reply_metrics, unigram_f1
from chatbot.evaluation.reports import split_conversations
from chatbot.vocab import END_ID, START_ID, Vocab

nltk_lm = pytest.importorskip("nltk.lm")


def toy_exchanges(seed: int, n: int = 80, vocab: int = 12) -> list[Exchange]:
    rng = random.Random(seed)
    ids = range(4, 4 + vocab)
    return [
        Exchange(rng.choices(ids, k=rng.randint(1, 4)), rng.choices(ids, k=rng.randint(1, 5)))
        for _ in range(n)
    ]


def test_reply_trigrams_predict_the_reply_and_end_from_the_source_tail():
    assert list(reply_trigrams([5, 6, 7], [8, 9])) == [
        (7, START_ID, 8),
        (START_ID, 8, 9),
        (8, 9, END_ID),
    ]
    assert list(reply_trigrams([5], [])) == [(5, START_ID, END_ID)]


def test_kneser_ney_equals_nltk_on_the_same_counts():
    exchanges = toy_exchanges(seed=3)
    ours = KneserNeyTrigram(vocab_size=16, discount=0.1, uniform_floor=False).fit(exchanges)
    # nltk counts every n-gram it is given: hand it exactly the trigrams we count,
    # with the bigrams and unigrams they end in (its vocabulary holds strings).
    sentences = [
        [tuple(map(str, g)) for a, b, w in reply_trigrams(s, r) for g in ((w,), (b, w), (a, b, w))]
        for s, r, _ in exchanges
    ]
    words = sorted({w for sent in sentences for g in sent for w in g})
    ids = sorted(ours.cont1) + [START_ID]
    theirs = nltk_lm.KneserNeyInterpolated(3, discount=0.1)
    theirs.fit(sentences, words)
    rng = random.Random(0)
    seen = list(ours.trigrams)
    # Seen trigrams, seen contexts with other words, and unseen contexts.
    queries = seen[:40] + [(a, b, rng.choice(ids)) for a, b, _ in seen[:40]]
    queries += [(rng.choice(ids), rng.choice(ids), rng.choice(ids)) for _ in range(40)]
    compared = 0
    for a, b, w in queries:
        if not ours.cont1[w]:
            continue  # nltk gives such words zero probability (see uniform_floor)
        expected = theirs.score(str(w), [str(a), str(b)])
        assert ours.prob(w, a, b) == pytest.approx(expected, rel=1e-9)
        compared += 1
    assert compared > 60


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), a=st.integers(0, 20), b=st.integers(0, 20))
def test_kneser_ney_with_floor_is_a_distribution_over_the_vocabulary(seed, a, b):
    kn = KneserNeyTrigram(vocab_size=20).fit(toy_exchanges(seed, n=30, vocab=14))
    probs = [kn.prob(w, a, b) for w in range(20)]
    assert min(probs) > 0  # no word, seen or not, makes the perplexity infinite
    assert math.fsum(probs) == pytest.approx(1.0, abs=1e-9)


def test_kneser_ney_learns_what_follows_what():
    exchanges = [Exchange([5, 6], [7, 8])] * 20 + [Exchange([9], [10])] * 20
    kn = KneserNeyTrigram(vocab_size=12).fit(exchanges)
    assert kn.prob(7, 6, START_ID) > 0.8 and kn.prob(10, 6, START_ID) < 0.1
    loss, tokens = kn.nll([5, 6], [7, 8])
    assert tokens == 3 and loss < 3 * -math.log(0.8)


def test_reply_metrics():
    m = reply_metrics([["a", "b"], ["a", "b"], ["c"]], top=1)
    assert m["replies"] == 3
    assert m["distinct_1"] == pytest.approx(3 / 5)  # a b a b c: 3 unique of 5
    assert m["distinct_2"] == pytest.approx(1 / 2)  # (a b) twice
    assert m["generic_rate"] == pytest.approx(2 / 3)  # "a b" is the top reply
    assert m["average_length"] == pytest.approx(5 / 3)
    assert m["top_replies"][0] == "a b"
    assert reply_metrics([]) == {"replies": 0}


def test_reply_metrics_against_human_replies():
    bot = [["i", "'m", "fine", "."], ["the", "cat", "sat"], ["no"]]
    human = [["i", "'m", "fine", ",", "thanks", "."], ["a", "dog", "sat"], ["yes"]]
    m = reply_metrics(bot, human)
    # ParlAI's F1: "i 'm fine" against "i 'm fine thanks" is 2*1*0.75/1.75; the
    # articles do not count, so "cat sat" against "dog sat" is 0.5; "no"/"yes" 0.
    assert m["f1"] == pytest.approx((6 / 7 + 0.5 + 0) / 3)
    assert 0 < m["bleu_2"] < m["bleu_1"] < 1
    assert reply_metrics(human[:2], human[:2])["bleu_2"] == pytest.approx(1.0)
    assert unigram_f1([".", "the"], ["a", "!"]) == 0.0


class FakeStore:
    def __init__(self, splits: dict[str, list[list[str]]]):
        self.splits = splits

    def iter_conversations(self, corpus, split):
        return iter(self.splits[split])


def test_test_dialogues_repeated_from_training_are_left_out():
    vocab = Vocab.build(["hi there", "hello you", "bye now"], 50, min_count=1)
    store = FakeStore(
        {
            "train": [["hi there", "hello you"]],
            "test": [["hi there", "hello you"], ["bye now", "hi there"], ["lonely"]],
        }
    )
    convs, dropped = split_conversations(store, "c", "test", vocab, max_len=8)
    assert dropped == 1
    assert convs == [[Exchange(vocab.encode(["bye", "now"]), vocab.encode(["hi", "there"]))]]
    kept, none = split_conversations(store, "c", "test", vocab, max_len=8, dedupe=False)
    assert none == 0 and len(kept) == 2
