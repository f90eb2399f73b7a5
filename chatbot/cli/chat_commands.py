"""`chatbot chat`, `transcripts`, `transcripts export` and `replay`."""

from __future__ import annotations

from pathlib import Path

import click

from ..text import printable, shorten
from .app import _print_table, cli, db_option, decoding_options, given, listed, open_store


@cli.command()
@click.option(
    "--model",
    "model_name",
    help="A registered model name or a model folder "
    "(default: the starter model shipped with the package).",
)
@click.option(
    "--resume",
    "resume_id",
    type=int,
    help="Continue stored transcript ID with its state and settings.",
)
@click.option(
    "--remember-state/--no-remember-state",
    default=None,
    help="Carry the state from one exchange to the next (default: as the model was trained).",
)
@decoding_options
@db_option
def chat(
    model_name: str | None,
    resume_id: int | None,
    remember_state: bool | None,
    beam: int | None,
    temperature: float | None,
    db: Path | None,
) -> None:
    """Talk to a model in the terminal; every exchange is stored as a transcript.

    \b
    Examples:
      chatbot chat                      # the starter model
      chatbot chat --model dd           # a model you trained
      chatbot chat --resume 3           # continue transcript 3
    Commands inside: /help /reset /undo /history /state /set /save /model /quit
    """
    from .. import repl
    from ..bot import Chatbot
    from ..decode import chat_decoding
    from ..session import Session
    from ..store import default_home

    with open_store(db) as store:
        if resume_id is not None:
            model_name = model_name or store.transcript(resume_id)[0]["model"]
        name = model_name or "starter"
        session = Session(Chatbot.load(name, db=store.path), store, name)
        if resume_id is not None:
            session.resume(resume_id)
        chosen = given(beam=beam, temperature=temperature, remember_state=remember_state)
        # A resumed chat goes on as its transcript decoded; a new one as measured.
        base = {} if resume_id is not None else session.chat_decoding
        session.configure(chat_decoding(base, chosen))
        if resume_id is not None:
            s = session.settings
            click.echo(
                f"Resumed transcript {resume_id}: {len(session.history)} exchanges; "
                f"remember-state {'on' if session.remember else 'off'}, beam {s.beam}, "
                f"temperature {s.temperature}, mmi {s.mmi}, min-length {s.min_length}."
            )
        home = default_home()
        home.mkdir(parents=True, exist_ok=True)
        repl.run(session, history_file=home / "chat_history")


@cli.group(invoke_without_command=True)
@db_option
@click.pass_context
def transcripts(ctx: click.Context, db: Path | None) -> None:
    """List stored chats (or `transcripts export ID`)."""
    if ctx.invoked_subcommand:
        ctx.obj = db
        return
    rows = listed(db, lambda store: store.transcripts())
    if not rows:
        click.echo("No transcripts yet. Try: chatbot chat")
        return
    table = [("id", "model", "started", "turns", "first line")] + [
        (str(i), m, started, str(n), printable(shorten(first, 40)))
        for i, m, started, n, first in rows
    ]
    _print_table(table)


@transcripts.command("export")
@click.argument("transcript_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@db_option
@click.pass_obj
def transcripts_export(
    parent_db: Path | None, transcript_id: int, fmt: str, db: Path | None
) -> None:
    """Print transcript ID as one JSONL line in the ingestion format ({"id", "turns"})."""
    import json

    from ..corpora import jsonl

    with open_store(db or parent_db) as store:
        header, turns = store.transcript(transcript_id)
    record = jsonl.record(
        f"transcript-{transcript_id}",
        [t.text for t in turns],
        model=header["model"],
        started_at=header["started_at"],
    )
    click.echo(json.dumps(record))


@cli.command()
@click.argument("source")
@click.option("--model", "model_name", help="Model to replay with (default: the transcript's).")
@decoding_options
@db_option
def replay(
    source: str,
    model_name: str | None,
    beam: int | None,
    temperature: float | None,
    db: Path | None,
) -> None:
    """Re-run the user turns of transcript ID or a JSONL file; stored and new replies side by side.

    Each turn of a transcript is replayed with the settings it was made with
    (beam, temperature, remember-state, ...), so a greedy chat replays reply for
    reply; --beam and --temperature override them.

    \b
    Examples:
      chatbot replay 3
      chatbot replay chats.jsonl --model dd
    """
    from ..replay import replay_turns

    overrides = given(beam=beam, temperature=temperature)
    with open_store(db) as store:
        for conv_id, user, stored, new, ppl in replay_turns(store, source, model_name, overrides):
            click.echo(
                f"[{printable(conv_id)}] you> {printable(user)}\n  stored> {printable(stored)}"
                f"   (perplexity {ppl:.1f})\n  now   > {printable(new)}"
            )
