"""`chatbot models` and `models rm`: the trained models a database lists."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click

from ..files import is_locked
from .app import _print_table, cli, db_file, db_option, listed, open_store


def _status(store: Any, m: Any) -> str:
    """How the run stopped; a run recorded as training whose process is gone (its
    training lock is free) was interrupted, and `train --resume` goes on from it."""
    status = m.metrics.get("stopped") or m.metrics.get("status", "-")
    if status == "training" and not is_locked(store.training_lock(m.name)):
        return "interrupted (train --resume goes on)"
    return status


@cli.group(invoke_without_command=True)
@db_option
@click.pass_context
def models(ctx: click.Context, db: Path | None) -> None:
    """List trained models with their corpus, size and best validation perplexity
    (or `models rm NAME`)."""
    if ctx.invoked_subcommand:
        ctx.obj = db
        return
    rows = listed(db, lambda store: [(m, _status(store, m)) for m in store.models()])
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
            status,
        )
        for m, status in rows
    ]
    _print_table(table)


@models.command("rm")
@click.argument("name")
@db_option
@click.pass_obj
def models_rm(parent_db: Path | None, name: str, db: Path | None) -> None:
    """Delete model NAME: its record and its folder. Transcripts of chats with it stay."""
    from ..errors import ModelError, StoreError, os_reason
    from ..files import exclusive_lock
    from ..ingest import check_name

    path = db_file(db or parent_db)
    if not path.is_file():  # a mistyped --db: say so, and create nothing
        raise StoreError(f"no model named {name!r}: there is no database {path}; check --db")
    with open_store(path) as store:
        folder = store.models_folder / check_name(name, "model")
        registered = any(m.name == name for m in store.models())
        if not registered and not folder.is_dir():
            store.model(name)  # an unknown name: its error, before a lock file is made for it
        lock = store.training_lock(name)
        busy = f"model {name!r} is being trained; stop that run before removing it"
        with exclusive_lock(lock, busy):
            # The record first: a crash before the folder is gone leaves a folder
            # nothing lists, never a listed model whose folder is half deleted.
            if registered:  # a run killed before it registered has a folder only
                store.remove_model(name)
            try:
                shutil.rmtree(folder, ignore_errors=not folder.exists())
            except OSError as exc:
                raise ModelError(
                    f"model {name!r} is no longer listed, but its folder {folder} could not "
                    f"be deleted ({os_reason(exc)}); delete it by hand"
                ) from None
        lock.unlink(missing_ok=True)
    click.echo(f"Removed model {name!r}.")
