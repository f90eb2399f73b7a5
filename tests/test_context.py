"""Tier 3, the central test: carrying the state lets the model answer from memory.

One model is trained through `chatbot train` with the default settings and
size flags only, on a mix of probe kinds (chatbot/evaluation/probe.py): the fact two to
four exchanges back, another slot with other fillers at one to five, a fact
six exchanges back, two facts of which one is asked, and a kind written only
here, unlike the project's own. On held-out probes of every kind the carried
state must answer >= 99%; the same weights reset every exchange can only
guess (within 10 points of chance: 12.5%, or 20% for the unseen kind).
"""

from __future__ import annotations

import json

import pytest

from chatbot.evaluation.probe import KINDS, Filler, ProbeKind, Slot, probe_corpus

pytestmark = [pytest.mark.slow, pytest.mark.tf]
tf = pytest.importorskip("tensorflow")

# Not in chatbot/evaluation/probe.py: other fact, other words, other fillers.
UNSEEN = ProbeKind(
    "unseen",
    (Slot("i work as a {}", "what is my job ?", ("cook", "vet", "pilot", "nurse", "judge")),),
    Filler("do you play {} ?", "yes , {} is fun", ("golf", "polo", "tennis", "rugby", "darts")),
    2,
    4,
)
ALL = [*KINDS.values(), UNSEEN]
SIZES = ["--embed-dim", "32", "--hidden-units", "128", "--max-len", "12", "--batch-size", "32"]


def write(path, conversations) -> None:
    path.write_text("\n".join(json.dumps(c.to_json()) for c in conversations) + "\n")


@pytest.fixture(scope="module")
def memory_model(tmp_path_factory):
    """(db path, folder) of a model trained on 600 probes of each kind."""
    from click.testing import CliRunner

    from chatbot.cli import cli

    tmp = tmp_path_factory.mktemp("context")
    db = str(tmp / "probe.db")
    train = tmp / "train.jsonl"
    write(train, [c for i, k in enumerate(ALL) for c in probe_corpus(600, seed=1 + i, kind=k)])
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(train), "--name", "probe", "--db", db])
    assert result.exit_code == 0, result.output
    args = ["train", "--corpus", "probe", "--name", "memory", *SIZES, "--epochs", "40"]
    result = runner.invoke(cli, [*args, "--seed", "1", "--db", db])
    assert result.exit_code == 0, result.output
    return db, tmp


@pytest.mark.parametrize("kind", ALL, ids=lambda k: k.name)
def test_carried_state_answers_probes_and_reset_state_cannot(memory_model, kind):
    from click.testing import CliRunner

    from chatbot.cli import cli

    db, tmp = memory_model
    held_out = tmp / f"{kind.name}.jsonl"
    write(held_out, probe_corpus(200, seed=99, kind=kind))
    result = CliRunner().invoke(
        cli, ["eval", "--model", "memory", "--probe", str(held_out), "--json", "--db", db]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["conversations"] == 200
    assert report["carried"] >= 0.99, report
    # Reset, the weights can only guess: within 10 points of chance (12.5% for
    # eight values, 20% for the unseen kind's five).
    assert report["reset"] <= report["chance"] + 0.10, report
    assert report["chance"] == pytest.approx(1 / len(kind.slots[0].values), abs=0.05)


def test_make_probe_corpus_writes_the_probes_eval_reads(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from chatbot.evaluation.reports import load_probe

    out = tmp_path / "far.jsonl"
    script = Path(__file__).resolve().parents[1] / "scripts" / "make_probe_corpus.py"
    args = [str(out), "--conversations", "5", "--seed", "3", "--kind", "far"]
    subprocess.run([sys.executable, str(script), *args], check=True, capture_output=True)
    assert load_probe(out) == probe_corpus(5, seed=3, kind="far")
    # Six exchanges from the fact to the question: 2 + 2 x 5 fillers + 2 turns.
    assert all(len(c.turns) == 14 for c in load_probe(out))
