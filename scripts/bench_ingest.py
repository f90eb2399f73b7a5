#!/usr/bin/env python3
"""Ingestion speed against the bare-SQLite floor, measured in the same run.

For DailyDialog and a full-size Cornell-format folder (written by
../shared/tools/make_cornell_format.py), each measurement runs in a fresh
subprocess (so peak RSS is its own) on a fresh database:

- `ingest`: chatbot's ingest() of the corpus (reading, parsing, splitting,
  hashing and writing, in one transaction);
- `floor`: the same conversation and utterance rows, already in memory,
  written by a bare `sqlite3` executemany into the same schema.

Prints one JSON object: {"corpora": [{...}, ...]}. Usage:
    python scripts/bench_ingest.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"


def child_ingest(path: str, db: str) -> dict:
    from chatbot.ingest import ingest
    from chatbot.store import Store

    with Store(db) as store:
        start = time.perf_counter()
        result = ingest(store, path, name="bench")
        seconds = time.perf_counter() - start
    c = result.corpus
    return {"conversations": c.conversations, "utterances": c.utterances, "seconds": seconds}


def child_floor(path: str, db: str) -> dict:
    import sqlite3

    from chatbot import corpora
    from chatbot.store import Store

    # Build the rows outside the timed part: the floor is the database work alone.
    convs = list(corpora.read(Path(path), corpora.detect(Path(path)), corpora.Problems()))
    conv_rows = [(i, 1, c.external_id, "train") for i, c in enumerate(convs, 1)]
    utt_rows = [
        (i, p, u.speaker, u.text)
        for i, c in enumerate(convs, 1)
        for p, u in enumerate(c.utterances)
    ]
    Store(db).close()  # the same schema, pragmas and version as the real store
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "INSERT INTO corpora (id, name, format, source, sha256, created_at) "
        "VALUES (1, 'f', 'f', 'f', 'f', 'f')"
    )
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO conversations (id, corpus_id, external_id, split) VALUES (?,?,?,?)", conv_rows
    )
    conn.executemany(
        "INSERT INTO utterances (conversation_id, position, speaker, text) VALUES (?,?,?,?)",
        utt_rows,
    )
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return {"conversations": len(conv_rows), "utterances": len(utt_rows), "seconds": seconds}


def measure(kind: str, path: Path, workdir: Path, run: int) -> dict:
    db = workdir / f"{kind}-{path.name}-{run}.db"
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), str(db)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout)
    result["db_mb"] = round(sum(p.stat().st_size for p in workdir.glob(db.name + "*")) / 1e6, 1)
    return result


def bench(name: str, path: Path, workdir: Path, repeat: int) -> dict:
    ingests = [measure("ingest", path, workdir, r) for r in range(repeat)]
    floors = [measure("floor", path, workdir, r) for r in range(repeat)]
    seconds = statistics.median(r["seconds"] for r in ingests)
    floor = statistics.median(r["seconds"] for r in floors)
    return {
        "corpus": name,
        "conversations": ingests[0]["conversations"],
        "utterances": ingests[0]["utterances"],
        "seconds": round(seconds, 3),
        "utterances_per_second": round(ingests[0]["utterances"] / seconds),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in ingests), 1),
        "db_mb": ingests[0]["db_mb"],
        "floor_seconds": round(floor, 3),
        "floor_peak_rss_mb": round(max(r["peak_rss_mb"] for r in floors), 1),
        "ratio_to_floor": round(seconds / floor, 2),
        "repeats": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path, db = args.child
        out = (child_ingest if kind == "ingest" else child_floor)(path, db)
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return
    if not (SHARED / "corpora" / "dailydialog").is_dir():
        sys.exit("bench_ingest needs ../shared/corpora beside the project")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cornell = work / "cornell"
        subprocess.run(
            [sys.executable, str(SHARED / "tools" / "make_cornell_format.py"), str(cornell)],
            check=True,
            capture_output=True,
        )
        results = [
            bench("dailydialog", SHARED / "corpora" / "dailydialog", work, args.repeat),
            bench("cornell-format (full size)", cornell, work, args.repeat),
        ]
    print(json.dumps({"benchmark": "ingest", "corpora": results}, indent=1))


if __name__ == "__main__":
    main()
