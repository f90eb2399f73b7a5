"""`chatbot export` (SavedModel for serving) and `chatbot export-shards` (TFRecord streams)."""

from __future__ import annotations

from pathlib import Path

import click

from .app import cli, db_option, open_store


@cli.command("export")
@click.option("--model", "model_name", required=True, help="A registered model name or folder.")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@db_option
def export_model(model_name: str, out: Path, db: Path | None) -> None:
    """Write a model as a TensorFlow SavedModel for TensorFlow Serving.

    \b
    Each call is one turn: the utterance and the conversation's state go in,
    the reply and the new state come out, so the server keeps no state.
    Signatures: serving_default(utterance, state) and reply_tokens(tokens,
    state); state is float32 [state_size, hidden_units], zeros to start.

    \b
    Example:
      chatbot export --model dd exported/dd/1
      python -c "import tensorflow as tf; m = tf.saved_model.load('exported/dd/1'); \\
        print(m.signatures['serving_default'].structured_input_signature)"
    """
    from ..bot import Chatbot
    from ..export import export

    with open_store(db) as store:
        bot = Chatbot.load(model_name, db=store.path)
    export(bot, out)
    cfg = bot.config
    click.echo(
        f"SavedModel in {out}: state float32 [{cfg.state_size}, {cfg.hidden_units}] "
        "(zeros start a conversation)"
    )


@cli.command("export-shards")
@click.option("--corpus", required=True, help="Corpus to export (see `chatbot corpora`).")
@click.option(
    "--shards", type=click.IntRange(min=1), default=4, show_default=True, help="Files per split."
)
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@db_option
def export_shards_command(corpus: str, shards: int, out: Path, db: Path | None) -> None:
    """Write a corpus as tokenized TFRecord shards that every training worker can read.

    \b
    One record per conversation (its utterances' tokens); conversation i of a
    split goes to shard i mod --shards; manifest.json lists the files and
    counts. Train from them with `chatbot train --shards OUT`.

    \b
    Example:
      chatbot export-shards --corpus dd --shards 8 shards/dd
      chatbot train --shards shards/dd --name dd-from-shards
    """
    from tqdm import tqdm

    from ..training.shards import export_shards

    with open_store(db) as store:
        total = sum(store.corpus(corpus).splits.values())
        with tqdm(total=total, unit=" conv", desc="export", disable=None) as bar:
            manifest = export_shards(store, corpus, out, shards, progress=bar.update)
    counts = ", ".join(f"{k} {v['conversations']:,}" for k, v in manifest["splits"].items())
    click.echo(f"Wrote {shards} shards per split to {out}: {counts} conversations")
