"""The `chatbot chat` client on prompt-toolkit, on top of session.py.

Slash commands are registered with `@command`. Ctrl-C clears the line,
Ctrl-D exits; any error in one line (a command or an exchange) is printed as
one line and the loop goes on. The REPL talks to the `Session` only.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, InMemoryHistory

from .errors import ChatbotError, UsageError, os_reason
from .files import write_atomic
from .session import REMEMBER, SETTABLE, Session
from .text import MAX_CHARS, printable, shorten

COMMANDS: dict[str, tuple[Callable[[Session, str], bool | None], str]] = {}


def command(name: str, help_text: str) -> Callable:
    def register(f: Callable[[Session, str], bool | None]) -> Callable:
        COMMANDS[name] = (f, help_text)
        return f

    return register


def say(text: str) -> None:
    # Plain print: between prompts prompt-toolkit does not own the terminal, and
    # print follows whatever sys.stdout is now (tests capture it). Everything shown
    # goes through `printable`: a model name or a reply never drives the terminal.
    print(printable(text), flush=True)


@command("/help", "list the commands")
def _help(session: Session, arg: str) -> None:
    for name, (_, text) in COMMANDS.items():
        say(f"  {name:<10} {text}")
    say("  Ctrl-C clears the line, Ctrl-D exits.")


@command("/reset", "forget the conversation and start a new transcript")
def _reset(session: Session, arg: str) -> None:
    session.reset()
    say("(state cleared: a new conversation)")


@command("/undo", "take back the last exchange (state included)")
def _undo(session: Session, arg: str) -> None:
    undone = session.undo()
    say(f"(undid: {shorten(undone[0])!r})" if undone else "(nothing to undo)")


@command("/history", "show this conversation")
def _history(session: Session, arg: str) -> None:
    if not session.history:
        say("(no exchanges yet)")
    for user, bot in session.history:
        say(f"you> {printable(user)}\nbot> {printable(bot)}")


@command("/state", "show the model, memory, decoding settings, transcript id and slots")
def _state(session: Session, arg: str) -> None:
    for line in session.describe():
        say(printable(line))  # the model's name and the slots' words are text from outside


@command("/set", f"KEY=VALUE: {REMEMBER} (on|off), " + ", ".join(SETTABLE))
def _set(session: Session, arg: str) -> None:
    key, _, value = (part.strip() for part in arg.partition("="))
    if not key or not value:
        say(f"usage: /set KEY=VALUE with KEY one of: {REMEMBER}, {', '.join(SETTABLE)}")
        return
    session.set(key, value)
    warm_up_in_background(session)
    say(f"({key} = {value})")


@command("/save", "FILE: write this conversation as JSONL (the ingestion format)")
def _save(session: Session, arg: str) -> None:
    if not arg.strip():
        say("usage: /save FILE")
        return
    path = Path(arg.strip()).expanduser()
    if path.is_dir() or not path.parent.is_dir():
        raise UsageError(f"cannot save to {path}: give a file name in an existing folder")
    # The file is written beside the path and renamed over it: only ever replace a
    # regular file, never a device, a FIFO or what a symlink points at.
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise UsageError(f"cannot save to {path}: it is not a regular file; give a new file name")
    write_atomic(path, json.dumps(session.record()) + "\n")
    say(f"(saved {len(session.history)} exchanges to {printable(str(path))})")


@command("/model", "NAME: switch to another model (a new conversation)")
def _model(session: Session, arg: str) -> None:
    name = arg.strip()
    if not name:
        say(f"(model {session.model_name}; usage: /model NAME)")
        return
    session.switch_model(name)
    warm_up_in_background(session)
    say(f"(now talking to {printable(name)}: a new conversation)")


@command("/quit", "leave (Ctrl-D works too)")
def _quit(session: Session, arg: str) -> bool:
    return True


def handle(session: Session, line: str) -> bool:
    """Run one input line; True means leave."""
    if line.startswith("/"):
        name, _, arg = line.partition(" ")
        if name not in COMMANDS:
            say(f"unknown command {shorten(name)}; /help lists them")
            return False
        return bool(COMMANDS[name][0](session, arg))
    if len(line) > MAX_CHARS:
        say(f"(a line is read up to {MAX_CHARS} characters; the rest was dropped)")
    unknown = session.unknown_words(line)
    reply = session.respond(line)
    if unknown:
        kept = "new words, kept for this chat" if session.has_slots else "not in the vocabulary"
        say(f"({kept}: {printable(', '.join(unknown[:8]))})")
    say(f"bot> {printable(reply)}")
    return False


def handle_safely(session: Session, line: str) -> bool:
    """`handle`, with every failure turned into one line: the loop goes on, and the
    session is where it was before the line (`Session.respond` restores the state)."""
    try:
        return handle(session, line)
    except KeyboardInterrupt:  # Ctrl-C during a reply: that line is dropped, the chat goes on
        say("(interrupted: nothing was stored for that line)")
    except ChatbotError as exc:
        say(f"error: {exc}")
    except sqlite3.OperationalError as exc:
        say(f"error: the database is busy or unwritable ({exc}); nothing was stored, try again")
    except OSError as exc:
        say(f"error: {os_reason(exc)}")
    except Exception as exc:  # noqa: BLE001 - the REPL must outlive any one command
        say(f"error: {type(exc).__name__}: {printable(shorten(str(exc), 200))}")
    return False


WARM_UP_THREAD = "chatbot-warm-up"


def warm_up_in_background(session: Session) -> None:
    """Compile the session's reply in a thread while the user types: XLA takes 1-3 s
    for each decoding setting, which the first reply after a start, a `/set` or a
    `/model` would otherwise wait for (a line sent sooner waits for the same
    compilation, no longer). Not a daemon thread: the interpreter waits for it at
    exit, since leaving while TensorFlow compiled in a daemon thread aborted the
    process."""
    threading.Thread(target=_warm_up, args=(session,), name=WARM_UP_THREAD).start()


def _warm_up(session: Session) -> None:
    # Only a head start: if it fails, the next reply compiles (and reports) anyway.
    with contextlib.suppress(Exception):
        session.warm_up()


def run(session: Session, history_file: Path | None = None, **prompt_args: object) -> None:
    history = FileHistory(str(history_file)) if history_file else InMemoryHistory()
    prompt: PromptSession[str] = PromptSession(history=history, **prompt_args)  # type: ignore[arg-type]
    say(f"Chatting with {session.model_name}. /help for commands, Ctrl-D to leave.")
    warm_up_in_background(session)
    while True:
        try:
            line = prompt.prompt("you> ").strip()
        except KeyboardInterrupt:
            continue  # Ctrl-C clears the line
        except EOFError:
            break  # Ctrl-D
        if not line:
            continue
        if handle_safely(session, line):
            break
