"""`train()`: prepare a model folder (or reopen one to resume), run epochs of
the Trainer's compiled step (steps.py), and register the model and its
metrics in the store.

Under a multi-worker strategy every worker runs this; only the chief writes
the model folder and the store.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from itertools import islice
from pathlib import Path
from typing import Any

from .._tf import tf
from ..config import Config, RunConfig
from ..errors import ModelError, StoreError, UsageError
from ..files import exclusive_lock
from ..model import State
from ..model_folder import ModelDir
from ..perplexity import perplexity
from ..progress import Reporter, Silent
from ..store import Store
from ..vocab import SPECIALS, Vocab
from . import budget
from .distribute import Placement, any_left, empty_window
from .mix import Mix
from .shards import ShardCorpus
from .steps import Trainer
from .streams import ConversationSource
from .train_state import TrainState


def train(
    store: Store,
    corpus: str,
    name: str,
    config: Config | None = None,
    run: RunConfig | None = None,
    *,
    resume: bool = False,
    reporter: Reporter | None = None,
    tensorboard: bool = False,
    checkpoint_every: int = 50,
    strategy: tf.distribute.Strategy | None = None,
    source: ShardCorpus | Mix | None = None,
) -> TrainState:
    """Train (or with `resume`, continue) model `name` on `corpus`, and register it.

    A new model gets `config` and `run` (the defaults where None). A resumed one
    keeps its saved config (`config`, if given, must be the same) and its saved run
    settings unless `run` is given: then only the settings that do not decide an
    epoch's windows may differ (`RunConfig.FIXED_ON_RESUME`).
    Under a multi-worker `strategy` only the chief writes the folder and the store.
    The conversations come from the store, or from TFRecord shards (`source`).
    """
    # One training per model folder: a second `train --name same` gets one line.
    # Only the chief writes the folder, so only the chief locks it.
    lock = store.training_lock(name)
    busy = f"model {name!r} is being trained by another process; wait for it or use another --name"
    strategy = strategy or tf.distribute.get_strategy()  # one device: the default
    chief = Placement.of(strategy).is_chief
    with exclusive_lock(lock, busy) if chief else nullcontext():
        source = source or store
        model_dir = ModelDir(store.models_folder / name)
        if chief and model_dir.exists() and model_dir.checkpoint("last") is None:
            # Stopped before its first checkpoint (Ctrl-C, kill, a full disk): no weights
            # to lose, so it starts again, with its own settings where it is resumed.
            if resume:
                saved, _ = model_dir.load()
                config, run = config or saved, run or model_dir.run_config()
            shutil.rmtree(model_dir.path)
            resume = False
        if resume:
            trainer, state, carried = _reopen(store, corpus, name, model_dir, config, run, strategy)
        else:
            trainer, state, carried = _start(
                source, corpus, name, model_dir, config or Config(), run or RunConfig(), strategy
            )
        return _run(
            store, source, corpus, name, model_dir, trainer, state, carried,
            reporter or Silent(), tensorboard, checkpoint_every,
        )  # fmt: skip


def saved_run(store: Store, name: str) -> RunConfig:
    """The run settings model `name` was last trained with (for `--resume` to change)."""
    model_dir = ModelDir(store.models_folder / name)
    if not model_dir.exists():
        raise StoreError(f"no model {name!r} to resume in {model_dir.path}")
    return model_dir.run_config()


def _reopen(
    store: Store,
    corpus: str,
    name: str,
    model_dir: ModelDir,
    config: Config | None,
    run: RunConfig | None,
    strategy: tf.distribute.Strategy,
) -> tuple[Trainer, TrainState, State]:
    """The trainer, training state and carried state of a model to resume."""
    chief = Placement.of(strategy).is_chief
    if not model_dir.exists():
        raise StoreError(f"no model {name!r} to resume in {model_dir.path}")
    trained_on = store.model(name).corpus if chief else corpus
    if trained_on != corpus:
        raise UsageError(
            f"model {name!r} was trained on corpus {trained_on!r}, not {corpus!r}; "
            f"--resume continues on the same corpus (--corpus {trained_on})"
        )
    saved, vocab = model_dir.load()
    if config is not None and config != saved:
        changed = [f for f, v in dataclasses.asdict(config).items() if getattr(saved, f) != v]
        raise UsageError(
            f"model {name!r} keeps the settings it was built with ({_changes(saved, changed)}); "
            "resume without them, or train a new --name"
        )
    before = model_dir.run_config()
    run = run or before
    fixed = [f for f in RunConfig.FIXED_ON_RESUME if getattr(run, f) != getattr(before, f)]
    if fixed:
        raise UsageError(
            f"--resume goes on with the epoch where it stopped, which {_changes(before, fixed)} "
            "decide; resume without them"
        )
    if chief:
        model_dir.write_run(run)
    prefix, kept = model_dir.read_state("last")
    trainer = Trainer(saved, run, vocab, strategy)
    carried = trainer.restore(prefix)
    if run.learning_rate != before.learning_rate:  # a new rate asked for: from now on
        trainer.optimizer.learning_rate.assign(run.learning_rate)
    try:
        state = TrainState(**kept)
    except TypeError:
        raise ModelError(f"{model_dir.path} has an unreadable training state; retrain") from None
    if state.epoch < run.epochs and state.bad_epochs < run.patience:
        state.stopped = None  # more epochs were asked for
    return trainer, state, carried


def _changes(saved: Any, names: list[str]) -> str:
    """ "--hidden-units 32, --bptt 40": the saved values of `names`, as flags."""
    return ", ".join(f"--{n.replace('_', '-')} {getattr(saved, n)}" for n in names)


def _start(
    data: ConversationSource,
    corpus: str,
    name: str,
    model_dir: ModelDir,
    config: Config,
    run: RunConfig,
    strategy: tf.distribute.Strategy,
) -> tuple[Trainer, TrainState, State]:
    """A new model folder (vocabulary built from the corpus), its trainer and zero state."""
    if Placement.of(strategy).is_chief and model_dir.exists():
        raise StoreError(
            f"model {name!r} exists in {model_dir.path}; use --resume to continue "
            "it, or choose another --name"
        )
    data.corpus(corpus)  # a clear error for an unknown corpus
    if not data.exchange_count(corpus, "train"):
        raise StoreError(
            f"corpus {corpus!r} has no training conversations of two or more utterances"
        )
    longest = 0  # exchanges of the longest conversation: the longest window

    def texts() -> Iterator[str]:
        nonlocal longest
        for conv in data.iter_conversations(corpus, "train"):
            longest = max(longest, len(conv) - 1)
            yield from conv

    vocab = Vocab.build(texts(), config.vocab_size, config.min_count, config.slots)
    if len(vocab) == len(SPECIALS) + config.slots:  # nothing to learn: NaN perplexity
        raise StoreError(
            f"corpus {corpus!r} has no words seen {config.min_count} or more times in its "
            "training split; ingest a corpus with text (or lower --min-count)"
        )
    budget.check_window_fits(config, run, len(vocab), longest, budget.available_bytes())
    if Placement.of(strategy).is_chief:
        model_dir.create(config, vocab, run)
    trainer = Trainer(config, run, vocab, strategy)
    return trainer, TrainState(), trainer.zero_state()


def _run(
    store: Store,
    data: ConversationSource,
    corpus: str,
    name: str,
    model_dir: ModelDir,
    trainer: Trainer,
    state: TrainState,
    carried: State,
    reporter: Reporter,
    tensorboard: bool,
    checkpoint_every: int,
) -> TrainState:
    """The epochs, with the store's record kept up to date by the chief."""
    chief = trainer.placement.is_chief
    config, run = trainer.config, trainer.run

    def register(state: TrainState, training: bool = True) -> None:
        """The store's record, so `chatbot models` shows a run's progress as it trains."""
        metrics = {
            "best_valid_ppl": state.best_valid_ppl,
            "epochs": state.epoch,
            "steps": state.step,
            "stopped": state.stopped,
            "history": state.history,
        }
        if training:
            metrics["status"] = "training"
        settings = {**dataclasses.asdict(config), **dataclasses.asdict(run)}
        store.register_model(name, corpus, str(model_dir.path), json.dumps(settings), metrics)

    with tempfile.TemporaryDirectory(prefix="chatbot-worker-") as scratch:
        if not chief:  # checkpoints are written by every worker but kept by the chief only
            model_dir = ModelDir(Path(scratch) / name)
            model_dir.create(config, trainer.vocab, run)
        else:
            register(state)
        log_dir = str(model_dir.logs) if tensorboard and chief else None
        state = run_epochs(
            trainer,
            data,
            corpus,
            model_dir,
            state,
            carried,
            reporter or Silent(),
            checkpoint_every,
            log_dir,
            register if chief else None,
        )
    if chief:
        register(state, training=False)
    return state


