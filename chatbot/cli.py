"""The `chatbot` command line: parsing and printing only; the library does the work.

Errors a user can fix print one line and exit 2 (bad usage) or 1 (failure);
TensorFlow is imported only inside the commands that need a model.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import click

from .errors import ChatbotError


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
        sys.exit(rv if isinstance(rv, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def db_option(f: Any) -> Any:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="SQLite file (default: chatbot.db in $CHATBOT_HOME or the user data directory).",
    )(f)


def open_store(db: Path | None) -> Any:
    from .store import Store

    return Store(db)


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


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["cornell", "dailydialog", "chatterbot", "jsonl", "text"]),
    help="Corpus format (default: detected from PATH).",
)
@click.option("--name", help="Corpus name (default: the file or folder name).")
@click.option("--builtin", help="Ingest a corpus shipped with a dependency: chatterbot-english.")
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
    Example:
      chatbot ingest ../shared/corpora/dailydialog --name dd
    """
    from tqdm import tqdm

    from .corpora import chatterbot
    from .ingest import ingest as run_ingest

    if (path is None) == (builtin is None):
        raise click.UsageError("give either PATH or --builtin NAME")
    if builtin:
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


def _report_ingest(result: Any, path: Path) -> None:
    for kind, lines in (("warning", result.warnings), ("skipped", result.errors)):
        for line in lines[:10]:
            click.echo(f"{kind}: {line}", err=True)
        if len(lines) > 10:
            click.echo(f"{kind}: ... and {len(lines) - 10} more", err=True)
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
    with open_store(db) as store:
        rows = store.corpora()
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
                click.echo(f"{speaker or '-'}: {text}")
            return
        c = store.corpus(name)
        ids = store.conversation_ids(name, limit)
    click.echo(f"{c.name} ({c.format}) from {c.source}\nsha256 {c.sha256}, ingested {c.created_at}")
    click.echo(
        f"{c.conversations:,} conversations, {c.utterances:,} utterances, splits "
        + ", ".join(f"{k} {v:,}" for k, v in c.splits.items())
    )
    for ext, split, n in ids:
        click.echo(f"  {ext}  ({split}, {n} utterances)")


def config_options(f: Any) -> Any:
    """One flag per Config field (`embed_dim` -> `--embed-dim`), help from the field."""
    import dataclasses

    from .config import Config

    types = {"int": int, "float": float}
    for fld in reversed(dataclasses.fields(Config)):
        flag, help_text = (
            fld.name.replace("_", "-"),
            f"{fld.metadata['help']} [default: {fld.default}]",
        )
        if fld.type == "bool":
            f = click.option(f"--{flag}/--no-{flag}", fld.name, default=None, help=help_text)(f)
        elif fld.name == "cell":
            f = click.option(f"--{flag}", type=click.Choice(["lstm", "gru"]), help=help_text)(f)
        else:
            f = click.option(f"--{flag}", type=types[str(fld.type)], help=help_text)(f)
    return f


class TqdmReporter:
    """Training progress: a bar per epoch with loss, perplexity and tokens per second."""

    def epoch_start(self, epoch: int, total_windows: int, done: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total_windows, initial=done, desc=f"epoch {epoch}", unit=" win", disable=None
        )
        self.loss = self.tokens = 0.0
        self.started = time.perf_counter()

    def window(self, loss_sum: float, tokens: int) -> None:
        self.loss, self.tokens = self.loss + loss_sum, self.tokens + tokens
        mean = self.loss / max(self.tokens, 1)
        rate = self.tokens / (time.perf_counter() - self.started)
        self.bar.set_postfix(
            loss=f"{mean:.3f}",
            ppl=f"{math.exp(min(mean, 50)):.1f}",
            tok_s=f"{rate:,.0f}",
            refresh=False,
        )
        self.bar.update(1)

    def epoch_end(self, metrics: dict) -> None:
        self.bar.close()
        click.echo(
            f"epoch {metrics['epoch']}: train ppl {metrics['train_ppl']:.2f}, "
            f"valid ppl {metrics['valid_ppl']:.2f} ({metrics['seconds']:.0f} s)"
        )


@cli.command()
@click.option("--corpus", required=True, help="Corpus to train on (see `chatbot corpora`).")
@click.option("--name", help="Model name (default: the corpus name).")
@click.option("--resume", is_flag=True, help="Continue model NAME from its last checkpoint.")
@click.option("--tensorboard", is_flag=True, help="Write TensorBoard logs to the model's logs/.")
@config_options
@db_option
def train(
    corpus: str, name: str | None, resume: bool, tensorboard: bool, db: Path | None, **settings: Any
) -> None:
    """Train a model on the train split of CORPUS; validation perplexity picks the best epoch.

    \b
    Examples:
      chatbot train --corpus dd --remember-state --epochs 10
      chatbot train --corpus dd --name dd --resume      # after a crash or Ctrl-C
    """
    from .config import Config
    from .ingest import check_name
    from .train import train as run_train

    chosen = {k: v for k, v in settings.items() if v is not None}
    if resume and set(chosen) - {"epochs"}:
        raise click.UsageError(
            "--resume continues with the saved settings; only --epochs may change"
        )
    name = check_name(name or corpus, "model")
    with open_store(db) as store:
        state = run_train(
            store,
            corpus,
            name,
            Config(**chosen),
            resume,
            TqdmReporter(),
            tensorboard,
            epochs=chosen.get("epochs"),
        )
    click.echo(
        f"Model {name!r}: {state.stopped}; best validation perplexity "
        f"{state.best_valid_ppl:.2f}. Talk to it: chatbot chat --model {name}"
    )


