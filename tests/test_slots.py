"""Conversation slots: a word the vocabulary lacks reads and writes as slot n."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.encoding import encoded_conversations
from chatbot.vocab import SLOT, UNK_ID, Slots, Vocab, word_hash


def vocab(slots: int = 3) -> Vocab:
    return Vocab.build(["my name is what ?"] * 2, max_size=40, slots=slots)


def test_build_puts_slot_tokens_after_the_specials():
    v = vocab(3)
    assert v.slot_ids == [4, 5, 6]
    assert [v.itos[i] for i in v.slot_ids] == [SLOT.format(i) for i in range(3)]
    assert "name" in v
    assert Vocab(v.itos).slot_ids == [4, 5, 6]  # read back from the token list


def test_unknown_words_bind_in_order_and_read_the_same_each_time():
    v = vocab(3)
    slots = Slots(v)
    first = slots.encode(["my", "name", "is", "zorblax"])
    assert first[-1] == v.slot_ids[0]
    assert slots.encode(["zorblax", "and", "rex"]) == [v.slot_ids[0], v.slot_ids[1], v.slot_ids[2]]
    assert slots.decode([v.stoi["name"], v.slot_ids[2], v.slot_ids[0]]) == [
        "name",
        "rex",
        "zorblax",
    ]


def test_slots_wrap_round_and_the_oldest_binding_gives_way():
    v = vocab(2)
    slots = Slots(v)
    slots.encode(["aa", "bb", "cc"])
    assert slots.words == ["cc", "bb"]
    assert slots.decode([v.slot_ids[0]]) == ["cc"]


def test_an_unbound_slot_is_dropped_from_a_reply():
    v = vocab(3)
    slots = Slots(v)
    slots.encode(["zorblax"])
    reply = [v.stoi["name"], v.slot_ids[1], v.slot_ids[0]]
    assert slots.bound(reply) == [v.stoi["name"], v.slot_ids[0]]
    assert slots.decode(reply) == ["name", "zorblax"]


def test_a_vocabulary_without_slots_reads_unknown_words_as_unk():
    v = vocab(0)
    assert v.slot_ids == []
    assert Slots(v).encode(["name", "zorblax"]) == [v.stoi["name"], UNK_ID]


def test_copy_is_independent():
    slots = Slots(vocab(3))
    slots.encode(["aa"])
    saved = slots.copy()
    slots.encode(["bb"])
    assert saved.words == ["aa", None, None] and slots.words == ["aa", "bb", None]


def test_each_training_conversation_binds_its_own_slots():
    v = vocab(3)
    convs = list(
        encoded_conversations([["my name is rex", "what ?"], ["is ziggy", "ziggy ?"]], v, 10)
    )
    assert convs[0][0][0][-1] == v.slot_ids[0]  # rex: the first new word of conversation 1
    assert convs[1][0][0][-1] == v.slot_ids[0]  # ziggy: the first of conversation 2
    assert convs[1][0][1][0] == v.slot_ids[0]  # and the reply says it back as the same slot


def ranked_vocab(slots: int = 3) -> Vocab:
    """'my' is the commonest word, then 'name', then 'paris' (rank 2 after the slots)."""
    return Vocab.build(["my my my name name paris"], max_size=40, slots=slots)


def test_the_users_rare_words_take_slots_and_the_bots_do_not():
    v = ranked_vocab()
    assert v.itos[4 + 3 :] == ["my", "name", "paris"]
    slots = Slots(v, rank=2)  # words ranked past 2 ("paris") are rare
    assert slots.encode(["paris"]) == [v.stoi["paris"]]  # the bot said it: a word
    user = Slots(v, rank=2)
    assert user.encode(["my", "name", "paris"], user=True) == [
        v.stoi["my"],
        v.stoi["name"],
        v.slot_ids[0],
    ]
    # Once the user said it, the bot's "paris" reads (and is said) as the same slot.
    assert user.encode(["paris"]) == [v.slot_ids[0]]
    assert user.bound([v.stoi["paris"], v.stoi["name"]]) == [v.slot_ids[0], v.stoi["name"]]
    assert user.decode([v.slot_ids[0]]) == ["paris"]


def test_a_statement_names_only_its_last_rare_word_and_a_question_none():
    common = "i in . ? , ! " * 4
    v = Vocab.build([common + "live live live beats beats paris paris city rome"], slots=4)
    assert v.itos[4 + 4 + 6 :] == ["live", "beats", "paris", "city", "rome"]

    def bound(text: str) -> list[str | None]:
        slots = Slots(v, rank=7)  # "beats" and after are rare
        slots.encode(text.split(), user=True)
        return [w for w in slots.words if w]

    assert bound("beats paris .") == ["paris"]  # not "beats": it does not end the sentence
    assert bound("beats zorblax") == ["zorblax"]  # the text's end ends a sentence too
    assert bound("i live in paris . city rome !") == ["paris", "rome"]
    assert bound("paris city ?") == []  # a question names nothing it knows
    assert bound("in city , zorblax ?") == ["zorblax"]  # new words bind anywhere
    assert bound("i live in paris") == ["paris"] and bound("paris , i live in .") == ["paris"]


def test_rank_zero_or_no_slots_keeps_the_users_known_words():
    v = ranked_vocab()
    assert Slots(v, rank=0).encode(["paris"], user=True) == [v.stoi["paris"]]
    v = ranked_vocab(0)
    assert Slots(v, rank=1).encode(["paris", "zorblax"], user=True) == [v.stoi["paris"], UNK_ID]


def test_training_reads_a_prompt_as_the_user():
    from chatbot.corpora.base import Prompt

    v = ranked_vocab()
    (conv,) = encoded_conversations([[Prompt("my name paris"), "paris ?"]], v, 10, Slots(v, rank=2))
    assert conv[0].source[-1] == v.slot_ids[0] and conv[0].target[0] == v.slot_ids[0]
    (plain,) = encoded_conversations([["my name paris", "paris ?"]], v, 10, Slots(v, rank=2))
    assert plain[0].source[-1] == v.stoi["paris"]  # a person of a real corpus: words


@given(st.lists(st.sampled_from(["name", "is", "aa", "bb", "cc", "dd", "ee"]), max_size=30))
def test_decode_gives_back_every_word_still_bound(words):
    v = vocab(3)
    slots = Slots(v)
    ids = slots.encode(words)
    bound = set(w for w in slots.words if w)
    shown = slots.decode(ids)
    assert len(shown) <= len(words)
    for word, id_ in zip(words, ids, strict=True):
        if word in v or word in bound and slots.words[v.slot_ids.index(id_)] == word:
            assert word in shown


@pytest.mark.tf
@pytest.mark.parametrize("remember", [True, False])
def test_a_chat_binds_slots_across_exchanges_only_while_it_remembers(remember):
    pytest.importorskip("tensorflow")
    from chatbot import Chatbot
    from chatbot.config import Config
    from chatbot.model import Seq2Seq

    v = Vocab.build(["my name is what ? i am"] * 2, max_size=40, slots=4)
    config = Config(embed_dim=4, hidden_units=4, vocab_size=40, max_len=8)
    model = Seq2Seq(config, len(v))
    model.build_weights()
    bot = Chatbot(model, v)
    bot.remember_state = remember
    bot.respond("my name is Zorblax")
    bot.respond("i am Quib")
    # Reset every exchange, a slot's number must not tell what was said before.
    held = sorted(w for w in bot.slots.words if w)
    assert held == (["quib", "zorblax"] if remember else ["quib"])
    bot.reset_hidden_state()
    assert bot.slots.words == [None] * 4


def test_by_hash_a_word_takes_its_own_slot_and_gives_way_only_when_all_are_bound():
    v = vocab(4)
    slots = Slots(v, by_hash=True)
    first = slots.encode(["zorblax"])[0] - v.slot_ids[0]
    assert first == word_hash("zorblax") % 4  # not slot 0: the first word is not special
    for word in ["aa", "bb", "cc"]:
        slots.encode([word])
    assert sorted(w for w in slots.words) == ["aa", "bb", "cc", "zorblax"]  # collisions moved on
    (n,) = slots.encode(["dd"])
    assert slots.words[n - v.slot_ids[0]] == "dd" and n - v.slot_ids[0] == word_hash("dd") % 4
    assert slots.fresh().by_hash and slots.fresh().words == [None] * 4