def run_epochs(
    trainer: Trainer,
    store: ConversationSource,
    corpus: str,
    model_dir: ModelDir,
    state: TrainState,
    carried: State,
    reporter: Reporter,
    checkpoint_every: int = 50,
    log_dir: str | None = None,
    on_epoch: Callable[[TrainState], None] | None = None,
) -> TrainState:
    """Epochs of windows through the trainer's compiled step: the last checkpoint
    every `checkpoint_every` windows, validation, early stopping, the best
    checkpoint and `on_epoch` after each epoch."""
    c = trainer.run
    writer = tf.summary.create_file_writer(log_dir) if log_dir else None
    # A window per batch of conversations, more for those longer than bptt: after
    # an epoch the count is known (chitchat's long chats add a third).
    guess = -(-store.conversation_count(corpus, "train") // c.batch_size)
    while state.epoch < c.epochs and not state.stopped:
        started = time.perf_counter()
        total = state.history[-1].get("windows", guess) if state.history else guess
        reporter.epoch_start(state.epoch + 1, total, state.cursor)
        streams = [
            islice(s, state.cursor, None) for s in trainer.train_streams(store, corpus, state.epoch)
        ]
        empty = empty_window(trainer.local_batch)
        while any_left(trainer.strategy, trainer.placement, ws := [next(s, None) for s in streams]):
            loss, tokens, carried = trainer.step([w or empty for w in ws], carried)
            state.cursor, state.step = state.cursor + 1, state.step + 1
            state.loss_sum += loss
            state.tokens += tokens
            reporter.window(loss, tokens)
            if writer:
                with writer.as_default():
                    tf.summary.scalar("train/loss", loss / max(tokens, 1), state.step)
            if state.cursor % checkpoint_every == 0:
                trainer.save(model_dir, "last", state, carried)
        carried = _end_epoch(
            trainer, store, corpus, model_dir, state, time.perf_counter() - started
        )
        reporter.epoch_end(state.history[-1])
        if on_epoch:
            on_epoch(state)
        if writer:
            with writer.as_default():
                tf.summary.scalar("valid/perplexity", state.history[-1]["valid_ppl"], state.epoch)
    return state


def _end_epoch(
    trainer: Trainer,
    store: ConversationSource,
    corpus: str,
    model_dir: ModelDir,
    state: TrainState,
    seconds: float,
) -> State:
    with trainer.average.applied():
        valid_loss, valid_tokens = trainer.evaluate(store, corpus, "valid")
    if not valid_tokens:  # a corpus too small for a validation split: judge on train
        valid_loss, valid_tokens = state.loss_sum, state.tokens
    valid_ppl = perplexity(valid_loss, valid_tokens)
    state.history.append(
        {
            "epoch": state.epoch + 1,
            "train_ppl": round(perplexity(state.loss_sum, state.tokens), 3),
            "valid_ppl": round(valid_ppl, 3),
            "seconds": round(seconds, 1),
            "windows": state.cursor,
            "learning_rate": float(trainer.optimizer.learning_rate.numpy()),
        }
    )
    improved = state.best_valid_ppl is None or valid_ppl < state.best_valid_ppl
    state.best_valid_ppl = valid_ppl if improved else state.best_valid_ppl
    state.bad_epochs = 0 if improved else state.bad_epochs + 1
    c = trainer.run
    if state.bad_epochs:  # a plateau: smaller steps (the rate is checkpointed with Adam)
        trainer.optimizer.learning_rate.assign(trainer.optimizer.learning_rate * c.lr_decay)
    state.epoch, state.cursor, state.loss_sum, state.tokens = state.epoch + 1, 0, 0.0, 0
    if state.bad_epochs >= c.patience:
        state.stopped = (
            f"early stopping: no better validation perplexity in {state.bad_epochs} epochs"
        )
    elif state.epoch >= c.epochs:
        state.stopped = f"finished {state.epoch} epoch{'s' if state.epoch != 1 else ''}"
    zero = trainer.zero_state()
    if improved:  # the weights that were validated: the average
        with trainer.average.applied():
            trainer.save(model_dir, "best", state, zero)
    trainer.save(model_dir, "last", state, zero)
    return zero
