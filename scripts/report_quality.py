#!/usr/bin/env python3
"""The quality experiment: does the remembered state help on real dialogue?

On DailyDialog (../shared/corpora, official split) this script trains two
models of the same size and budget, one with the state carried across
exchanges (stateful) and one with it reset every exchange (stateless), then
measures both with `chatbot eval`'s library calls (perplexity by turn position
under carried / reset / shuffled history, the Kneser-Ney trigram on the same
tokens, distinct-n and the generic-reply rate), trains and scores a small
model on the context probe, and writes

    docs/results.json          everything measured, with the configs
    docs/results.md            the tables
    docs/perplexity_by_turn.png  (when matplotlib is installed: pip install -e ".[report]")

Models live in --workdir and are reused on a second run (training resumes
where it stopped), so the report can be regenerated without retraining.

usage: python scripts/report_quality.py [--epochs 10] [--workdir report-work] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import fields
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
DAILYDIALOG = ROOT.parent / "shared" / "corpora" / "dailydialog"


def train_once(store, corpus: str, name: str, config, run, reporter) -> dict:
    """Train `name` unless a finished one is in the store; resume an unfinished one."""
    from chatbot.model_folder import ModelDir
    from chatbot.training.loop import train

    folder = ModelDir(store.models_folder / name)
    if folder.exists():
        # The defaults may have changed since: then the cache is another recipe.
        saved, _ = folder.load()
        saved_run = folder.run_config().replace(epochs=run.epochs)
        changed = [
            f.name
            for new, old in ((config, saved), (run, saved_run))
            for f in fields(new)
            if getattr(old, f.name) != getattr(new, f.name)
        ]
        if changed:
            sys.exit(
                f"{folder.path} was trained with other settings ({', '.join(changed)}); "
                "delete the --workdir folder to retrain"
            )
        metrics = store.model(name).metrics
        if metrics.get("status") != "training" and metrics.get("epochs", 0) >= run.epochs:
            return metrics
        train(store, corpus, name, run=saved_run, resume=True, reporter=reporter)
    else:
        train(store, corpus, name, config, run, reporter=reporter)
    return store.model(name).metrics


def settings(config, run) -> dict:
    """Both configs as one dict, as results.json keeps them."""
    return {**json.loads(config.to_json()), **json.loads(run.to_json())}


def probe_experiment(store, workdir: Path, seed: int, reporter) -> dict:
    """A small model (the context test's sizes, default settings) trained on 600
    probes of every kind, scored per kind on 200 held-out ones."""
    from chatbot import Chatbot
    from chatbot.config import Config, RunConfig
    from chatbot.evaluation.probe import KINDS, probe_corpus
    from chatbot.evaluation.reports import probe_report
    from chatbot.ingest import ingest

    config = Config(embed_dim=32, hidden_units=128, max_len=12)
    run = RunConfig(batch_size=32, epochs=40, seed=seed)
    mix = [c for i, k in enumerate(KINDS) for c in probe_corpus(600, seed + 1 + i, k)]
    path = workdir / "probe.jsonl"
    path.write_text("\n".join(json.dumps(c.to_json()) for c in mix))
    ingest(store, path, name="probe")
    train_once(store, "probe", "probe", config, run, reporter)
    bot = Chatbot.load("probe", db=store.path)
    kinds = {k: probe_report(bot, probe_corpus(200, seed + 99, k)) for k in KINDS}
    return {"kinds": kinds, "config": settings(config, run)}


def chat_default_report(bot, store, seed: int) -> dict:
    """Replies to the test split as `chatbot chat` decodes by default (sampling, its
    draws seeded), scored against the human replies like greedy's."""
    from chatbot.evaluation.reply_metrics import reply_metrics
    from chatbot.evaluation.reports import generate_replies, split_conversations

    convs, _ = split_conversations(
        store, "dd", "test", bot.vocab, bot.config.max_len, rule=bot.slots
    )
    chat = bot.fork(bot.chat_decoding)
    replies = generate_replies(chat, convs, progress("chat replies", len(convs)), seed)
    humans = [bot.vocab.decode(ex.target) for conv in convs for ex in conv if ex.learn]
    metrics = reply_metrics(replies, humans)
    keys = ("distinct_1", "distinct_2", "generic_rate", "f1", "bleu_2", "average_length")
    return {"decoding": bot.chat_decoding, **{k: metrics[k] for k in keys}}


def progress(label: str, total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit=" conv", leave=False).update


def run(args) -> dict:
    from chatbot import Chatbot
    from chatbot.config import Config, RunConfig
    from chatbot.evaluation.reports import corpus_report
    from chatbot.ingest import ingest
    from chatbot.progress import TqdmReporter
    from chatbot.store import Store

    config = Config()  # the reference shape and defaults
    run_config = RunConfig(epochs=args.epochs, seed=args.seed)
    args.workdir.mkdir(parents=True, exist_ok=True)
    store = Store(args.workdir / "report.db")
    ingest(store, DAILYDIALOG, name="dd")
    result: dict = {"corpus": "dailydialog (official split)", "models": {}}
    for name, remember in (("stateful", True), ("stateless", False)):
        started = time.perf_counter()
        cfg = config.replace(remember_state=remember)
        metrics = train_once(store, "dd", name, cfg, run_config, TqdmReporter())
        bot = Chatbot.load(name, db=store.path)
        report = corpus_report(bot, store, "dd", "test", baseline=remember, progress=progress)
        if remember:
            result["kneser_ney_trigram"] = report.pop("kneser_ney_trigram")
            result["chat_default"] = chat_default_report(bot, store, args.seed)
        result["models"][name] = {
            "config": settings(cfg, run_config),
            "training": metrics,
            "hours": round((time.perf_counter() - started) / 3600, 2),
            **report,
        }
    result["probe"] = probe_experiment(store, args.workdir, args.seed, TqdmReporter())
    return result


def chat_default_only(args) -> dict:
    """results.json as it is, with `chat_default` measured anew (the decoding changed,
    the models did not)."""
    from chatbot import Chatbot
    from chatbot.store import Store

    results = args.out / "results.json"
    if not results.is_file() or not (args.workdir / "report.db").is_file():
        sys.exit(f"--chat-default-only needs {results} and the models in {args.workdir}")
    result = json.loads(results.read_text())
    store = Store(args.workdir / "report.db")
    bot = Chatbot.load("stateful", db=store.path)
    result["chat_default"] = chat_default_report(bot, store, args.seed)
    return result


def _row(name: str, r: dict) -> str:
    turns = " | ".join(f"{v:.1f}" for v in r["by_turn"].values())
    return f"| {name} | {r['perplexity']:.1f} | {turns} |"


def markdown(result: dict, plot: str | None) -> str:
    sf, sl = result["models"]["stateful"], result["models"]["stateless"]
    kn = result["kneser_ney_trigram"]
    head = "| | all turns | turn 1 | turn 2 | turn 3 | turn 4+ |\n|---|---|---|---|---|---|"
    tokens = " | ".join(f"{n:,}" for n in sf["model"]["carried"]["tokens_by_turn"].values())
    probe = result["probe"]
    lines = [
        "# Does the remembered state help? Results on DailyDialog",
        "",
        "Generated by `python scripts/report_quality.py` (do not edit by hand); the",
        "numbers come from [results.json](results.json). Test split of DailyDialog's",
        f"official split: {sf['conversations']:,} conversations, "
        f"{sf['model']['carried']['tokens']:,} reply tokens "
        f"({sf['left_out_duplicates_of_train']} test dialogues that also occur in the "
        "training split left out). Both models have the reference shape (vocabulary "
        f"{sf['config']['vocab_size']:,}, embedding {sf['config']['embed_dim']}, LSTM "
        f"{sf['config']['hidden_units']}, batch {sf['config']['batch_size']}, bptt "
        f"{sf['config']['bptt']}) and the same budget: at most {sf['config']['epochs']} "
        f"epochs, learning rate {sf['config']['learning_rate']} ({schedule(sf['config'])}), "
        "early stopping "
        f"after {sf['config']['patience']} epochs without improvement. "
        f"Stateful: {sf['training']['epochs']} epochs, {sf['hours']} h; stateless: "
        f"{sl['training']['epochs']} epochs, {sl['hours']} h, on a 2-core CPU.",
        "",
        "## Test perplexity",
        "",
        "Each model in the condition it was trained for; the Kneser-Ney trigram",
        "(interpolated, discount 0.75) predicts the reply from the previous",
        "utterance's last word on exactly the same tokens and vocabulary.",
        "",
        "| model | perplexity | vs KN trigram |",
        "|---|---|---|",
        f"| stateful (state carried) | {sf['model']['carried']['perplexity']:.2f} | "
        f"{sf['model']['carried']['perplexity'] / kn['perplexity']:.2f}x |",
        f"| stateless (state reset) | {sl['model']['reset']['perplexity']:.2f} | "
        f"{sl['model']['reset']['perplexity'] / kn['perplexity']:.2f}x |",
        f"| KN trigram | {kn['perplexity']:.2f} | 1.00x |",
        "",
        "## Perplexity by turn position",
        "",
        "Turn n is the n-th reply of a conversation. *carried*: the encoder starts",
        "from the state after the conversation's earlier turns; *reset*: from zeros;",
        "*shuffled*: from the state after the earlier turns of another test",
        "conversation of similar length (the right amount of history, the wrong",
        "content). At turn 1 there is no history, so the conditions agree.",
        "",
        head,
        _row("stateful, carried", sf["model"]["carried"]),
        _row("stateful, reset", sf["model"]["reset"]),
        _row("stateful, shuffled history", sf["model"]["shuffled"]),
        _row("stateless, reset", sl["model"]["reset"]),
        _row("stateless, carried", sl["model"]["carried"]),
        _row("KN trigram", kn),
        f"| reply tokens | | {tokens} |",
        "",
    ]
    if plot:
        lines += [f"![Perplexity by turn position]({plot})", ""]
    lines += [
        "## Context probe",
        "",
        "A synthetic check that the state carries facts: the last reply names a fact",
        "stated earlier, with distractor exchanges between (chatbot/evaluation/probe.py; kinds:",
        "colour 2-4 exchanges back, pet 1-5 with other fillers, far 6 back, two facts",
        "of which one is asked). One small model (embedding 32, hidden 128, batch 32,",
        "40 epochs, every other setting the default) trained on 600 probes of each",
        "kind, scored on 200 held-out ones of each:",
        "",
        "| kind | carried | reset every exchange | chance |",
        "|---|---|---|---|",
        *(
            f"| {k} | {r['carried']:.1%} | {r['reset']:.1%} | {r['chance']:.1%} |"
            for k, r in probe["kinds"].items()
        ),
        "",
        "## Generated replies",
        "",
        "Replies to every test exchange, each model reading the real conversation",
        "in its own mode: greedy, and the stateful model as `chatbot chat` decodes by",
        "default ("
        + ", ".join(
            f"{k.replace('_', '-')} {v}" for k, v in result["chat_default"]["decoding"].items()
        )
        + ", draws seeded); human = the",
        "corpus's own replies. F1: ParlAI's unigram F1 against the human reply;",
        "BLEU-2: nltk's corpus_bleu, smoothing method 1.",
        "",
        "| | distinct-1 | distinct-2 | top-10 reply share | F1 | BLEU-2 | average length |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in (
        ("stateful, greedy", sf["replies"]),
        ("stateful, chat default", result["chat_default"]),
        ("stateless, greedy", sl["replies"]),
        ("human", sf["references"]),
    ):
        scores = f"{r['f1']:.3f} | {r['bleu_2']:.3f}" if "f1" in r else "- | -"
        lines.append(
            f"| {name} | {r['distinct_1']:.3f} | {r['distinct_2']:.3f} | "
            f"{r['generic_rate']:.1%} | {scores} | {r['average_length']:.1f} |"
        )
    top = ", ".join(repr(r) for r in sf["replies"]["top_replies"])
    lines += ["", f"Most frequent stateful replies: {top}.", ""]
    # The ablation of model changes (issue 16) is measured run by run, not by this
    # script; its table is kept in docs/ablation.md and shown here with the rest.
    ablation = ROOT / "docs" / "ablation.md"
    if ablation.is_file():
        lines += [ablation.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install -e '.[report]')", file=sys.stderr)
        return False
    sf, sl = result["models"]["stateful"]["model"], result["models"]["stateless"]["model"]
    series = [
        ("stateful, carried", sf["carried"], "-o"),
        ("stateful, reset", sf["reset"], "--o"),
        ("stateful, shuffled history", sf["shuffled"], ":o"),
        ("stateless, reset", sl["reset"], "-s"),
        ("KN trigram", result["kneser_ney_trigram"], "-^"),
    ]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for label, r, style in series:
        ax.plot(list(r["by_turn"]), list(r["by_turn"].values()), style, label=label)
    ax.set_xlabel("turn position")
    ax.set_ylabel("test perplexity (lower is better)")
    ax.set_title("DailyDialog test: perplexity by turn position")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def schedule(config: dict) -> str:
    """The learning rate's schedule in words (`config` as results.json holds it)."""
    if config["lr_decay"] == 1.0:
        return "constant"
    # A report from before the schedule had one setting may hold the retired three.
    patience = config.get("lr_patience", 1)
    flat = "an epoch" if patience == 1 else f"{patience} epochs in a row"
    start = int(config.get("lr_decay_start", 0.0) * config["epochs"])
    held = f", never in epochs 1-{start}" if start else ""
    share = config.get("lr_floor", 0.0)
    floor = f", never below {share} of the starting rate" if share else ""
    return f"times {config['lr_decay']} after {flat} without improvement{held}{floor}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="epoch budget of each model")
    parser.add_argument("--workdir", type=Path, default=ROOT / "report-work")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--chat-default-only",
        action="store_true",
        help="re-measure only the chat decoding (the model's decoding.json, else "
        "decode.CHAT_DEFAULT) on the cached stateful model, keep the rest of results.json, "
        "and rewrite the docs",
    )
    args = parser.parse_args()
    if not DAILYDIALOG.is_dir():
        sys.exit(f"report_quality needs DailyDialog in {DAILYDIALOG}")
    result = chat_default_only(args) if args.chat_default_only else run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    png = "perplexity_by_turn.png" if plot(result, args.out / "perplexity_by_turn.png") else None
    (args.out / "results.md").write_text(markdown(result, png))
    print(json.dumps({"written": str(args.out / "results.md"), "probe": result["probe"]}))


if __name__ == "__main__":
    main()
