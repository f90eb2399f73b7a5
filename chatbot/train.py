"""`train()`: prepare a model folder (or reopen one to resume), run the Trainer
(trainer.py), and register the model and its metrics in the store.

Under a multi-worker strategy every worker runs this; only the chief writes
the model folder and the store.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ._tf import tf
from .checkpoint import ModelDir
from .config import Config
from .distribute import Placement
from .errors import StoreError
from .progress import Reporter, Silent, TrainState
from .shards import ShardCorpus
from .store import Store
from .trainer import Trainer
from .vocab import Vocab


def models_root(store: Store) -> Path:
    """Model folders live next to the database."""
    return store.path.parent / "models"


def train(
    store: Store,
    corpus: str,
    name: str,
    config: Config,
    resume: bool = False,
    reporter: Reporter | None = None,
    tensorboard: bool = False,
    epochs: int | None = None,
    checkpoint_every: int = 50,
    strategy: tf.distribute.Strategy | None = None,
    source: ShardCorpus | None = None,
) -> TrainState:
    """Train (or with `resume`, continue) model `name` on `corpus`, and register it.

    With `resume`, the saved config is used; `epochs` may raise its epoch budget.
    Under a multi-worker `strategy` only the chief writes the folder and the store.
    The conversations come from the store, or from TFRecord shards (`source`).
    """
    data: Store | ShardCorpus = source or store
    chief = Placement.of(strategy).is_chief
    model_dir = ModelDir(models_root(store) / name)
    if resume:
        if not model_dir.exists():
            raise StoreError(f"no model {name!r} to resume in {model_dir.path}")
        config, vocab = model_dir.load()
        if epochs:
            config = config.replace(epochs=epochs)
        prefix, saved = model_dir.read_state("last")
        trainer = Trainer(config, vocab, strategy)
        carried = trainer.restore(prefix)
        state = TrainState(**saved)
        if state.epoch < config.epochs and state.bad_epochs < config.patience:
            state.stopped = None  # more epochs were asked for
    else:
        if chief and model_dir.exists():
            raise StoreError(
                f"model {name!r} exists in {model_dir.path}; use --resume to continue "
                "it, or choose another --name"
            )
        data.corpus(corpus)  # a clear error for an unknown corpus
        if not data.exchange_count(corpus, "train"):
            raise StoreError(
                f"corpus {corpus!r} has no training conversations of two or more utterances"
            )
        texts = (t for conv in data.iter_conversations(corpus, "train") for t in conv)
        vocab = Vocab.build(texts, config.vocab_size, config.min_count)
        if chief:
            model_dir.create(config, vocab)
        trainer, state = Trainer(config, vocab, strategy), TrainState()
        carried = trainer.zero_state()
    with tempfile.TemporaryDirectory(prefix="chatbot-worker-") as scratch:
        if not chief:  # checkpoints are written by every worker but kept by the chief only
            model_dir = ModelDir(Path(scratch) / name)
            model_dir.create(config, vocab)
        else:
            store.register_model(
                name, corpus, str(model_dir.path), config.to_json(), {"status": "training"}
            )
        log_dir = str(model_dir.logs) if tensorboard and chief else None
        state = trainer.fit(
            data,
            corpus,
            model_dir,
            state,
            carried,
            reporter or Silent(),
            checkpoint_every,
            log_dir,
        )
    if chief:
        metrics = {
            "best_valid_ppl": state.best_valid_ppl,
            "epochs": state.epoch,
            "steps": state.step,
            "stopped": state.stopped,
            "history": state.history,
        }
        store.register_model(name, corpus, str(model_dir.path), config.to_json(), metrics)
    return state
