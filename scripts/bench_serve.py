#!/usr/bin/env python3
"""`chatbot serve` under concurrent conversations, against one conversation at a
time measured in the same run.

Starts `chatbot serve` (a subprocess, its own database in a temporary folder), then
for each level N runs N clients on loopback at once, each a stored conversation
saying `--turns` lines one after the other, and measures replies per second in
all and the latency of each reply. Clients are threads of this process, bounded
in count (the levels) and in time (`--timeout` per request).

Prints one JSON object: per level, replies/s and p50/p99 latency; `speedup_32`
(replies/s at 32 / at 1) and `p99_32_over_p50_1`; and `growing_history`: one
`/v1/chat/completions` client resending its whole history for `--history` turns,
each turn's latency, and the last five turns' median over turns 2 to 6's.

usage: python scripts/bench_serve.py [--model starter] [--levels 1 8 32] [--turns 4]
                                    [--replies 64]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

LINES = [
    "hello, how are you?",
    "my name is Zorblax.",
    "do you like music?",
    "i live in Paris.",
    "what do you do for fun?",
    "what is my name?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def level(url: str, clients: int, turns: int, timeout: float) -> dict:
    import httpx2

    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def talk() -> None:
        with httpx2.Client(timeout=timeout) as http:
            try:
                key = http.post(f"{url}/conversations").json()["id"]
            except (httpx2.HTTPError, ValueError):  # refused (503 past 64 connections)
                with lock:
                    failures[0] += turns
                start.wait(timeout)
                return
            start.wait(timeout)
            for t in range(turns):
                began = time.perf_counter()
                # The decoding a client gets by default: the one the server compiled.
                body = {"content": LINES[t % len(LINES)]}
                ok = http.post(f"{url}/conversations/{key}/messages", json=body).is_success
                with lock:
                    latencies.append(time.perf_counter() - began)
                    failures[0] += not ok

    threads = [threading.Thread(target=talk) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait(timeout)
    began = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "replies": len(latencies),
        "failures": failures[0],
        "replies_per_s": round(len(latencies) / seconds, 2),
        "p50_ms": round(1000 * statistics.median(ordered), 1) if ordered else None,
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)
        if ordered
        else None,
    }


def growing_history(url: str, turns: int, timeout: float) -> dict:
    """One client of `/v1/chat/completions` sending its whole history every turn, as
    that API does: each turn's latency. The server's cache of states should make a
    turn cost one exchange, whatever the history's length."""
    import httpx2

    messages: list[dict] = []
    times: list[float] = []
    with httpx2.Client(timeout=timeout) as http:
        for t in range(turns):
            messages.append({"role": "user", "content": LINES[t % len(LINES)]})
            began = time.perf_counter()
            reply = http.post(f"{url}/v1/chat/completions", json={"messages": messages})
            times.append(time.perf_counter() - began)
            messages.append(reply.json()["choices"][0]["message"])
    early, late = statistics.median(times[1:6]), statistics.median(times[-5:])
    return {
        "turns": turns,
        "turn_ms": [round(1000 * x, 1) for x in times],
        "last_5_over_turns_2_to_6": round(late / early, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="starter")
    # 128 exceeds the server's 64 connections: those clients are refused (503), counted.
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--turns", type=int, default=4, help="lines per conversation, at least")
    parser.add_argument("--replies", type=int, default=64, help="replies per level, at least")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--history", type=int, default=20, help="turns of a growing history")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "CHATBOT_HOME": home, "TF_CPP_MIN_LOG_LEVEL": "3"}
        command = [sys.executable, "-m", "chatbot", "serve", "--model", args.model]
        server = subprocess.Popen(
            [*command, "--port", str(port), "--capacity", str(max(args.levels) * 2)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            import httpx2

            deadline = time.time() + 180
            while True:
                try:
                    httpx2.get(f"{url}/v1/models", timeout=1)
                    break
                except httpx2.TransportError:
                    if time.time() > deadline or server.poll() is not None:
                        sys.exit("the server did not start")
                    time.sleep(0.5)
            # The server compiles its batches on a thread while it answers: wait for
            # it, then let each level call what it will call once (not timed).
            for line in server.stderr:
                if line.startswith("Ready for up to"):
                    break
            threading.Thread(target=server.stderr.read, daemon=True).start()  # drained
            for n in args.levels:
                level(url, n, 2, args.timeout)
            # Each level says at least --replies lines in all, so one conversation's
            # p50 is not the median of four.
            results = {
                n: level(url, n, max(args.turns, -(-args.replies // n)), args.timeout)
                for n in args.levels
            }
            history = growing_history(url, args.history, args.timeout)
        finally:
            server.terminate()
            server.wait(30)
    one = results[min(args.levels)]
    out: dict = {"benchmark": "serve", "model": args.model, "turns": args.turns, "levels": results}
    out["growing_history"] = history
    if 32 in results:
        out["speedup_32"] = round(results[32]["replies_per_s"] / one["replies_per_s"], 2)
        out["p99_32_over_p50_1"] = round(results[32]["p99_ms"] / one["p50_ms"], 2)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
