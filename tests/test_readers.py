"""Every reader on small fixtures written here, plus fuzzing with hypothesis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot import corpora
from chatbot.corpora import Problems
from chatbot.errors import CorpusFormatError, UsageError

from .conftest import write

SEP = " +++$+++ "


def texts(conversations):
    return [[u.text for u in c.utterances] for c in conversations]


def make_cornell(root: Path, extra_conversation: str = "") -> Path:
    lines = [
        ("L3", "u1", "m0", "BOB", "Fine, thanks."),
        ("L2", "u0", "m0", "ALICE", "How are you?"),
        ("L1", "u1", "m0", "BOB", "Hi Alice."),
        ("L9", "u0", "m1", "ALICE", "Caf\xe9 au lait?"),  # iso-8859-1 byte for é
        ("L8", "u1", "m1", "BOB", "Yes."),
    ]
    convs = [
        f"u0{SEP}u1{SEP}m0{SEP}['L1', 'L2', 'L3']",
        f"u0{SEP}u1{SEP}m1{SEP}['L9', 'L8']",
    ]
    if extra_conversation:
        convs.append(extra_conversation)
    write(root / "movie_lines.txt", "\n".join(SEP.join(f) for f in lines) + "\n", "iso-8859-1")
    write(root / "movie_conversations.txt", "\n".join(convs) + "\n", "iso-8859-1")
    return root


def test_cornell_orders_lines_by_conversation_and_decodes_latin1(tmp_path):
    convs = list(corpora.read(make_cornell(tmp_path), "cornell", Problems()))
    assert texts(convs) == [
        ["Hi Alice.", "How are you?", "Fine, thanks."],
        ["Café au lait?", "Yes."],
    ]
    assert [u.speaker for u in convs[0].utterances] == ["BOB", "ALICE", "BOB"]
    assert [c.external_id for c in convs] == ["m0:1", "m1:2"]


def test_cornell_reports_missing_line_with_file_and_line(tmp_path):
    problems = Problems()
    folder = make_cornell(tmp_path, f"u0{SEP}u1{SEP}m0{SEP}['L1', 'L77']")
    convs = list(corpora.read(folder, "cornell", problems))
    assert len(convs) == 2
    assert problems.errors == [
        f"{folder / 'movie_conversations.txt'}:3: line id L77 is not in movie_lines.txt"
    ]


def test_dailydialog_folder_keeps_official_splits(tmp_path):
    eou = " __eou__ "
    write(
        tmp_path / "train" / "dialogues_train.txt", f"Hi .{eou}Hello !{eou}\nA{eou}B{eou}C{eou}\n"
    )
    write(tmp_path / "train" / "dialogues_act_train.txt", "1 2 \n1 1 1 \n")
    write(tmp_path / "validation" / "dialogues_validation.txt", f"How ?{eou}So .{eou}\n")
    write(tmp_path / "test" / "dialogues_test.txt", f"Yes ?{eou}No .{eou}\n")
    convs = list(corpora.read(tmp_path, "dailydialog", Problems()))
    assert [c.split for c in convs] == ["train", "train", "valid", "test"]
    assert texts(convs)[1] == ["A", "B", "C"]
    assert [u.speaker for u in convs[1].utterances] == ["A", "B", "A"]
    assert corpora.detect(tmp_path) == "dailydialog"


def test_dailydialog_line_without_marker_is_an_error(tmp_path):
    path = write(tmp_path / "dialogues_text.txt", "Hi . __eou__ Yo . __eou__\nno marker here\n")
    problems = Problems()
    convs = list(corpora.read(path, "dailydialog", problems))
    assert len(convs) == 1 and convs[0].split is None
    assert problems.errors[0].startswith(f"{path}:2: no __eou__ marker")


def test_chatterbot_yaml(tmp_path):
    path = write(
        tmp_path / "greet.yml",
        "categories: [greetings]\nconversations:\n- - Hello\n  - Hi there\n- - 42\n  - the answer\n",
    )
    convs = list(corpora.read(path, "chatterbot", Problems()))
    assert texts(convs) == [["Hello", "Hi there"], ["42", "the answer"]]
    assert corpora.detect(tmp_path) == "chatterbot"


def test_chatterbot_builtin_english_is_installed():
    from chatbot.corpora.chatterbot import builtin_path

    convs = list(corpora.read(builtin_path("chatterbot-english"), "chatterbot", Problems()))
    assert len(convs) > 1000
    assert all(len(c.utterances) >= 1 for c in convs)


def test_jsonl_reads_turns_and_ignores_other_keys(tmp_path):
    lines = [
        json.dumps({"id": "a", "turns": ["hi", "  hello   there "], "lang": "en"}),
        "",
        json.dumps({"turns": ["no id"]}),
        '{"id": "broken", "turns": ["unterminated',
        json.dumps({"id": "x", "turns": "not a list"}),
    ]
    path = write(tmp_path / "mine.jsonl", "\n".join(lines) + "\n")
    problems = Problems()
    convs = list(corpora.read(path, "jsonl", problems))
    assert texts(convs) == [["hi", "hello there"], ["no id"]]
    assert [c.external_id for c in convs] == ["a", "line-3"]
    assert [e.split(": ")[0] for e in problems.errors] == [f"{path}:4", f"{path}:5"]


def test_jsonl_fail_mode_raises_on_first_bad_record(tmp_path):
    path = write(tmp_path / "mine.jsonl", '{"id": 1, "turns": ["ok"]}\n[1, 2]\n')
    with pytest.raises(CorpusFormatError, match=r"mine.jsonl:2: expected"):
        list(corpora.read(path, "jsonl", Problems("fail")))


def test_text_blank_lines_separate_conversations(tmp_path):
    path = write(tmp_path / "chat.txt", "\n\nhi\nhello\n\n\n\nhow are you\nfine\r\nthanks\n")
    convs = list(corpora.read(path, "text", Problems()))
    assert texts(convs) == [["hi", "hello"], ["how are you", "fine", "thanks"]]
    assert [c.external_id for c in convs] == ["c1", "c2"]


def test_invalid_utf8_falls_back_with_a_warning(tmp_path):
    path = write(tmp_path / "chat.txt", b"caf\xe9 ok\nfine\n")
    problems = Problems()
    convs = list(corpora.read(path, "text", problems))
    assert texts(convs) == [["caf\ufffd ok", "fine"]]
    assert problems.warnings[0].startswith(f"{path}:1: bytes not valid utf-8")


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("empty.txt", b"", "is empty"),
        ("blob.txt", b"\x89PNG\r\n\x1a\n\0\0\0", "looks like a binary file"),
    ],
)
def test_empty_and_binary_files_are_refused(tmp_path, name, content, error):
    path = write(tmp_path / name, content)
    with pytest.raises(CorpusFormatError, match=error):
        list(corpora.read(path, "text", Problems()))


def test_detect_asks_for_format_when_unsure(tmp_path):
    path = write(tmp_path / "data.csv", "a,b\n")
    with pytest.raises(UsageError, match="pass --format"):
        corpora.detect(path)
    assert corpora.detect(make_cornell(tmp_path / "c")) == "cornell"
    assert corpora.detect(write(tmp_path / "x.jsonl", "{}")) == "jsonl"


# -- fuzzing: arbitrary bytes never crash a reader; they yield or report ------------

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    data=st.binary(min_size=1, max_size=400),
    fmt=st.sampled_from(["jsonl", "text", "dailydialog", "chatterbot"]),
)
def test_readers_survive_arbitrary_bytes(tmp_path, data, fmt):
    suffix = {"jsonl": ".jsonl", "text": ".txt", "dailydialog": ".txt", "chatterbot": ".yml"}[fmt]
    path = write(tmp_path / f"fuzz{suffix}", data)
    try:
        convs = list(corpora.read(path, fmt, Problems()))
    except CorpusFormatError:
        return  # empty or binary input: refused with a message, which is the contract
    for conv in convs:
        assert conv.utterances and all(u.text == u.text.strip() and u.text for u in conv.utterances)


@FUZZ
@given(
    turns=st.lists(
        st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=5), min_size=1, max_size=8
    )
)
def test_jsonl_round_trips_any_text(tmp_path, turns):
    path = tmp_path / "rt.jsonl"
    path.write_text(
        "\n".join(json.dumps({"id": str(i), "turns": t}) for i, t in enumerate(turns)),
        encoding="utf-8",
    )
    convs = list(corpora.read(path, "jsonl", Problems()))
    expected = [[" ".join(x.split()) for x in t if x.strip()] for t in turns]
    assert texts(convs) == [e for e in expected if e]


@FUZZ
@given(
    lines=st.lists(
        st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=20),
        max_size=20,
    )
)
def test_text_reader_matches_a_simple_model(tmp_path, lines):
    path = tmp_path / "t.txt"
    path.write_text("\n".join(lines) + "\nend\n", encoding="utf-8")
    convs = texts(corpora.read(path, "text", Problems()))
    model, current = [], []
    for line in [*lines, "end"]:
        cleaned = " ".join(line.split())
        if cleaned:
            current.append(cleaned)
        elif current:
            model.append(current)
            current = []
    model.append(current)
    assert convs == model


SAMPLES = Path(__file__).resolve().parents[1] / "corpora"


@pytest.mark.parametrize(
    "sample",
    [
        "sample.jsonl",
        "sample.txt",
        "chatterbot-sample.yml",
        "cornell-sample",
        "dailydialog-sample",
    ],
)
def test_every_shipped_sample_ingests_as_the_same_eight_conversations(store, sample):
    from chatbot.ingest import ingest

    result = ingest(store, SAMPLES / sample, name="s")
    assert (result.corpus.conversations, result.corpus.utterances, result.skipped) == (8, 35, 0)
    first = [text for _, text in store.conversation("s", store.conversation_ids("s", 8)[0][0])]
    assert all(isinstance(t, str) and t for t in first)
    assert "Hi! How are you today?" in {
        text
        for ext, _, _ in store.conversation_ids("s", 8)
        for _, text in store.conversation("s", ext)
    }
