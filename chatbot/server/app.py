"""`chatbot serve`'s HTTP face: a Starlette app over `Conversations`.

    POST   /v1/chat/completions          OpenAI-compatible (messages, temperature,
                                         top_p, max_tokens, seed, stream)
    GET    /v1/models                    the one model served
    POST   /conversations                a new stored conversation -> {"id"}
    POST   /conversations/{id}/messages  {"content"} -> the reply
    GET    /conversations/{id}           the transcript
    POST   /conversations/{id}/reset     ends it; -> {"id"} of the new conversation
    DELETE /conversations/{id}
    GET    /                             a chat page

The model runs on one worker thread (`Worker`), so the event loop keeps
serving while a reply is decoded and a slow client holds up no one. Every
request is bounded (body, messages, characters, reply length); a bad one gets
a 4xx with {"error": {"message": one line, "type": ...}}.
"""

from __future__ import annotations

import asyncio
import html
import json
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..decode import MOST_ROWS
from ..errors import ChatbotError, UsageError
from ..text import MAX_CHARS
from .conversations import Completion, Conversations, NotFound, WrongModel

MAX_BODY = 1_000_000  # bytes
MAX_MESSAGES = 1_000
ROLES = ("system", "developer", "user", "assistant")


class BadRequest(Exception):
    """A request the API cannot take (HTTP 400)."""


