"""`chatbot serve`: the model over HTTP (chatbot/server/)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError, os_reason
from .app import cli, db_option

MAX_CONNECTIONS = 64


@cli.command()
@click.option(
    "--model",
    "model_name",
    default="starter",
    show_default=True,
    help="A registered model name or a model folder.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--capacity",
    default=256,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Conversations kept in memory; the least recently used wait in the store.",
)
@click.option(
    "--api-key",
    envvar="CHATBOT_API_KEY",
    help="Require 'Authorization: Bearer KEY' on every API request (or set "
    "CHATBOT_API_KEY); the page is then opened as http://HOST:PORT/#key=KEY.",
)
@db_option
def serve(
    model_name: str, host: str, port: int, capacity: int, api_key: str | None, db: Path | None
) -> None:
    """Serve a model over HTTP: an OpenAI-compatible API, stored conversations that
    keep their state, and a chat page.

    \b
    Examples:
      chatbot serve                       # the starter, on http://127.0.0.1:8000/
      chatbot serve --model dd --port 9000
    \b
      curl -s localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\
        -d '{"messages": [{"role": "user", "content": "hi, my name is Ada"}]}'
      curl -s -X POST localhost:8000/conversations     # -> {"id": "q3X...", ...}
      curl -s localhost:8000/conversations/q3X.../messages -d '{"content": "hi"}'

    Listens on localhost only unless --host says otherwise (there is no
    authentication: put it behind a proxy before exposing it).
    """
    _check_free(host, port)
    import uvicorn

    from ..bot import Chatbot
    from ..server.app import create_app
    from ..server.conversations import Conversations
    from ..store import Store

    bot = Chatbot.load(model_name, db=db)
    click.echo(f"Loaded {model_name}; compiling its reply...", err=True)
    app = create_app(lambda: Conversations(bot, Store(db), model_name, capacity), api_key=api_key)
    app.state.worker.run_now("warm_up")
    threading.Thread(target=_warm_up_batches, args=(app,), daemon=True).start()
    if not api_key and host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"Warning: listening on {host} without --api-key: anyone who can reach the port "
            "can talk to the model",
            err=True,
        )
    click.echo(f"Serving {model_name} on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    try:
        # Bodies are bounded (1 MB) and so are connections, so memory is too: past
        # MAX_CONNECTIONS a request gets 503 at once instead of a queue that grows.
        uvicorn.run(
            app, host=host, port=port, log_level="warning", limit_concurrency=MAX_CONNECTIONS
        )
    finally:
        app.state.worker.close()


def _warm_up_batches(app: Any) -> None:
    """Replies side by side compiled while the server already answers (one at a time
    or in batches that compile as they come); says when it is at full speed."""
    from ..decode import MOST_ROWS

    app.state.worker.conversations.warm_up_batches()
    click.echo(f"Ready for up to {MOST_ROWS} conversations decoded at once", err=True)


def _check_free(host: str, port: int) -> None:
    """A taken port or an unknown host: one line before the model loads."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port} ({os_reason(exc)}); choose another --port or --host"
        ) from None
