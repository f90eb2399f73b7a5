"""The chitchat reader, the generated recall corpus, and training on a mix of corpora."""

from __future__ import annotations

import json
import random

import pytest

from chatbot.corpora import Problems, chitchat, recall
from chatbot.evaluation import recall as recall_eval
from chatbot.text import tokenize
from chatbot.training.mix import Mix

PAIRS = [("do you like movies ?", "yes , a lot ."), ("what a day .", "tell me about it .")]


def test_chitchat_joins_one_senders_run_into_one_utterance(tmp_path):
    data = {
        "c1": {
            "messages": [
                [{"sender": "a", "text": "hi"}, {"sender": "a", "text": "anyone here"}],
                [{"sender": "b", "text": "hey  whats up"}],
                [{"sender": "b", "text": "how are you"}],
                [{"sender": "a", "text": ""}, {"sender": "a", "text": "good"}],
            ]
        },
        "c2": {"nothing": []},
    }
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(data))
    problems = Problems()
    convs = list(chitchat.read(path, problems))
    assert [u.text for u in convs[0].utterances] == [
        "hi anyone here",
        "hey whats up how are you",
        "good",
    ]
    assert problems.skipped == 1 and "c2" in problems.errors[0]


def test_chitchat_builtin_ingests_with_a_stable_split(run):
    result = run("ingest", "--builtin", "chitchat")
    assert result.exit_code == 0, result.output
    assert "7,168 conversations" in result.output
    assert "train 6,464 / valid 367 / test 337" in result.output


def test_recall_is_reproducible_from_its_seed():
    a = [c.utterances for c in recall.conversations(20, 3, PAIRS)]
    assert a == [c.utterances for c in recall.conversations(20, 3, PAIRS)]
    assert a != [c.utterances for c in recall.conversations(20, 4, PAIRS)]


def test_recall_conversations_alternate_and_every_question_is_answered_with_its_fact():
    rng = random.Random(0)
    for _ in range(300):
        texts = recall.conversation(rng, PAIRS)
        assert len(texts) % 2 == 0 and all(texts)
    # Every question's answer gives back the value stated last (after a correction, the new one).
    kinds = set()
    for _ in range(300):
        exchanges, answers = recall.script(rng, PAIRS)
        assert answers
        for index, value in answers:
            question, answer = exchanges[index]
            assert value in tokenize(answer), (question, answer, value)
            stated = [u for u, _ in exchanges[:index] if value in tokenize(u)]
            said_by_bot = [b for _, b in exchanges[:index] if value in tokenize(b)]
            assert stated or said_by_bot, (exchanges, value)
            kinds.add(question)
    assert len(kinds) > 40  # many phrasings


def test_invented_words_are_words_no_list_holds():
    rng = random.Random(0)
    words = {recall.invented(rng) for _ in range(500)}
    assert len(words) > 450
    assert all(w.isalpha() and w.islower() for w in words)


def test_recall_builtin_ingests_and_a_second_time_is_a_no_op(run):
    args = ("ingest", "--builtin", "recall", "--conversations", "50", "--seed", "2")
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert "50 conversations" in first.output
    assert "already ingested" in run(*args).output
    other = run(
        "ingest", "--builtin", "recall", "--conversations", "50", "--seed", "3", "--name", "r3"
    )
    assert other.exit_code == 0, other.output


class Source:
    """A ConversationSource of lists in memory."""

    def __init__(self, corpora):
        self.data = corpora

    def corpus(self, name):
        return self.data[name]

    def conversation_count(self, name, split):
        return len(self.data[name])

    def exchange_count(self, name, split):
        return sum(len(c) - 1 for c in self.data[name])

    def iter_conversations(self, name, split=None):
        yield from self.data[name]


def test_a_mix_spreads_each_corpus_evenly_through_the_epoch():
    source = Source(
        {"a": [[f"a{i}", "x"] for i in range(9)], "b": [[f"b{i}", "y"] for i in range(3)]}
    )
    mix = Mix(source, ["a", "b"])
    order = [c[0][0] for c in mix.iter_conversations(mix.name, "train")]
    assert order.count("a") == 9 and order.count("b") == 3
    assert order == list("aabaaabaaaba".replace("b", "b")) or [
        i for i, c in enumerate(order) if c == "b"
    ] == [2, 6, 10]
    assert mix.name == "a+b" and mix.conversation_count(mix.name, "train") == 12
    assert mix.exchange_count(mix.name, "train") == 12


def test_a_mix_refuses_a_corpus_named_twice():
    from chatbot.errors import UsageError

    with pytest.raises(UsageError, match="twice"):
        Mix(Source({}), ["a", "a"])


def test_held_out_recall_cases_use_phrasings_the_generator_never_does():
    generated = {t.split("{")[0] for k in recall.KINDS for t in (*k.state, *k.ask)}
    for _, statements, questions, _ in recall_eval.EVAL_KINDS:
        for phrase in (*statements, *questions):
            assert phrase.split("{")[0] not in generated, phrase
    cases = recall_eval.cases(40, 0, PAIRS, distances=(1, 3))
    assert {c.distance for c in cases} == {1, 3}
    assert all(c.value in tokenize(c.statement) for c in cases)
