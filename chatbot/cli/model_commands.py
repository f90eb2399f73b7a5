"""`chatbot train` (a flag per Config and RunConfig field) and `eval` (`models` is
registry_commands.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..progress import TqdmReporter
from ..text import printable
from .app import _print_table, cli, db_option, open_store


def config_options(f: Any) -> Any:
    """A flag per Config and RunConfig field (`embed_dim` -> `--embed-dim`), help
    from the field; the few kept to the library (`flag=False`) have none."""
    import dataclasses

    from ..config import PRECISIONS, Config, RunConfig

    types = {"int": int, "float": float}
    choices = {"cell": ("lstm", "gru"), "matmul_precision": PRECISIONS}
    flagged = [
        f for f in dataclasses.fields(Config) + dataclasses.fields(RunConfig) if f.metadata["flag"]
    ]
    for fld in reversed(flagged):
        flag, help_text = (
            fld.name.replace("_", "-"),
            f"{fld.metadata['help']} [default: {fld.default}]",
        )
        if fld.type == "bool":
            f = click.option(f"--{flag}/--no-{flag}", fld.name, default=None, help=help_text)(f)
        elif fld.name in choices:
            f = click.option(f"--{flag}", type=click.Choice(choices[fld.name]), help=help_text)(f)
        else:
            f = click.option(f"--{flag}", type=types[str(fld.type)], help=help_text)(f)
    return f


@cli.command()
@click.option(
    "--corpus",
    "corpora",
    multiple=True,
    help="Corpus to train on (see `chatbot corpora`); repeat it to train on several at "
    "once, each corpus spread evenly through every epoch.",
)
@click.option(
    "--shards",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Train from TFRecord shards (`chatbot export-shards`) instead of --corpus.",
)
@click.option("--name", help="Model name (default: the corpus name).")
@click.option("--resume", is_flag=True, help="Continue model NAME from its last checkpoint.")
@click.option("--tensorboard", is_flag=True, help="Write TensorBoard logs to the model's logs/.")
@click.option(
    "--strategy",
    type=click.Choice(["default", "mirrored", "multiworker"]),
    default="default",
    show_default=True,
    help="tf.distribute: mirrored = every local GPU; multiworker = one process per "
    "machine, cluster from TF_CONFIG (see README).",
)
@config_options
@db_option
def train(
    corpora: tuple[str, ...],
    shards: Path | None,
    name: str | None,
    resume: bool,
    tensorboard: bool,
    strategy: str,
    db: Path | None,
    **config_flags: Any,
) -> None:
    """Train a model on the train split of CORPUS; validation perplexity picks the best epoch.

    \b
    Examples:
      chatbot train --corpus dd --remember-state --epochs 10
      chatbot train --corpus chitchat --corpus recall --name talker
      chatbot train --corpus dd --name dd --resume      # after a crash or Ctrl-C
      TF_CONFIG=... chatbot train --corpus dd --strategy multiworker   # on each machine
      chatbot train --shards shards/dd --name dd       # from `chatbot export-shards`
    """
    import dataclasses

    from .._tf import prefer_parallel_ops
    from ..config import Config, RunConfig
    from ..ingest import check_name

    if bool(corpora) == (shards is not None):
        raise click.UsageError("give --corpus NAME or --shards FOLDER (one of them)")
    chosen = {k: v for k, v in config_flags.items() if v is not None}
    run_names = {f.name for f in dataclasses.fields(RunConfig)}
    sizes = sorted(set(chosen) - run_names)
    if resume and sizes:
        flags = ", ".join("--" + n.replace("_", "-") for n in sizes)
        raise click.UsageError(
            f"--resume keeps the model's own settings; leave out {flags} (only run "
            "settings such as --epochs or --learning-rate may change)"
        )
    # A bad value is a usage error before TensorFlow starts.
    config = Config(**{k: v for k, v in chosen.items() if k not in run_names})
    run_flags = {k: v for k, v in chosen.items() if k in run_names}
    run = RunConfig(**run_flags)
    prefer_parallel_ops()  # before TensorFlow starts (the next imports start it)
    from ..training.distribute import make_strategy
    from ..training.loop import saved_run
    from ..training.loop import train as run_train

    distribution = make_strategy(strategy)  # before any other TensorFlow work
    source: Any = None
    if shards:
        from ..training.shards import ShardCorpus

        source = ShardCorpus(shards)
        corpus = source.name
    else:
        corpus = corpora[0]
    name = check_name(name or "-".join(corpora) or corpus, "model")
    with open_store(db) as store:
        if len(corpora) > 1:
            from ..training.mix import Mix

            source = Mix(store, list(corpora))
            corpus = source.name
        if resume:  # the saved run settings, with the ones given changed
            run = saved_run(store, name).replace(**run_flags)
        state = run_train(
            store,
            corpus,
            name,
            None if resume else config,
            run,
            resume=resume,
            reporter=TqdmReporter(),
            tensorboard=tensorboard,
            strategy=distribution,
            source=source,
        )
    click.echo(
        f"Model {name!r}: {state.stopped}; best validation perplexity "
        f"{state.best_valid_ppl:.2f}. Talk to it: chatbot chat --model {name}"
    )


@cli.command("eval")
@click.option("--model", "model_name", required=True, help="A registered model name or folder.")
@click.option("--corpus", help="Corpus to measure (default: the model's own, when registered).")
@click.option(
    "--split", type=click.Choice(["train", "valid", "test"]), default="test", show_default=True
)
@click.option("--limit", type=click.IntRange(min=1), help="Measure only the first N conversations.")
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="Also fit and score a Kneser-Ney trigram on the corpus's training split.",
)
@click.option(
    "--replies/--no-replies",
    default=True,
    show_default=True,
    help="Also generate a reply (greedy) to every exchange: distinct-n, generic-reply rate.",
)
@click.option(
    "--probe",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Probe JSONL (scripts/make_probe_corpus.py): accuracy carried vs reset instead.",
)
@click.option(
    "--recall",
    type=click.IntRange(1, 100_000),
    help="Recall in chat instead: N held-out conversations that state a fact and ask for "
    "it 1-4 exchanges later, with the state carried, reset, and another conversation's.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@db_option
def evaluate(
    model_name: str,
    corpus: str | None,
    split: str,
    limit: int | None,
    baseline: bool,
    replies: bool,
    probe: Path | None,
    recall: int | None,
    as_json: bool,
    db: Path | None,
) -> None:
    """Measure what the remembered state is worth on a corpus split.

    \b
    Word perplexity of the real replies, overall and by turn position (1, 2,
    3, 4+), with the encoder state
      carried   from the conversation's earlier turns (as trained),
      reset     to zeros every exchange,
      shuffled  taken from another conversation's earlier turns;
    a Kneser-Ney trigram baseline on the same tokens; and on the bot's own
    greedy replies: distinct-1/2, the share of the 10 most frequent replies,
    and the average length. Test dialogues that also occur in the training
    split are left out. With --probe: context-probe accuracy carried vs reset.

    \b
    Examples:
      chatbot eval --model dd --split test
      chatbot eval --model dd --limit 200 --no-replies --json
      chatbot eval --model probe-model --probe probe.jsonl --json
      chatbot eval --model starter --recall 200
    """
    import json

    from ..bot import Chatbot
    from ..evaluation.reports import corpus_report, load_probe, probe_report

    with open_store(db) as store:
        bot = Chatbot.load(model_name, db=store.path)
        if probe:
            report = probe_report(bot, load_probe(probe))
        elif recall:
            from ..evaluation.recall import recall_in_chat

            report = recall_in_chat(bot, recall, progress=_progress("recall", recall))
        else:
            corpus = corpus or store.model(model_name).corpus
            if "+" in corpus:
                raise click.UsageError(
                    f"model {model_name!r} was trained on a mix ({corpus}); "
                    "pass --corpus with one of them"
                )
            report = corpus_report(
                bot, store, corpus, split, limit, baseline, replies, progress=_progress
            )
    if as_json:
        click.echo(json.dumps({"model": model_name, **report}))
    elif recall:
        _print_recall_report(report)
    elif probe:
        click.echo(
            f"probe accuracy over {report['conversations']} conversations: carried "
            f"{report['carried']:.1%}, reset {report['reset']:.1%}, chance {report['chance']:.1%}"
        )
    else:
        _print_corpus_report(report)


def _print_recall_report(report: dict) -> None:
    click.echo(f"recall in chat, {report['conversations']} held-out conversations:")
    keys = sorted(report["carried"], key=lambda k: (k != "all", k))
    for key in keys:
        cells = [
            f"{c} {report[c][key]['rate']:6.1%}"
            for c in ("carried", "reset", "other")
            if key in report.get(c, {})
        ]
        click.echo(f"  {key:<16} " + "  ".join(cells) + f"  (of {report['carried'][key]['of']})")


def _progress(label: str, total: int):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit=" conv", disable=None, leave=False)
    return bar.update


def _print_corpus_report(report: dict) -> None:
    model = report["model"]
    click.echo(
        f"{report['corpus']} {report['split']}: {report['conversations']:,} conversations, "
        f"{model['carried']['tokens']:,} reply tokens "
        f"({report['left_out_duplicates_of_train']} duplicates of training dialogues left out)"
    )
    rows: list[tuple[str, ...]] = [("perplexity", "all", "turn 1", "turn 2", "turn 3", "turn 4+")]
    named = [(f"state {c}", model[c]) for c in ("carried", "reset", "shuffled")]
    if "kneser_ney_trigram" in report:
        named.append(("KN trigram", report["kneser_ney_trigram"]))
    for name, r in named:
        rows.append((name, f"{r['perplexity']:.2f}", *(f"{v:.2f}" for v in r["by_turn"].values())))
    _print_table(rows)
    if "replies" in report:
        click.echo("")
        rows = [
            ("replies", "distinct-1", "distinct-2", "top-10 share", "avg length", "F1", "BLEU-2")
        ]
        for name in ("replies", "references"):
            r = report[name]
            against_human = (
                ("-", "-") if "f1" not in r else (f"{r['f1']:.3f}", f"{r['bleu_2']:.3f}")
            )
            rows.append(
                (
                    "bot (greedy)" if name == "replies" else "human",
                    f"{r['distinct_1']:.3f}",
                    f"{r['distinct_2']:.3f}",
                    f"{r['generic_rate']:.1%}",
                    f"{r['average_length']:.1f}",
                    *against_human,
                )
            )
        _print_table(rows)
        top = "; ".join(f'"{printable(r)}"' for r in report["replies"]["top_replies"])
        click.echo(f"most frequent bot replies: {top}")