@cli.command()
@db_option
def models(db: Path | None) -> None:
    """List trained models with their corpus, size and best validation perplexity."""
    with open_store(db) as store:
        rows = store.models()
    if not rows:
        click.echo("No models yet. Try: chatbot train --corpus NAME")
        return
    header = ("name", "corpus", "cell", "hidden", "remember", "epochs", "valid ppl", "status")
    table = [header] + [
        (
            m.name,
            m.corpus,
            m.config["cell"],
            str(m.config["hidden_units"]),
            "yes" if m.config["remember_state"] else "no",
            str(m.metrics.get("epochs", 0)),
            f"{m.metrics['best_valid_ppl']:.2f}" if m.metrics.get("best_valid_ppl") else "-",
            m.metrics.get("stopped") or m.metrics.get("status", "-"),
        )
        for m in rows
    ]
    _print_table(table)


def _print_table(table: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


@cli.command()
@click.option(
    "--model",
    "model_name",
    help="A registered model name or a model folder "
    "(default: the starter model shipped with the package).",
)
@click.option(
    "--resume", "resume_id", type=int, help="Continue stored transcript ID with its state."
)
@click.option("--no-remember", is_flag=True, help="Reset the state before every exchange.")
@click.option("--beam", type=int, default=1, show_default=True, help="Beam width (1: greedy).")
@click.option(
    "--temperature",
    type=float,
    default=0.0,
    show_default=True,
    help="Sampling temperature (0: the most likely word).",
)
@db_option
def chat(
    model_name: str | None,
    resume_id: int | None,
    no_remember: bool,
    beam: int,
    temperature: float,
    db: Path | None,
) -> None:
    """Talk to a model in the terminal; every exchange is stored as a transcript.

    \b
    Examples:
      chatbot chat                      # the starter model
      chatbot chat --model dd           # a model you trained
      chatbot chat --resume 3           # continue transcript 3
    Commands inside: /help /reset /undo /history /state /set /quit
    """
    from . import repl
    from .bot import Chatbot
    from .decode import DecodeSettings
    from .session import Session
    from .store import default_home

    with open_store(db) as store:
        if resume_id is not None:
            model_name = model_name or store.transcript(resume_id)[0]["model"]
        name = model_name or "starter"
        bot = Chatbot.load(name, db=store.path)
        bot.remember_state = bot.remember_state and not no_remember
        bot.settings = DecodeSettings(
            beam=beam, temperature=temperature, max_length=bot.config.max_len
        )
        session = Session(
            bot,
            store,
            name,
            {"remember_state": bot.remember_state, "beam": beam, "temperature": temperature},
        )
        if resume_id is not None:
            session.resume(resume_id)
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
    with open_store(db) as store:
        rows = store.transcripts()
    if not rows:
        click.echo("No transcripts yet. Try: chatbot chat")
        return
    table = [("id", "model", "started", "turns", "first line")] + [
        (str(i), m, started, str(n), first[:40]) for i, m, started, n, first in rows
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

    with open_store(db or parent_db) as store:
        header, turns = store.transcript(transcript_id)
    record = {
        "id": f"transcript-{transcript_id}",
        "turns": [t for _, t, _ in turns],
        "model": header["model"],
        "started_at": header["started_at"],
    }
    click.echo(json.dumps(record))


@cli.command()
@click.argument("source")
@click.option("--model", "model_name", help="Model to replay with (default: the transcript's).")
@click.option("--beam", type=int, default=1, show_default=True, help="Beam width (1: greedy).")
@click.option(
    "--temperature",
    type=float,
    default=0.0,
    show_default=True,
    help="Sampling temperature (0: the most likely word).",
)
@db_option
def replay(
    source: str, model_name: str | None, beam: int, temperature: float, db: Path | None
) -> None:
    """Re-run the user turns of transcript ID or a JSONL file; stored and new replies side by side.

    \b
    Examples:
      chatbot replay 3
      chatbot replay chats.jsonl --model dd
    """
    from .decode import DecodeSettings
    from .replay import replay_turns

    settings = DecodeSettings(beam=beam, temperature=temperature)
    with open_store(db) as store:
        for conv_id, user, stored, new, ppl in replay_turns(store, source, model_name, settings):
            click.echo(
                f"[{conv_id}] you> {user}\n  stored> {stored}   (perplexity {ppl:.1f})"
                f"\n  now   > {new}"
            )


def main() -> None:
    cli()
