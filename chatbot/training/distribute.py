"""Training on several devices or machines with tf.distribute.

    default      one device (TensorFlow's default strategy: one replica)
    mirrored     MirroredStrategy: every local GPU (or the CPU) holds a replica
    multiworker  MultiWorkerMirroredStrategy: one process per machine, the
                 cluster described by the standard TF_CONFIG environment variable

Every replica trains `batch_size / replicas` slots on its own share of the
conversations (conversation i goes to replica i mod replicas, whole), so the
carried state never has to cross machines. Gradients are summed over the
replicas, clipped, and applied by every replica alike. The replicas run in
lockstep: one whose share has run out feeds all-padding windows (no loss, no
gradient) until every replica is done.

Only the chief (worker 0, or the task of type "chief") writes the model
folder and the store; the other workers write their checkpoints to a
temporary folder, as TensorFlow's multi-worker guide asks, and drop them.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass

import numpy as np

from .._tf import tf
from ..errors import ConfigError, UsageError
from ..vocab import PAD_ID
from .streams import Window

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy for `name`; create it before any other TensorFlow work."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise UsageError(
                "--strategy multiworker needs TF_CONFIG describing the cluster, e.g. "
                'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}\''
            )
        try:
            json.loads(os.environ["TF_CONFIG"])
        except ValueError:
            raise UsageError("TF_CONFIG is not valid JSON; see README, 'Multi-worker'") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UsageError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


@dataclass(frozen=True)
class Placement:
    """Where this process sits: its replicas' global ids, and whether it is the chief."""

    replicas: int  # in the whole cluster
    local_ids: tuple[int, ...]  # global replica ids held by this process
    is_chief: bool

    @classmethod
    def of(cls, strategy: tf.distribute.Strategy) -> Placement:
        resolver = getattr(strategy, "cluster_resolver", None)
        # Without a cluster every replica is local (the default strategy lists no devices).
        local = (
            strategy.num_replicas_in_sync
            if resolver is None
            else len(strategy.extended.worker_devices)
        )
        task_type = getattr(resolver, "task_type", None)
        task_id = getattr(resolver, "task_id", None) or 0
        if resolver is None or task_type in (None, "chief"):
            first, chief = 0, True
        else:
            has_chief = "chief" in resolver.cluster_spec().as_dict()
            first = (task_id + int(has_chief)) * local
            chief = task_id == 0 and not has_chief
        return cls(strategy.num_replicas_in_sync, tuple(range(first, first + local)), chief)

    def check(self, batch_size: int) -> int:
        """The slots per replica."""
        if batch_size % self.replicas:
            raise ConfigError(
                f"batch_size must be a multiple of the {self.replicas} replicas. "
                f"Received: batch_size={batch_size}"
            )
        return batch_size // self.replicas


def localhost_tf_configs(workers: int) -> list[str]:
    """TF_CONFIG values for `workers` processes on this machine (free ports picked now)."""
    sockets = [socket.socket() for _ in range(workers)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]}
    for s in sockets:
        s.close()
    return [
        json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        for i in range(workers)
    ]


def share(conversations, replica: int, replicas: int):
    """Conversation i goes to replica i mod replicas, whole."""
    for i, conv in enumerate(conversations):
        if i % replicas == replica:
            yield conv


def empty_window(batch: int) -> Window:
    """One step of all padding, every row reset: no loss and no gradient."""
    ids = np.full((batch, 1, 1), PAD_ID, np.int32)
    return Window(ids, ids, ids, np.ones((batch, 1), np.float32))


def per_replica(strategy: tf.distribute.Strategy, placement: Placement, values: list):
    """Distributed values from one value per local replica (in `placement.local_ids` order)."""
    first = placement.local_ids[0]
    return strategy.experimental_distribute_values_from_function(
        lambda ctx: values[ctx.replica_id_in_sync_group - first]
    )


def any_left(
    strategy: tf.distribute.Strategy, placement: Placement, windows: list[Window | None]
) -> bool:
    """Whether any replica in the cluster still has a window this epoch."""
    mine = [float(w is not None) for w in windows]
    flags = per_replica(strategy, placement, [tf.constant(f) for f in mine])
    return float(strategy.reduce("sum", flags, axis=None)) > 0


def gather_rows(state: list[tf.Tensor], local_batch: int, total: int) -> list[tf.Tensor]:
    """Every replica's slots of the carried state, in global order (for checkpoints;
    run in replica context): each replica writes its rows into zeros at its offset,
    and the sum joins them."""
    ctx = tf.distribute.get_replica_context()
    first = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * local_batch
    padded = [tf.pad(s, [[first, total - first - local_batch], [0, 0]]) for s in state]
    return ctx.all_reduce("sum", padded)
