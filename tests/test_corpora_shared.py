"""Integration: the real corpora in ../shared, with the counts their authors give."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chatbot.ingest import ingest

from .conftest import DAILYDIALOG, MAKE_CORNELL, needs_shared

pytestmark = needs_shared


def test_dailydialog_counts_and_official_splits(store):
    result = ingest(store, DAILYDIALOG, name="dd")
    c = result.corpus
    assert (c.conversations, c.utterances, result.skipped) == (13118, 102979, 0)
    assert c.splits == {"train": 11118, "valid": 1000, "test": 1000}
    first_test = store.conversation("dd", "dialogues_test:1")
    assert first_test[0] == ("A", "Hey man , you wanna buy some weed ?")
    assert ingest(store, DAILYDIALOG, name="dd-again").already_present


@pytest.mark.slow
def test_full_size_cornell_format_folder(store, tmp_path):
    folder = tmp_path / "cornell"
    subprocess.run(
        [sys.executable, str(MAKE_CORNELL), str(folder)], check=True, capture_output=True
    )
    result = ingest(store, folder, name="movies")
    c = result.corpus
    assert (c.format, c.conversations, c.utterances, result.skipped) == (
        "cornell",
        39046,
        304713,
        0,
    )
    assert sum(c.splits.values()) == 39046 and min(c.splits.values()) > 1500
    # The generator lists lines in reverse; the reader must restore conversation order.
    first = [text for _, text in store.conversation("movies", "m0:1")]
    assert first[0].startswith("Say , Jim , how about going for a few beers after dinner ?")
