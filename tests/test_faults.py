"""Fault injection: hostile inputs get bounded memory and one clear line, and a crash at
any point leaves the previous good state readable. (Run alone: pytest -m faults.)"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot.corpora import Problems, chatterbot, jsonl, plaintext
from chatbot.errors import ChatbotError, ModelError
from chatbot.files import exclusive_lock
from chatbot.model_folder import ModelDir

from .conftest import write

pytestmark = pytest.mark.faults

# The ingest of any input stays under this peak RSS (README, "Guarantees").
PEAK_RSS_MB = 600
# Generous for a Python process without TensorFlow; a blow-up fails with MemoryError.
ADDRESS_SPACE = 2 << 30

CHILD = """
import sys
from chatbot.cli import main
sys.argv = ["chatbot", *sys.argv[1:]]
try:
    main()
finally:
    # VmHWM is this process image's own peak: ru_maxrss would also count the
    # parent's memory at fork time (a pytest process with TensorFlow loaded).
    with open("/proc/self/status") as status:
        peak = [line.split()[1] for line in status if line.startswith("VmHWM")][0]
    print(f"peak-rss-kb {peak}", file=sys.stderr)
"""


def _limits(address_space: int | None = None, file_size: int | None = None):
    def apply() -> None:
        import resource

        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if file_size:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a kill
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return apply


def chatbot(*args: str, **limits: int) -> tuple[int, list[str], float]:
    """(exit code, stderr lines without the RSS report, peak RSS in MB) of a CLI run."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limits(**limits),
    )
    lines = proc.stderr.strip().splitlines()
    rss = [int(x.split()[1]) for x in lines if x.startswith("peak-rss-kb")]
    return proc.returncode, [x for x in lines if not x.startswith("peak-rss-kb")], rss[0] / 1024


def _flood(path: Path, newlines: bool) -> Path:
    """20 MB of bytes that are never valid UTF-8 (all >= 0x80)."""
    table = bytes(b | 0x80 for b in range(256))
    data = os.urandom(20_000_000).translate(table)
    return write(path, data.replace(b"\xff", b"\n") if newlines else data)


BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]"
            for p, n in zip("abcdef", "bcdefg", strict=True)
        ),
        "conversations: [*g]",
    ]
)


def _cornell(folder: Path) -> Path:
    """A movie_lines.txt of 100 MB (25,000 lines of 4,000 characters) whose
    conversations use a hundred of them: the index must not keep the text."""
    sep = " +++$+++ "
    folder.mkdir()
    with (folder / "movie_lines.txt").open("w", encoding="iso-8859-1") as f:
        for i in range(25_000):
            f.write(sep.join([f"L{i}", "u0", "m0", "A", "word " * 800]) + "\n")
    convs = [f"u0{sep}u1{sep}m0{sep}['L{i}', 'L{i + 1}']" for i in range(0, 25_000, 250)]
    write(folder / "movie_conversations.txt", "\n".join(convs) + "\n", "iso-8859-1")
    return folder


