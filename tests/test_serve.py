"""Tier 2: `chatbot serve`: the OpenAI-compatible API and its state cache, stored
conversations that survive a restart, bounds and one-line errors, the page."""

from __future__ import annotations

import contextlib
import json
import socket
import time

import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")
pytest.importorskip("httpx2")

from starlette.testclient import TestClient  # noqa: E402

from chatbot import Chatbot  # noqa: E402
from chatbot.model_folder import STARTER  # noqa: E402
from chatbot.server.app import create_app  # noqa: E402
from chatbot.server.conversations import Conversations  # noqa: E402
from chatbot.store import Store  # noqa: E402

GREEDY = {"temperature": 0}


@pytest.fixture(scope="module")
def bot():
    return Chatbot.load(STARTER)


@pytest.fixture
def server(bot, db_path):
    """A client for a fresh server over the test database (call again: a restart)."""
    apps = []

    def start(capacity: int = 256) -> tuple[TestClient, Conversations]:
        app = create_app(lambda: Conversations(bot, Store(db_path), "starter", capacity))
        apps.append(app)
        return TestClient(app), app.state.worker.conversations

    yield start
    for app in apps:
        app.state.worker.close()


def complete(client: TestClient, messages: list[dict], **extra) -> dict:
    response = client.post("/v1/chat/completions", json={"messages": messages, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_completion_has_the_openai_shape_and_is_stored(server, db_path):
    client, _ = server()
    body = complete(client, [{"role": "user", "content": "hi, my name is Ada"}], **GREEDY)
    choice = body["choices"][0]
    assert body["object"] == "chat.completion" and body["model"] == "starter"
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert usage["prompt_tokens"] == 6  # hi , my name is ada
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 6
    with Store(db_path) as store:
        _, turns = store.transcript(body["transcript"])
    assert [t.text for t in turns] == ["hi, my name is Ada", choice["message"]["content"]]


def test_the_next_turn_reads_one_exchange_and_replies_as_a_full_rereading_would(server):
    client, _ = server()
    first = [{"role": "user", "content": "hello there"}]
    reply = complete(client, first, **GREEDY)["choices"][0]["message"]["content"]
    history = [*first, {"role": "assistant", "content": reply}]
    second = [*history, {"role": "user", "content": "what do you like to do?"}]
    hit = complete(client, second, **GREEDY)
    assert hit["usage"]["prompt_tokens"] == 7  # only the new message was read
    cold, _ = server()  # a new server: nothing cached, the history is read again
    miss = complete(cold, second, **GREEDY)
    assert miss["usage"]["prompt_tokens"] > 7
    assert miss["choices"][0]["message"] == hit["choices"][0]["message"]


def test_streaming_sends_the_same_reply_as_events_ending_in_done(server):
    client, _ = server()
    messages = [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hello"}]
    whole = complete(client, messages, **GREEDY)["choices"][0]["message"]["content"]
    client, _ = server()
    with client.stream(
        "POST", "/v1/chat/completions", json={"messages": messages, "stream": True, **GREEDY}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert text == whole and events[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert "usage" in events[-1]


def test_a_seed_makes_a_sampled_reply_repeatable(server):
    client, _ = server()
    messages = [{"role": "user", "content": "tell me about your day"}]
    one = complete(client, messages, temperature=1.0, seed=7)
    client, _ = server()
    two = complete(client, messages, temperature=1.0, seed=7)
    assert one["choices"][0]["message"] == two["choices"][0]["message"]


def test_a_stored_conversation_replies_as_a_chat_session_does(server, bot):
    from chatbot.session import Session

    client, _ = server()
    created = client.post("/conversations")
    assert created.status_code == 201
    cid = created.json()["id"]
    lines = ["hi, my name is Zorblax", "i like green tea", "what is my name?"]
    said = [
        client.post(f"/conversations/{cid}/messages", json={"content": t, **GREEDY}).json()
        for t in lines
    ]
    chat = Session(bot.fork(), None, "starter")
    chat.configure({**bot.chat_decoding, **GREEDY})
    assert [s["content"] for s in said] == [chat.respond(t) for t in lines]


def test_a_restarted_server_replies_as_the_one_that_never_stopped(server):
    client, _ = server()
    cid = client.post("/conversations").json()["id"]
    client.post(f"/conversations/{cid}/messages", json={"content": "hi, i am Zorblax", **GREEDY})
    line = {"content": "what is my name?", **GREEDY}
    restarted, _ = server()
    again = restarted.post(f"/conversations/{cid}/messages", json=line).json()["content"]
    went_on = client.post(f"/conversations/{cid}/messages", json=line).json()["content"]
    assert again == went_on
    shown = restarted.get(f"/conversations/{cid}").json()["messages"]
    assert [m["role"] for m in shown][:2] == ["user", "assistant"] and len(shown) == 6


def test_reset_starts_a_new_conversation_and_delete_removes_one(server):
    client, _ = server()
    cid = client.post("/conversations").json()["id"]
    client.post(f"/conversations/{cid}/messages", json={"content": "hello"})
    new = client.post(f"/conversations/{cid}/reset").json()["id"]
    assert new != cid and client.get(f"/conversations/{new}").json()["messages"] == []
    assert len(client.get(f"/conversations/{cid}").json()["messages"]) == 2  # kept as it was
    assert client.delete(f"/conversations/{cid}").status_code == 204
    gone = client.get(f"/conversations/{cid}")
    assert gone.status_code == 404 and gone.json()["error"]["message"] == f"no conversation {cid!r}"


def test_memory_holds_at_most_capacity_conversations_and_evicted_ones_come_back(server):
    client, conversations = server(capacity=1)
    a = client.post("/conversations").json()["id"]
    b = client.post("/conversations").json()["id"]
    for cid in (a, b, a, b):
        line = {"content": f"this is conversation {cid}", **GREEDY}
        assert client.post(f"/conversations/{cid}/messages", json=line).status_code == 200
        assert len(conversations.live) <= 1
    whole, _ = server()
    assert len(whole.get(f"/conversations/{a}").json()["messages"]) == 4


@pytest.mark.parametrize(
    "body, says",
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (json.dumps({"messages": []}).encode(), "non-empty list"),
        (json.dumps({"messages": [{"role": "user", "content": 3}]}).encode(), "must be a string"),
        (json.dumps({"messages": [{"role": "wizard", "content": "hi"}]}).encode(), "needs a role"),
        (json.dumps({"messages": [{"role": "assistant", "content": "hi"}]}).encode(), "user's"),
        (json.dumps({"messages": [{"role": "user", "content": "x" * 6000}]}).encode(), "5,000"),
        (json.dumps({"messages": [{"role": "user", "content": "hi"}], "n": 2}).encode(), "n must"),
        (
            json.dumps({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}),
            "temperature must be a number",
        ),
        (
            json.dumps({"messages": [{"role": "user", "content": "hi"}], "top_p": 0}),
            "top_p must be in (0, 1]",
        ),
        (b" " * 1_000_001, "over 1,000,000 bytes"),
    ],
)
def test_bad_requests_get_a_400_with_one_line(server, body, says):
    client, _ = server()
    response = client.post("/v1/chat/completions", content=body)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert says in message and "\n" not in message


def test_a_conversation_is_reached_by_its_random_key_alone(server):
    client, _ = server()
    created = client.post("/conversations").json()
    key, transcript = created["id"], created["transcript"]
    assert len(key) == 22 and key != client.post("/conversations").json()["id"]  # 128 bits
    client.post(f"/conversations/{key}/messages", json={"content": "hi"})
    for guess in (str(transcript), "x" * 22, "../" + key, key[:-1]):  # a row id, made up, bad
        assert client.get(f"/conversations/{guess}").status_code == 404
    assert client.get(f"/conversations/{key}").json()["transcript"] == transcript


def test_unknown_conversations_and_routes_are_404_in_json(server):
    client, _ = server()
    assert client.post("/conversations/999/messages", json={"content": "hi"}).status_code == 404
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and "error" in missing.json()


def test_the_page_names_the_model_and_speaks_the_api(server):
    client, _ = server()
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<b id="model">starter</b>' in page.text and "/conversations" in page.text
    assert client.get("/v1/models").json()["data"][0]["id"] == "starter"


def test_serve_refuses_a_taken_port_in_one_line(run):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output


@contextlib.contextmanager
def live(bot, db_path, window: float = 0.005):
    """A real server (uvicorn on a free loopback port) in a thread: (its URL, its app)."""
    import threading

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(lambda: Conversations(bot, Store(db_path), "starter"), window=window)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.worker.close()


def greedy_chat(bot, lines: list[str]) -> list[str]:
    """The replies `chatbot chat` gives to `lines` with its decoding made greedy."""
    from chatbot.session import Session

    chat = Session(bot.fork(), None, "starter")
    chat.configure({**bot.chat_decoding, **GREEDY})
    return [chat.respond(line) for line in lines]


def test_the_openai_client_chats_streamed_or_not_as_chatbot_chat_does(bot, db_path):
    openai = pytest.importorskip("openai")
    lines = [
        f"line {i}: " + t for i, t in enumerate(["hi", "my name is Ada", "what is my name?"] * 7)
    ]
    lines = lines[:20]
    with live(bot, db_path) as (url, _):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        messages, read = [], []
        for i, line in enumerate(lines):
            messages.append({"role": "user", "content": line})
            if i % 2:  # every other turn streamed
                chunks = client.chat.completions.create(
                    model="starter", messages=messages, temperature=0, stream=True
                )
                reply = "".join(c.choices[0].delta.content or "" for c in chunks)
            else:
                done = client.chat.completions.create(
                    model="starter", messages=messages, temperature=0
                )
                reply = done.choices[0].message.content
                read.append(done.usage.prompt_tokens)
            messages.append({"role": "assistant", "content": reply})
    assert [m["content"] for m in messages[1::2]] == greedy_chat(bot, lines)
    # each turn read only its new line: the history came from the state cache
    assert max(read) <= max(len(line.split()) for line in lines) * 2


def test_replies_due_together_are_decoded_as_one_batch_and_equal_each_alone(bot, db_path):
    import threading

    import httpx2

    lines = ["hello", "my name is Zorblax", "do you like music?", "i live in Paris", "hi there"]
    with live(bot, db_path, window=0.5) as (url, app):
        ids = [httpx2.post(f"{url}/conversations").json()["id"] for _ in lines]
        replies: dict[str, str] = {}

        def say(cid: str, line: str) -> None:
            body = {"content": line, **GREEDY}
            replies[cid] = httpx2.post(
                f"{url}/conversations/{cid}/messages", json=body, timeout=120
            ).json()["content"]

        talkers = [threading.Thread(target=say, args=pair) for pair in zip(ids, lines, strict=True)]
        for t in talkers:
            t.start()
        for t in talkers:
            t.join(60)
    assert max(app.state.worker.batch_sizes) > 1  # gathered, not one by one
    assert [replies[cid] for cid in ids] == [greedy_chat(bot, [line])[0] for line in lines]


def test_conversations_answered_together_turn_after_turn_equal_each_alone(bot):
    """Read, replied and read back side by side for three turns: each conversation's
    state goes on exactly as in a chat of its own (and one with memory off too)."""
    from chatbot.server.together import respond_together
    from chatbot.session import Session

    chats = [
        ["hello", "my name is Zorblax", "what is my name?"],
        ["i live in Paris", "do you like music?", "where do i live?"],
        ["hi there", "i have a dog called rex", "what is my dog called?"],
    ]
    sessions = [Session(bot.fork(), None, "starter") for _ in chats]
    for session in sessions:
        session.configure({**bot.chat_decoding, **GREEDY})
    sessions[2].set("remember-state", "off")
    together = [
        respond_together([(s, chat[turn], 0) for s, chat in zip(sessions, chats, strict=True)])
        for turn in range(3)
    ]
    alone = [greedy_chat(bot, chat) for chat in chats[:2]]
    forgetful = Session(bot.fork(), None, "starter")
    forgetful.configure({**bot.chat_decoding, **GREEDY, "remember_state": False})
    alone.append([forgetful.respond(line) for line in chats[2]])
    assert [list(replies) for replies in zip(*together, strict=True)] == alone
    assert [s.history for s in sessions] == [
        list(zip(chat, replies, strict=True)) for chat, replies in zip(chats, alone, strict=True)
    ]


def test_with_an_api_key_every_request_but_the_page_needs_it(bot, db_path):
    app = create_app(lambda: Conversations(bot, Store(db_path), "starter"), api_key="sesame")
    try:
        client = TestClient(app)
        assert client.get("/").status_code == 200  # the page asks with the key in its URL
        refused = client.post("/conversations")
        assert refused.status_code == 401 and "API key" in refused.json()["error"]["message"]
        wrong = {"Authorization": "Bearer open"}
        assert client.post("/conversations", headers=wrong).status_code == 401
        right = {"Authorization": "Bearer sesame"}
        messages = {"messages": [{"role": "user", "content": "hi"}]}
        assert client.post("/conversations", headers=right).status_code == 201
        assert client.post("/v1/chat/completions", json=messages, headers=right).status_code == 200
    finally:
        app.state.worker.close()


@pytest.mark.faults
def test_hostile_requests_are_refused_and_memory_stays_bounded(bot, db_path):
    """A 10 MB body sent in chunks (no length declared), a history of the most
    messages allowed, each as long as allowed, and many such requests: each gets
    its answer, and the server's peak memory hardly moves."""
    import resource

    import httpx2

    def chunks():
        for _ in range(10):
            yield b" " * 1_000_000

    longest = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": "word " * 180}
        for i in range(999)
    ]
    with live(bot, db_path) as (url, _):
        complete_url = f"{url}/v1/chat/completions"
        hello = {"messages": [{"role": "user", "content": "hi"}]}
        ok = httpx2.post(complete_url, json=hello, timeout=120)  # the first compiles
        assert ok.status_code == 200
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(3):
            big = httpx2.post(complete_url, content=chunks(), timeout=60)
            assert big.status_code == 400 and "over 1,000,000 bytes" in big.text
            many = httpx2.post(complete_url, json={"messages": longest}, timeout=120)
            assert many.status_code == 200, many.text
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"peak memory grew {grown_mb:.0f} MB"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_process(db_path, port: int):
    """`chatbot serve` in a process of its own (so it can be killed): its URL once up."""
    import os
    import subprocess
    import sys

    import httpx2

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [sys.executable, "-m", "chatbot", "serve", "--port", str(port), "--db", str(db_path)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode())
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"{url}/", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url, process
    finally:
        process.kill()
        process.wait(30)


@pytest.mark.faults
def test_kill_9_under_load_loses_no_answered_exchange(db_path):
    """Eight conversations talk at once; the server is killed with SIGKILL while they
    do. Every reply a client received is in its stored conversation after a restart."""
    import threading

    import httpx2

    port = free_port()
    answered: dict[str, list[tuple[str, str]]] = {}
    with serve_process(db_path, port) as (url, process):
        ids = [httpx2.post(f"{url}/conversations").json()["id"] for _ in range(8)]

        def talk(cid: str) -> None:
            answered[cid] = []
            for i in range(1000):
                line = f"line {i} of {cid[:6]}"
                try:
                    r = httpx2.post(
                        f"{url}/conversations/{cid}/messages", json={"content": line}, timeout=30
                    )
                except httpx2.TransportError:
                    return  # the server is gone
                if r.status_code != 200:
                    return
                answered[cid].append((line, r.json()["content"]))

        talkers = [threading.Thread(target=talk, args=(cid,)) for cid in ids]
        for t in talkers:
            t.start()
        while sum(len(a) for a in answered.values()) < 40:
            time.sleep(0.05)
        process.kill()  # SIGKILL: no handler runs
        for t in talkers:
            t.join(60)
    assert sum(len(a) for a in answered.values()) >= 40
    with serve_process(db_path, port) as (url, _):
        for cid, exchanges in answered.items():
            stored = httpx2.get(f"{url}/conversations/{cid}").json()["messages"]
            pairs = [
                (u["content"], b["content"])
                for u, b in zip(stored[0::2], stored[1::2], strict=True)
            ]
            assert pairs[: len(exchanges)] == exchanges  # what was answered was stored


@pytest.mark.faults
def test_a_client_that_never_reads_blocks_no_one(bot, db_path):
    """A streamed reply to a client that sends its request and then never reads: the
    others are answered as before, and the server stays up."""
    import httpx2

    with live(bot, db_path) as (url, _):
        host, port = url.removeprefix("http://").split(":")
        body = json.dumps(
            {"messages": [{"role": "user", "content": "hi " * 100}], "stream": True}
        ).encode()
        sleepers = []
        for _ in range(8):
            s = socket.create_connection((host, int(port)))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            head = (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            s.sendall(head.encode() + body)
            sleepers.append(s)  # and never read
        try:
            for i in range(5):
                r = httpx2.post(
                    f"{url}/v1/chat/completions",
                    json={"messages": [{"role": "user", "content": f"hello {i}"}]},
                    timeout=60,
                )
                assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]
        finally:
            for s in sleepers:
                s.close()
