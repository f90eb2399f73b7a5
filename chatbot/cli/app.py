"""The `chatbot` click group: error handling and the options commands share.

The commands live in corpus_commands.py, model_commands.py, chat_commands.py
and export_commands.py; each registers itself on `cli` from this module, and
`chatbot/cli/__init__.py` imports them all, so no module imports its importer.

Errors a user can fix print one line and exit 2 (bad usage) or 1 (failure);
TensorFlow is imported only inside the commands that need a model.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import ChatbotError, os_reason
from ..text import printable


class ChatbotGroup(click.Group):
    """A click group whose errors are one line, with the documented exit codes."""

    def main(self, args: Any = None, prog_name: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        extra.pop("standalone_mode", None)
        try:
            rv = super().main(args, "chatbot", standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "chatbot"
            _fail(f"{exc.format_message()} (see '{where} --help')", 2)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except ChatbotError as exc:
            _fail(str(exc), exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            _fail("interrupted; nothing half-written was kept", 130)
        except sqlite3.Error as exc:
            _fail(_database_problem(exc), 1)
        except OSError as exc:
            _fail(f"{os_reason(exc)}; nothing half-written was kept", 1)
        except RecursionError:
            _fail("the input is nested too deeply to read", 1)
        except Exception as exc:  # noqa: BLE001 - one line, whatever went wrong
            if os.environ.get("CHATBOT_DEBUG"):
                raise
            _fail(
                f"unexpected {type(exc).__name__}: {str(exc)[:200]} "
                "(set CHATBOT_DEBUG=1 for the traceback, and please report it)",
                1,
            )
        sys.exit(rv if isinstance(rv, int) else 0)


def _database_problem(exc: sqlite3.Error) -> str:
    if "locked" in str(exc) or "busy" in str(exc):  # a writer's lock outlived our timeout
        return (
            f"the database is busy: another chatbot process is writing to it ({exc}); "
            "try again when it has finished. Nothing half-written was kept"
        )
    return (
        f"the database cannot be used ({exc}); if it is damaged, restore it from a "
        "backup or choose another --db. Nothing half-written was kept"
    )


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {printable(message)}", err=True)
    sys.exit(code)


def db_option(f: Any) -> Any:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="SQLite file (default: chatbot.db in $CHATBOT_HOME or the user data directory).",
    )(f)


def decoding_options(f: Any) -> Any:
    """--beam and --temperature, shared by chat and replay; None when not given, so
    a resumed or replayed transcript keeps the settings it was made with."""
    f = click.option(
        "--temperature",
        type=float,
        default=None,
        help="Sampling temperature (0: the most likely word). Default: a new chat decodes as "
        "measured for its model (the model folder's decoding.json; the starter samples at 0.7 "
        "from the top-p 0.9 nucleus), else at 0.3 with MMI 0.5 and at least 4 words (README, "
        "Decoding); a resumed chat or a replay keeps each turn's stored settings.",
    )(f)
    return click.option(
        "--beam",
        type=int,
        default=None,
        help="Beam width (1: no beam search; implies --temperature 0).",
    )(f)


def given(**options: Any) -> dict:
    """The options the user gave (not None), as DecodeSettings fields."""
    return {k: v for k, v in options.items() if v is not None}


def open_store(db: Path | None) -> Any:
    from ..store import Store

    return Store(db)


def db_file(db: Path | None) -> Path:
    """The database file a command uses: --db, else the default one."""
    from ..store import default_db_path

    return db or default_db_path()


def listed(db: Path | None, rows: Callable[[Any], list]) -> list:
    """`rows(store)` from the database if there is one, else nothing: a listing
    command must not leave a new folder and database behind (a mistyped --db)."""
    if not db_file(db).is_file():
        return []
    with open_store(db) as store:
        return rows(store)


@click.group("chatbot", cls=ChatbotGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chatbot")
def cli() -> None:
    """Train a conversational model that remembers the conversation, and talk to it.

    \b
    Start here:
      chatbot ingest --builtin chatterbot-english     load a small corpus
      chatbot ingest path/to/dailydialog --name dd    load your own corpus
      chatbot corpora                                 see what is loaded
    """


def _print_table(table: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        line = "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        click.echo(printable(line))
