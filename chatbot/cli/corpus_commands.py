"""`chatbot ingest`, `corpora`, `corpora rm` and `show`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..corpora import FILE_FORMATS
from ..text import printable
from .app import _print_table, cli, db_option, listed, open_store


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FILE_FORMATS),
    help="Corpus format (default: detected from PATH).",
)
@click.option("--name", help="Corpus name (default: the file or folder name).")
@click.option(
    "--builtin",
    type=click.Choice(["chatterbot-english", "chitchat", "recall"]),
    help="Ingest a corpus that ships with the package, no download: chatterbot-english "
    "(BSD-3), chitchat (7,168 chats between people, MIT), or recall (generated: facts "
    "stated, then asked for back; see --conversations and --seed).",
)
@click.option(
    "--conversations",
    type=click.IntRange(1, 1_000_000),
    default=20_000,
    show_default=True,
    help="--builtin recall: how many conversations to generate.",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="--builtin recall: the generator's seed (same seed, same corpus).",
)
@click.option("--replace", is_flag=True, help="Ingest again, replacing a corpus of the same name.")
@click.option(
    "--on-error",
    type=click.Choice(["skip", "fail"]),
    default="skip",
    show_default=True,
    help="On a malformed record: skip it (and report it) or stop and store nothing.",
)
@db_option
def ingest(
    path: Path | None,
    fmt: str | None,
    name: str | None,
    builtin: str | None,
    conversations: int,
    seed: int,
    replace: bool,
    on_error: str,
    db: Path | None,
) -> None:
    """Load a corpus from PATH into the database, in one transaction.

    \b
    Formats: a Cornell movie-dialogs folder, a DailyDialog folder (official
    splits kept), ChatterBot YAML, JSONL ({"id": ..., "turns": [...]} per
    line) or plain text (one utterance per line, blank line between
    conversations). The same input twice is a no-op.

    \b
    Examples:
      chatbot ingest ../shared/corpora/dailydialog --name dd
      chatbot ingest --builtin chitchat
      chatbot ingest --builtin recall --conversations 20000 --seed 0
    """
    from tqdm import tqdm

    from ..corpora import chatterbot, chitchat
    from ..ingest import ingest as run_ingest

    if (path is None) == (builtin is None):
        raise click.UsageError("give either PATH or --builtin NAME")
    if builtin == "recall":
        _ingest_recall(name or "recall", conversations, seed, replace, db)
        return
    if builtin == "chitchat":
        path, fmt, name = chitchat.builtin_path(), "chitchat", name or builtin
    elif builtin:
        path, fmt, name = chatterbot.builtin_path(builtin), "chatterbot", name or builtin
    assert path is not None
    with open_store(db) as store:
        result = run_ingest(
            store,
            path,
            fmt,
            name,
            replace,
            on_error,
            progress=lambda it: tqdm(it, unit=" conv", disable=None, desc="ingest"),
        )
    _report_ingest(result, path)


def _ingest_recall(name: str, n: int, seed: int, replace: bool, db: Path | None) -> None:
    from tqdm import tqdm

    from ..ingest import ingest_recall

    with open_store(db) as store:
        result = ingest_recall(
            store,
            name,
            n,
            seed,
            replace,
            progress=lambda it: tqdm(it, total=n, unit=" conv", disable=None, desc="generate"),
        )
    _report_ingest(result, Path(result.corpus.source))


def _report_ingest(result: Any, path: Path) -> None:
    for kind, lines, count in (
        ("warning", result.warnings, result.warned),
        ("skipped", result.errors, result.skipped),
    ):
        for line in lines:
            click.echo(f"{kind}: {printable(line)}", err=True)
        if count > len(lines):
            click.echo(f"{kind}: ... and {count - len(lines):,} more", err=True)
    c = result.corpus
    if result.already_present:
        click.echo(
            f"{path} is already ingested as corpus {c.name!r} (same sha256); nothing to do. "
            "Use --replace to ingest it again."
        )
        return
    splits = " / ".join(f"{k} {v:,}" for k, v in c.splits.items())
    click.echo(
        f"Ingested {c.name!r} ({c.format}): {c.conversations:,} conversations, "
        f"{c.utterances:,} utterances, {result.skipped:,} records skipped; splits {splits}"
    )


@cli.group(invoke_without_command=True)
@db_option
@click.pass_context
def corpora(ctx: click.Context, db: Path | None) -> None:
    """List the corpora in the database (or `corpora rm NAME`).

    Tokens are whitespace-separated words as stored; the model's tokenizer
    splits punctuation further.
    """
    if ctx.invoked_subcommand:
        ctx.obj = db
        return
    rows = listed(db, lambda store: store.corpora())
    if not rows:
        click.echo("No corpora yet. Try: chatbot ingest --builtin chatterbot-english")
        return
    header = (
        "name",
        "format",
        "conversations",
        "utterances",
        "tokens",
        "turns/conv",
        "train/valid/test",
    )
    table = [header] + [
        (
            c.name,
            c.format,
            f"{c.conversations:,}",
            f"{c.utterances:,}",
            f"{c.tokens:,}",
            f"{c.mean_turns:.2f}",
            "/".join(f"{n:,}" for n in c.splits.values()),
        )
        for c in rows
    ]
    _print_table(table)


@corpora.command("rm")
@click.argument("name")
@db_option
@click.pass_obj
def corpora_rm(parent_db: Path | None, name: str, db: Path | None) -> None:
    """Delete corpus NAME with its conversations and utterances."""
    with open_store(db or parent_db) as store:
        store.remove_corpus(name)
    click.echo(f"Removed corpus {name!r}.")


@cli.command()
@click.argument("name")
@click.option("--conversation", "conversation_id", help="Show this conversation (its id).")
@click.option("--limit", default=10, show_default=True, help="How many conversation ids to list.")
@db_option
def show(name: str, conversation_id: str | None, limit: int, db: Path | None) -> None:
    """Describe corpus NAME, or print one of its conversations.

    \b
    Example:
      chatbot show dd --conversation dialogues_test:1
    """
    with open_store(db) as store:
        if conversation_id:
            for speaker, text in store.conversation(name, conversation_id):
                click.echo(f"{printable(speaker or '-')}: {printable(text)}")
            return
        c = store.corpus(name)
        ids = store.conversation_ids(name, limit)
    click.echo(f"{c.name} ({c.format}) from {printable(c.source)}")
    click.echo(f"sha256 {c.sha256}, ingested {c.created_at}")
    click.echo(
        f"{c.conversations:,} conversations, {c.utterances:,} utterances, splits "
        + ", ".join(f"{k} {v:,}" for k, v in c.splits.items())
    )
    for ext, split, n in ids:
        click.echo(f"  {printable(ext)}  ({split}, {n} utterances)")
