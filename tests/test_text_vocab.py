"""Tokenization, normalization and the vocabulary."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.errors import ConfigError, ModelError
from chatbot.text import ABBREVIATIONS, detokenize, normalize, tokenize
from chatbot.vocab import END_ID, PAD_ID, SPECIALS, START_ID, UNK_ID, Vocab


def test_normalize_folds_case_quotes_and_whitespace():
    assert normalize("  Don\u2019t\tSHOUT\u2026 \u201cok\u201d ") == 'don\'t shout... "ok"'
    assert normalize("it ' s fine , isn ' t it") == "it's fine , isn't it"
    assert normalize("ｆｕｌｌ\x00width") == "full width"


def test_tokenize_splits_punctuation_and_contractions():
    assert tokenize("Hi, how're you? I'm fine.") == [
        "hi",
        ",",
        "how",
        "'re",
        "you",
        "?",
        "i",
        "'m",
        "fine",
        ".",
    ]
    assert tokenize("   ") == []


def test_detokenize_reads_as_text():
    assert detokenize(["i", "'m", "fine", ",", "thanks", "."]) == "i'm fine, thanks."


@given(st.text(max_size=200))
def test_tokenize_never_fails_and_gives_clean_tokens(text):
    tokens = tokenize(text)
    assert all(tok and not any(ch.isspace() for ch in tok) for tok in tokens)


@given(st.text(max_size=200))
def test_tokenize_keeps_every_character(text):
    # Splitting only inserts boundaries (Treebank's `` and '' quotes come back as ").
    joined = "".join(tokenize(text))
    assert joined == normalize(text).replace(" ", "").replace("``", '"').replace("''", '"')


def test_tokenize_splits_every_sentence():
    assert tokenize("Hi, my name is Alice. How are you? I'm fine.") == [
        *["hi", ",", "my", "name", "is", "alice", ".", "how", "are", "you", "?"],
        *["i", "'m", "fine", "."],
    ]
    assert tokenize("Mr. Smith paid $3.50 at 5 p.m. today.") == [
        *["mr.", "smith", "paid", "$", "3.50", "at", "5", "p.m.", "today", "."]
    ]
    assert tokenize("No. I won't.") == ["no", ".", "i", "wo", "n't", "."]
    assert tokenize("Great \U0001f600. Thanks!") == ["great", "\U0001f600", ".", "thanks", "!"]
    assert tokenize("\u4f60\u597d\u3002\u6211\u5f88\u597d\u3002") == [
        *["\u4f60\u597d", ".", "\u6211\u5f88\u597d", "."]
    ]


_words = st.text("abcdefghijklmnopqrstuvwxyz\u00e9\u00fc\u0436", min_size=1, max_size=8).filter(
    lambda w: w not in ABBREVIATIONS
)
_sentence = st.tuples(st.lists(_words, min_size=1, max_size=6), st.sampled_from(".?!"))


@given(st.lists(_sentence, min_size=1, max_size=5))
def test_no_word_keeps_its_sentence_end(sentences):
    """Whatever the sentences, each word and each end mark is its own token."""
    text = " ".join(" ".join(words).capitalize() + end for words, end in sentences)
    assert tokenize(text) == [tok for words, end in sentences for tok in (*words, end)]


def test_vocab_build_orders_by_count_and_caps():
    vocab = Vocab.build(["b a a", "a c b", "d"], max_size=7)
    assert vocab.itos == [*SPECIALS, "a", "b", "c"]
    assert vocab.encode(["a", "zzz"]) == [4, UNK_ID]
    assert Vocab.build(["b a a", "a c b", "d"], min_count=2).itos == [*SPECIALS, "a", "b"]


def test_vocab_decode_stops_at_end_and_skips_specials():
    vocab = Vocab(["hello", "world"])
    assert vocab.decode([START_ID, 4, PAD_ID, 5, END_ID, 4]) == ["hello", "world"]


def test_vocab_json_round_trip_and_bad_file(tmp_path):
    vocab = Vocab.build(["one two two"])
    vocab.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json").itos == vocab.itos
    (tmp_path / "bad.json").write_text('{"specials": [], "tokens": []}')
    with pytest.raises(ModelError, match="not a chatbot vocabulary"):
        Vocab.load(tmp_path / "bad.json")


def test_vocab_size_must_leave_room_for_words():
    with pytest.raises(
        ConfigError, match="vocab_size must be greater than 4. Received: vocab_size=3"
    ):
        Vocab.build(["a"], max_size=3)
