"""The `chatbot chat` client on prompt-toolkit, on top of session.py.

Slash commands are registered with `@command`. Ctrl-C clears the line,
Ctrl-D exits; an error in one exchange is printed and the loop goes on.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, InMemoryHistory

from .errors import ChatbotError
from .session import Session

COMMANDS: dict[str, tuple[Callable[[Session, str], bool | None], str]] = {}


def command(name: str, help_text: str) -> Callable:
    def register(f: Callable[[Session, str], bool | None]) -> Callable:
        COMMANDS[name] = (f, help_text)
        return f

    return register


def say(text: str) -> None:
    # Plain print: between prompts prompt-toolkit does not own the terminal, and
    # print follows whatever sys.stdout is now (tests capture it).
    print(text, flush=True)


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
    say(f"(undid: {undone[0]!r})" if undone else "(nothing to undo)")


@command("/history", "show this conversation")
def _history(session: Session, arg: str) -> None:
    if not session.history:
        say("(no exchanges yet)")
    for user, bot in session.history:
        say(f"you> {user}\nbot> {bot}")


@command("/state", "show the model, memory, decoding settings and transcript id")
def _state(session: Session, arg: str) -> None:
    bot = session.bot
    norm = sum(float((s * s).numpy().sum()) for s in bot.state) ** 0.5
    say(
        f"model {session.model_name}, remember {'on' if bot.remember_state else 'off'}, "
        f"state norm {norm:.3f}, transcript {session.transcript_id or '(none yet)'}"
    )
    s = bot.settings
    say(
        f"decoding: beam {s.beam}, temperature {s.temperature}, top-k {s.top_k}, top-p {s.top_p}, "
        f"repetition-penalty {s.repetition_penalty}, no-repeat-ngram {s.no_repeat_ngram}, "
        f"length {s.min_length}-{s.max_length}"
    )


SETTABLE = {
    "beam": int,
    "temperature": float,
    "top-k": int,
    "top-p": float,
    "max-length": int,
    "min-length": int,
    "repetition-penalty": float,
    "no-repeat-ngram": int,
}


@command(
    "/set",
    "KEY=VALUE: beam, temperature, top-k, top-p, max-length, min-length, "
    "repetition-penalty, no-repeat-ngram, remember (on|off)",
)
def _set(session: Session, arg: str) -> None:
    key, _, value = (part.strip() for part in arg.partition("="))
    bot = session.bot
    if key == "remember" and value in ("on", "off"):
        bot.remember_state = value == "on"
    elif key in SETTABLE:
        try:
            bot.settings = dataclasses.replace(
                bot.settings, **{key.replace("-", "_"): SETTABLE[key](value)}
            )
        except ValueError:
            say(f"{key} needs a number. Received: {value!r}")
            return
    else:
        say("usage: /set KEY=VALUE with KEY one of: remember, " + ", ".join(SETTABLE))
        return
    say(f"({key} = {value})")


@command("/save", "FILE: write this conversation as JSONL (the ingestion format)")
def _save(session: Session, arg: str) -> None:
    if not arg.strip():
        say("usage: /save FILE")
        return
    turns = [text for exchange in session.history for text in exchange]
    record = {"id": f"transcript-{session.transcript_id or 'unsaved'}", "turns": turns}
    Path(arg.strip()).expanduser().write_text(json.dumps(record) + "\n", encoding="utf-8")
    say(f"(saved {len(session.history)} exchanges to {arg.strip()})")


@command("/model", "NAME: switch to another model (a new conversation)")
def _model(session: Session, arg: str) -> None:
    from .bot import Chatbot

    name = arg.strip()
    if not name:
        say(f"(model {session.model_name}; usage: /model NAME)")
        return
    db = session.store.path if session.store else None
    new = Chatbot.load(name, db=db)
    new.settings = dataclasses.replace(session.bot.settings, max_length=new.config.max_len)
    session.bot, session.model_name = new, name
    session.reset()
    say(f"(now talking to {name}: a new conversation)")


@command("/quit", "leave (Ctrl-D works too)")
def _quit(session: Session, arg: str) -> bool:
    return True


def handle(session: Session, line: str) -> bool:
    """Run one input line; True means leave."""
    if line.startswith("/"):
        name, _, arg = line.partition(" ")
        if name not in COMMANDS:
            say(f"unknown command {name}; /help lists them")
            return False
        return bool(COMMANDS[name][0](session, arg))
    unknown = session.unknown_words(line)
    reply = session.respond(line)
    if unknown:
        say(f"(not in the vocabulary: {', '.join(unknown[:8])})")
    say(f"bot> {reply}")
    return False


def run(session: Session, history_file: Path | None = None, **prompt_args: object) -> None:
    history = FileHistory(str(history_file)) if history_file else InMemoryHistory()
    prompt: PromptSession[str] = PromptSession(history=history, **prompt_args)  # type: ignore[arg-type]
    say(f"Chatting with {session.model_name}. /help for commands, Ctrl-D to leave.")
    while True:
        try:
            line = prompt.prompt("you> ").strip()
        except KeyboardInterrupt:
            continue  # Ctrl-C clears the line
        except EOFError:
            break  # Ctrl-D
        if not line:
            continue
        try:
            if handle(session, line):
                break
        except ChatbotError as exc:
            say(f"error: {exc}")