def _yaml(path: Path, size: int) -> Path:
    """ChatterBot YAML of many two-line conversations, `size` bytes or just under."""
    entry = "- - hi there\n  - hello\n"
    return write(path, "conversations:\n" + entry * ((size - 16) // len(entry)))


def _jsonl_long_lines(path: Path) -> Path:
    """100 records of 990,000 characters each (99 MB)."""
    with path.open("w") as f:
        for i in range(100):
            f.write(json.dumps({"id": str(i), "turns": ["word " * 198_000, "ok"]}) + "\n")
    return path


# The shapes issue 36 measured growing with the input (1.3-2.8 GB before), at sizes a
# test can afford: each is ingested whole (or refused in one line) under the bound.
@pytest.mark.parametrize(
    "name, make, refused",
    [
        ("one-conversation.txt", lambda p: write(p, "hi there\n" * 2_000_000), False),
        ("long-lines.jsonl", _jsonl_long_lines, False),
        ("many.yml", lambda p: _yaml(p, 2_000_000), False),
        ("big.yml", lambda p: _yaml(p, 6_600_000), True),
        ("cornell", _cornell, False),
    ],
)
def test_each_format_at_its_worst_shape_stays_under_the_bound(
    tmp_path, db_path, name, make, refused
):
    path = make(tmp_path / name)
    code, err, peak = chatbot("ingest", str(path), "--db", str(db_path))
    assert peak < PEAK_RSS_MB, f"{name}: {peak:.0f} MB"
    if refused:
        assert code == 1 and len(err) == 1 and "2 MB" in err[0], err
    else:
        assert code == 0 and not any(x.startswith("Error") for x in err), err[-3:]


@pytest.mark.parametrize(
    "name, make",
    [
        ("bomb.yml", lambda p: write(p, BOMB)),
        ("deep.yml", lambda p: write(p, "conversations: " + "[" * 200_000 + "]" * 200_000)),
        ("deep.jsonl", lambda p: write(p, "[" * 200_000 + "]" * 200_000 + "\n")),
        ("flood.txt", lambda p: _flood(p, newlines=False)),
        ("flood-lines.txt", lambda p: _flood(p, newlines=True)),
        ("flood.jsonl", lambda p: _flood(p, newlines=True)),
    ],
)
def test_hostile_corpus_files_cost_bounded_memory_and_one_line(tmp_path, db_path, name, make):
    path = make(tmp_path / name)
    code, err, peak = chatbot(
        "ingest", str(path), "--db", str(db_path), address_space=ADDRESS_SPACE
    )
    assert peak < PEAK_RSS_MB, f"{name}: {peak:.0f} MB"
    assert "Traceback" not in "\n".join(err)
    if code:  # refused: exactly one Error line
        assert code == 1 and [x for x in err if x.startswith("Error:")] == err[-1:], err
    else:  # ingested what decoded, with the warnings counted, not listed one by one
        assert sum(x.startswith("warning:") for x in err) <= 11, err[:3]


def test_a_full_disk_during_ingest_is_one_line_and_keeps_what_was_stored(tmp_path, db_path):
    rows = [json.dumps({"id": f"c{i}", "turns": ["hello there", "hi"]}) for i in range(20)]
    small = write(tmp_path / "small.jsonl", "\n".join(rows) + "\n")
    assert chatbot("ingest", str(small), "--db", str(db_path))[0] == 0
    big_rows = [json.dumps({"id": f"b{i}", "turns": ["x " * 200, "y " * 200]}) for i in range(5000)]
    big = write(tmp_path / "big.jsonl", "\n".join(big_rows) + "\n")
    limit = db_path.stat().st_size + 200_000
    code, err, _ = chatbot("ingest", str(big), "--db", str(db_path), file_size=limit)
    assert code == 1 and len(err) == 1 and err[0].startswith("Error:"), err
    assert "cannot rollback" not in err[0]
    from chatbot.store import Store

    with Store(db_path) as store:
        assert [c.name for c in store.corpora()] == ["small"]
        assert store.corpus("small").conversations == 20


def test_a_damaged_database_is_one_line(tmp_path, db_path):
    rows = [json.dumps({"id": f"c{i}", "turns": ["hello " * 50, "hi " * 50]}) for i in range(400)]
    path = write(tmp_path / "c.jsonl", "\n".join(rows) + "\n")
    assert chatbot("ingest", str(path), "--db", str(db_path))[0] == 0
    with open(db_path, "r+b") as f:
        f.seek(4096 * 3)
        f.write(b"\xde\xad" * 4096)
    code, err, _ = chatbot("show", "c", "--db", str(db_path))
    assert code == 1 and len(err) == 1 and "database" in err[0], err


def test_a_db_where_no_folder_can_be_made_is_one_line(tmp_path):
    blocker = write(tmp_path / "file", "not a folder")
    db = str(blocker / "sub" / "x.db")  # ingest writes: listing a missing db creates nothing
    code, err, _ = chatbot("ingest", "--builtin", "chatterbot-english", "--db", db)
    assert code == 1 and len(err) == 1 and "choose another --db" in err[0], err


# -- readers, fuzzed -------------------------------------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2000))
def test_readers_never_fail_on_arbitrary_bytes(tmp_path, data):
    for reader, suffix in (
        (jsonl.read, ".jsonl"),
        (plaintext.read, ".txt"),
        (chatterbot.read, ".yml"),
    ):
        path = write(tmp_path / f"fuzz{suffix}", data)
        # A clear refusal (an empty or binary file) is an answer too.
        with contextlib.suppress(ChatbotError):
            list(reader(path, Problems("skip")))


# -- a checkpoint swap, crashed at every point ---------------------------------------


class Crash(Exception):
    pass


def test_a_crash_at_any_point_of_a_checkpoint_swap_leaves_one_readable(tmp_path, monkeypatch):
    """Whatever was on disk before (a complete `last`, or only `last.old` from an
    earlier crash), a crash at the k-th rename or delete of the swap leaves a
    complete checkpoint that `ModelDir.checkpoint` finds."""
    from chatbot.config import Config
    from chatbot.vocab import Vocab

    def write_tf(prefix: str) -> None:
        Path(prefix + ".index").write_text("weights")

    for before in ("last", "last.old"):
        for k in range(8):
            folder = ModelDir(tmp_path / f"{before}-{k}")
            folder.create(Config(), Vocab(["a"]))
            folder.write_checkpoint("last", write_tf, {"epoch": 1})
            if before == "last.old":
                (folder.path / "checkpoints" / "last").rename(
                    folder.path / "checkpoints" / "last.old"
                )
            calls = {"n": 0}
            real_rename, real_rmtree = Path.rename, shutil.rmtree

            def counted(real, calls=calls, k=k):
                def step(*args, **kwargs):
                    calls["n"] += 1
                    if calls["n"] > k:
                        raise Crash
                    return real(*args, **kwargs)

                return step

            monkeypatch.setattr(Path, "rename", counted(real_rename))
            monkeypatch.setattr(shutil, "rmtree", counted(real_rmtree))
            with contextlib.suppress(Crash):
                folder.write_checkpoint("last", write_tf, {"epoch": 2})
            monkeypatch.undo()
            found = folder.checkpoint("last")
            assert found is not None, (before, k)
            assert json.loads((found / "train_state.json").read_text())["epoch"] in (1, 2)
            assert (found / "ckpt.index").read_text() == "weights"


def test_a_model_folder_is_trained_by_one_process_at_a_time(tmp_path):
    lock = tmp_path / ".m.lock"
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom chatbot.files import exclusive_lock\n"
        "with exclusive_lock(Path(sys.argv[1]), 'busy'):\n    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script, str(lock)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        with pytest.raises(ModelError, match="busy"), exclusive_lock(lock, "busy"):
            pass
        holder.send_signal(signal.SIGKILL)  # a killed holder leaves no stale lock
        holder.wait()
        with exclusive_lock(lock, "busy"):
            pass
    finally:
        holder.kill()


# -- TensorFlow: model folders, training integrity, export ---------------------------


def _broken_copies(tmp_path: Path) -> dict[str, Path]:
    from chatbot.model_folder import STARTER

    cases = {}

    def copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(STARTER, dst)
        cases[name] = dst
        return dst

    data = copy("truncated") / "checkpoints" / "best" / "ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    (copy("empty-index") / "checkpoints" / "best" / "ckpt.index").write_bytes(b"")
    (copy("vocab-list") / "vocab.json").write_text('["a", "b"]')
    (copy("vocab-no-tokens") / "vocab.json").write_text('{"specials": []}')
    (copy("config-int") / "config.json").write_text("5")
    cfg = copy("config-string-size") / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "hidden_units": "big"}))
    vocab = copy("vocab-size") / "vocab.json"
    v = json.loads(vocab.read_text())
    vocab.write_text(json.dumps({**v, "tokens": v["tokens"][:-5]}))
    (copy("deep-config") / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    return cases


@pytest.mark.tf
def test_every_broken_model_folder_is_one_error_line(tmp_path, run):
    pytest.importorskip("tensorflow")
    from chatbot import Chatbot

    for name, folder in _broken_copies(tmp_path).items():
        with pytest.raises(ChatbotError):
            Chatbot.load(folder)
        result = run("export", "--model", str(folder), str(tmp_path / f"out-{name}"))
        assert result.exit_code == 1 and result.output.startswith("Error: "), (name, result.output)
        assert len(result.output.strip().splitlines()) == 1, (name, result.output)


@pytest.mark.tf
def test_resume_refuses_another_corpus_and_a_bad_training_state(run, store, corpus, tmp_path):
    pytest.importorskip("tensorflow")
    sizes = ["--embed-dim", "8", "--hidden-units", "8", "--epochs", "1", "--min-count", "1"]
    assert run("train", "--corpus", corpus, "--name", "m", *sizes).exit_code == 0
    rows = [json.dumps({"id": f"o{i}", "turns": ["hi there", "hello"]}) for i in range(30)]
    assert (
        run("ingest", str(write(tmp_path / "other.jsonl", "\n".join(rows) + "\n"))).exit_code == 0
    )
    other = run("train", "--corpus", "other", "--name", "m", "--resume", "--epochs", "2")
    assert other.exit_code == 2 and "trained on corpus 'tiny'" in other.output
    state = store.path.parent / "models" / "m" / "checkpoints" / "last" / "train_state.json"
    state.write_text('{"bogus": 1}')
    bad = run("train", "--corpus", corpus, "--name", "m", "--resume", "--epochs", "2")
    assert bad.exit_code == 1 and "training state" in bad.output
    with exclusive_lock(store.path.parent / "models" / ".m.lock", "held by the test"):
        busy = run("train", "--corpus", corpus, "--name", "m", "--resume", "--epochs", "2")
    assert busy.exit_code == 1 and "being trained by another process" in busy.output


@pytest.mark.tf
@pytest.mark.parametrize("after", [4.0, 7.0])
def test_kill_9_during_export_leaves_nothing_half_written(tmp_path, db_path, after):
    pytest.importorskip("tensorflow")
    out = tmp_path / "served"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            "export",
            "--model",
            "starter",
            str(out),
            "--db",
            str(db_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(after)
    proc.kill()
    proc.wait()
    # Either nothing (killed before the rename) or a complete SavedModel: never a partial
    # folder that blocks the next export.
    assert not out.exists() or (out / "saved_model.pb").is_file()
    if not out.exists():
        code, err, _ = chatbot("export", "--model", "starter", str(out), "--db", str(db_path))
        assert code == 0, err
    assert (out / "saved_model.pb").is_file()
    assert not list(tmp_path.glob(".served.*.tmp"))


@pytest.mark.tf
@pytest.mark.parametrize("after", [0.0, 0.7])
def test_kill_9_during_training_leaves_a_resumable_checkpoint(run, store, corpus, after):
    """Killed `after` seconds past its first checkpoint (mid-epoch or mid-write), a
    training resumes to its end and the model answers."""
    pytest.importorskip("tensorflow")
    sizes = ["--embed-dim", "8", "--hidden-units", "8", "--min-count", "1", "--batch-size", "2"]
    args = ["train", "--corpus", corpus, "--name", "k", *sizes, "--epochs", "200"]
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args, "--db", str(store.path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    folder = ModelDir(store.path.parent / "models" / "k")
    deadline = time.monotonic() + 120
    while folder.checkpoint("last") is None and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.05)
    time.sleep(after)
    proc.kill()
    proc.wait()
    last = folder.checkpoint("last")
    assert last is not None
    # Two epochs past where it was killed (not all 200: the resumed run's end is the point).
    end = json.loads((last / "train_state.json").read_text())["epoch"] + 2
    resumed = run("train", "--corpus", corpus, "--name", "k", "--resume", "--epochs", str(end))
    assert resumed.exit_code == 0, resumed.output
    assert f"finished {end} epochs" in resumed.output, resumed.output
    assert [h["epoch"] for h in store.model("k").metrics["history"]] == list(range(1, end + 1))
    from chatbot import Chatbot

    assert Chatbot.load("k", db=store.path).respond("hello") is not None