class Worker:
    """Runs the conversations' methods one at a time on one thread of their own, off
    the event loop. The conversations (and their store: SQLite connections belong to
    the thread that made them) are made on that thread too.

    Replies (`reply`) are gathered: the first request while the model is idle waits
    `window` seconds for others, then all of them (at most `most`) are decoded side
    by side in one call (`Conversations.together`). Those that arrive while a batch
    decodes are the next batch, taken as soon as the model is free: a fixed wait per
    batch split a steady load into small batches queued behind each other.
    """

    def __init__(
        self, make: Callable[[], Conversations], window: float = 0.005, most: int = MOST_ROWS
    ):
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="chatbot-model")
        self.conversations = self.pool.submit(make).result()
        self.window, self.most = window, most
        self.pending: list[tuple[tuple, asyncio.Future]] = []
        self.lock = threading.Lock()  # `pending` is shared by every event loop's requests
        self.draining: asyncio.Task | None = None  # the task taking batches, while any wait
        self.batch_sizes: deque[int] = deque(maxlen=1000)  # the last batches, for tests

    def run_now(self, method: str, *args: Any) -> Any:
        """`method` of the conversations, on the model's thread, from outside any loop."""
        return self.pool.submit(getattr(self.conversations, method), *args).result()

    async def __call__(self, method: str, *args: Any) -> Any:
        function = partial(getattr(self.conversations, method), *args)
        return await asyncio.get_running_loop().run_in_executor(self.pool, function)

    async def reply(self, kind: str, *args: Any) -> Any:
        """The result of a "say" or "complete" request, decoded with those due with it."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self.lock:
            self.pending.append(((kind, args), future))
            if self.draining is None:
                self.draining = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        """Decode the waiting requests, a batch at a time, until none wait."""
        try:
            await asyncio.sleep(self.window)
            while True:
                with self.lock:
                    batch, self.pending = self.pending[: self.most], self.pending[self.most :]
                    if not batch:
                        self.draining = None
                        return
                await self._decode(batch)
        except BaseException:  # cancelled (the server stops): the next request starts anew
            with self.lock:
                self.draining = None
            raise

    async def _decode(self, batch: list[tuple[tuple, asyncio.Future]]) -> None:
        self.batch_sizes.append(len(batch))
        requests = [request for request, _ in batch]
        try:
            results = await asyncio.get_running_loop().run_in_executor(
                self.pool, self.conversations.together, requests
            )
        except BaseException as exc:  # noqa: BLE001 - every waiter hears of it
            results = [exc] * len(batch)
        for (_, waiter), result in zip(batch, results, strict=True):
            failed = isinstance(result, BaseException)
            settle = waiter.set_exception if failed else waiter.set_result
            waiter.get_loop().call_soon_threadsafe(settle, result)

    def close(self) -> None:
        self.pool.submit(self.conversations.store.close).result()
        self.pool.shutdown()


def error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


async def body_of(request: Request) -> dict:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise BadRequest(f"the body is over {MAX_BODY:,} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise BadRequest(f"the body is over {MAX_BODY:,} bytes")
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def text_of(value: object, where: str) -> str:
    """A message's content: a string, or OpenAI's list of {"type": "text", "text"} parts."""
    if isinstance(value, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in value
    ):
        value = " ".join(p["text"] for p in value)
    if not isinstance(value, str):
        raise BadRequest(f"{where} must be a string")
    if len(value) > MAX_CHARS:
        raise BadRequest(f"{where} is over {MAX_CHARS:,} characters")
    return value


def decoding(body: dict, max_len: int) -> tuple[dict, int | None]:
    """The decoding overrides a request asks for, and its seed (the sampling draw)."""
    overrides: dict = {}
    for key, name in (("temperature", "temperature"), ("top_p", "top_p")):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadRequest(f"{key} must be a number. Received: {value!r}")
            overrides[name] = float(value)
    tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if tokens is not None:
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            raise BadRequest(f"max_tokens must be a whole number >= 1. Received: {tokens!r}")
        overrides["max_length"] = min(tokens, max_len)  # it never learned longer replies
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest(f"seed must be a whole number. Received: {seed!r}")
    if body.get("n", 1) != 1:
        raise BadRequest("n must be 1: one reply per request")
    return overrides, None if seed is None else seed % 2**31


def history_of(messages: object) -> tuple[list[tuple[str, str]], str]:
    """OpenAI messages as (user, reply) pairs and the last user message. System
    messages are left out (the model takes no instructions); a run of messages
    from one side is one utterance, as the corpora read them."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list")
    if len(messages) > MAX_MESSAGES:
        raise BadRequest(f"messages holds over {MAX_MESSAGES:,} messages")
    turns: list[list[str]] = []  # [role, text]
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
        ):
            raise BadRequest(f"messages[{i}] needs a role: system, user or assistant")
        if m["role"] in ("system", "developer"):
            continue
        text = text_of(m.get("content"), f"messages[{i}].content")
        if turns and turns[-1][0] == m["role"]:
            turns[-1][1] += " " + text
        else:
            turns.append([m["role"], text])
    if not turns or turns[-1][0] != "user":
        raise BadRequest("the last message must be the user's")
    if turns[0][0] == "assistant":  # the bot spoke first: a reply to nothing
        turns.insert(0, ["user", ""])
    texts = [t for _, t in turns]
    return list(zip(texts[:-1:2], texts[1::2], strict=True)), texts[-1]


