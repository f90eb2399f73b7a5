"""Tier 3, the central test: carrying the state lets the model answer from memory.

In the probe corpus the last reply names a colour stated two to four
exchanges earlier, with distractor exchanges between. Trained with
remember_state, the model must answer held-out probes at >= 95%; the same
weights with remember_state = False can only guess (8 colours: chance 12.5%).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

pytestmark = [pytest.mark.slow, pytest.mark.tf]
tf = pytest.importorskip("tensorflow")

from chatbot import Chatbot  # noqa: E402
from chatbot.cli import cli  # noqa: E402
from chatbot.evaluate import probe_accuracy  # noqa: E402
from chatbot.ingest import ingest  # noqa: E402
from chatbot.probe import COLOURS, PROBE_CONFIG, probe_corpus  # noqa: E402
from chatbot.train import train  # noqa: E402

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_carried_state_answers_probes_and_reset_state_cannot(store, tmp_path):
    path = tmp_path / "probe.jsonl"
    path.write_text("\n".join(json.dumps(c.to_json()) for c in probe_corpus(2000, seed=1)))
    ingest(store, path, name="probe")
    train(store, "probe", "memory", PROBE_CONFIG)
    held_out = probe_corpus(200, seed=99)
    bot = Chatbot.load("memory", db=store.path)
    carried = probe_accuracy(bot, held_out)
    bot.remember_state = False
    reset = probe_accuracy(bot, held_out)
    chance = 1 / len(COLOURS)
    assert carried >= 0.95, f"carried state: {carried:.1%}"
    assert reset <= chance + 0.10, f"reset state: {reset:.1%} (chance {chance:.1%})"
    # The same measurement through `chatbot eval --probe`, from a file the script writes.
    probe_file = tmp_path / "held_out.jsonl"
    subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "make_probe_corpus.py"),
            str(probe_file),
            "--conversations",
            "200",
            "--seed",
            "99",
        ],
        check=True,
        capture_output=True,
    )
    report = json.loads(
        CliRunner()
        .invoke(
            cli,
            [
                "eval",
                "--model",
                "memory",
                "--probe",
                str(probe_file),
                "--json",
                "--db",
                str(store.path),
            ],
        )
        .output
    )
    assert (report["carried"], report["reset"], report["chance"]) == (carried, reset, chance)