def create_app(
    make: Callable[[], Conversations], window: float = 0.005, api_key: str | None = None
) -> Starlette:
    """The app over the conversations `make()` returns (called on the model's thread);
    replies due within `window` seconds of each other are decoded together; with
    `api_key`, every request but the page's must send `Authorization: Bearer KEY`;
    `app.state.worker.close()` closes their store."""
    worker = Worker(make, window)
    model = worker.conversations.model_name
    max_len = worker.conversations.bot.config.max_len

    async def completions(request: Request) -> Response:
        body = await body_of(request)
        history, text = history_of(body.get("messages"))
        overrides, seed = decoding(body, max_len)
        done: Completion = await worker.reply("complete", history, text, overrides, seed)
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        finish = "length" if done.truncated else "stop"
        usage = {
            "prompt_tokens": done.prompt_tokens,
            "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens,
        }
        if body.get("stream"):
            return StreamingResponse(
                stream(reply_id, created, model, done.reply, finish, usage),
                media_type="text/event-stream",
            )
        return JSONResponse(
            {
                "id": reply_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": done.reply},
                        "finish_reason": finish,
                    }
                ],
                "usage": usage,
                "transcript": done.transcript_id,
            }
        )

    async def models(request: Request) -> Response:
        listed = {"id": model, "object": "model", "created": 0, "owned_by": "chatbot"}
        return JSONResponse({"object": "list", "data": [listed]})

    async def create(request: Request) -> Response:
        key, transcript = await worker("create")
        return JSONResponse({"id": key, "transcript": transcript, "model": model}, status_code=201)

    async def say(request: Request) -> Response:
        body = await body_of(request)
        text = text_of(body.get("content"), "content")
        overrides, seed = decoding(body, max_len)
        key = request.path_params["id"]
        reply = await worker.reply("say", key, text, overrides, seed)
        return JSONResponse({"id": key, "role": "assistant", "content": reply})

    async def show(request: Request) -> Response:
        key = request.path_params["id"]
        transcript, messages = await worker("messages", key)
        return JSONResponse(
            {"id": key, "transcript": transcript, "model": model, "messages": messages}
        )

    async def reset(request: Request) -> Response:
        key, transcript = await worker("reset", request.path_params["id"])
        return JSONResponse({"id": key, "transcript": transcript, "model": model})

    async def delete(request: Request) -> Response:
        await worker("delete", request.path_params["id"])
        return Response(status_code=204)

    async def page(request: Request) -> Response:
        page_html = resources.files(__package__).joinpath("page.html").read_text("utf-8")
        return HTMLResponse(page_html.replace("{{model}}", html.escape(model)))

    async def bad_request(request: Request, exc: Exception) -> Response:
        return error(400, str(exc))

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, str(exc), "not_found_error")

    async def refused(request: Request, exc: Exception) -> Response:
        # A decoding value out of range (400), a conversation of another model (409),
        # a store that cannot write (500): one line, and the server goes on.
        status = 409 if isinstance(exc, WrongModel) else 400 if isinstance(exc, UsageError) else 500
        return error(status, str(exc), "invalid_request_error" if status < 500 else "server_error")

    async def crashed(request: Request, exc: Exception) -> Response:
        return error(
            500, f"internal error ({type(exc).__name__}); the server goes on", "server_error"
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return error(exc.status_code, str(exc.detail), kind)

    routes = [
        Route("/", page),
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/v1/models", models),
        Route("/conversations", create, methods=["POST"]),
        Route("/conversations/{id}", show),
        Route("/conversations/{id}", delete, methods=["DELETE"]),
        Route("/conversations/{id}/messages", say, methods=["POST"]),
        Route("/conversations/{id}/reset", reset, methods=["POST"]),
    ]
    handlers = {
        BadRequest: bad_request,
        NotFound: not_found,
        ChatbotError: refused,
        HTTPException: http_error,
        Exception: crashed,
    }
    middleware = [Middleware(KeyCheck, key=api_key)] if api_key else []
    app = Starlette(
        routes=routes,
        exception_handlers=handlers,  # type: ignore[arg-type]
        middleware=middleware,
    )
    app.state.worker = worker
    return app


class KeyCheck:
    """Refuses (401, one JSON line) a request without `Authorization: Bearer KEY`;
    the page itself is served to anyone (it sends the key it is given in its URL's
    #key=...)."""

    def __init__(self, app: Any, key: str):
        self.app, self.key = app, key

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] != "/":
            given = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            if not secrets.compare_digest(given, f"Bearer {self.key}"):
                message = "missing or wrong API key: send Authorization: Bearer KEY"
                await error(401, message, "authentication_error")(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def stream(reply_id: str, created: int, model: str, reply: str, finish: str, usage: dict):
    """The reply as Server-Sent Events, a word a chunk (decoded whole first: the
    reply is a few words), then the finish, the usage and `[DONE]`."""

    def chunk(delta: dict, finish_reason: str | None = None, **extra: object) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        event = {
            "id": reply_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
            **extra,
        }
        return f"data: {json.dumps(event)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    words = reply.split(" ")
    for i, word in enumerate(words):
        yield chunk({"content": word if i == len(words) - 1 else word + " "})
    yield chunk({}, finish, usage=usage)
    yield "data: [DONE]\n\n"
