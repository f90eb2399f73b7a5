"""The Trainer: a model, its optimizer, and the compiled training and evaluation
steps over windows of conversation streams; checkpoints of all of it.

`loop.run_epochs()` drives it epoch by epoch. Under a tf.distribute strategy
each replica steps on its own share of the conversations (distribute.py).

Resuming is exact: the last checkpoint holds the weights, the optimizer, the
carried state and the data cursor (windows done in the epoch); the epoch's
shuffle depends only on (seed, epoch), so the same windows come back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from .._tf import keras, tf
from ..config import Config, RunConfig
from ..encoding import encoded_conversations
from ..model import Seq2Seq, State, derive_noise, masked_loss_sum
from ..model_folder import ModelDir
from ..vocab import Slots, Vocab
from .average import WeightAverage
from .distribute import Placement, gather_rows, per_replica, share
from .optim import FusedAdam
from .streams import ConversationSource, Window, bucketed, windows
from .train_state import TrainState


class Trainer:
    """A model, its optimizer and the two compiled steps (train, evaluate)."""

    def __init__(
        self,
        config: Config,
        run: RunConfig,
        vocab: Vocab,
        strategy: tf.distribute.Strategy | None = None,
    ):
        keras.utils.set_random_seed(run.seed)
        tf.config.experimental.enable_op_determinism()  # resume must reproduce a run
        # One device is TensorFlow's default strategy: one replica, one code path.
        strategy = strategy or tf.distribute.get_strategy()
        default = not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()
        self.config, self.run, self.vocab, self.strategy = config, run, vocab, strategy
        self.slot_rule = Slots.for_model(vocab, config)  # each conversation starts from it
        self.placement = Placement.of(strategy)
        self.projection_dtype = projection_dtype(run)
        self.local_batch = self.placement.check(run.batch_size)
        with strategy.scope():
            self.model = Seq2Seq(config, len(vocab))
            self.model.build_weights()
            # Clipping is done in the step, on the gradient summed over replicas.
            self.optimizer = FusedAdam(run.learning_rate)
            self.optimizer.build(self.model.trainable_variables)
            b, h = run.batch_size, config.hidden_units
            # Checkpointed copies of the carried state of all slots (the steps pass tensors).
            self.carried = [
                tf.Variable(tf.zeros([b, h]), trainable=False) for _ in range(config.state_size)
            ]
            # Validation, the best checkpoint and chat use this average.
            self.average = WeightAverage(self.model.trainable_variables, run.weight_average)
        self.checkpoint = tf.train.Checkpoint(
            model=self.model.checkpointable(),
            optimizer=self.optimizer,
            carried=self.carried,
            average=self.average.values,
        )
        # Windows vary in steps (a batch's longest conversation) and in length.
        window_spec = [tf.TensorSpec([b, None, None], tf.int32)] * 3 + [
            tf.TensorSpec([b, None], tf.float32)
        ]
        state_spec = [tf.TensorSpec([b, h], tf.float32)] * config.state_size
        self.eval_step = tf.function(self._forward, input_signature=[*window_spec, state_spec])
        # The default strategy (one device) passes plain tensors: one trace serves
        # every window, not a first trace for the first window's shapes and then a
        # general one. Per-replica values take no input signature: their shapes
        # generalise after a retrace.
        self.compiled_step = tf.function(
            self._distributed_step,
            input_signature=[*window_spec, state_spec] if default else None,
            reduce_retracing=True,
        )
        self.gather = tf.function(
            lambda state: strategy.run(gather_rows, args=(state, self.local_batch, run.batch_size))
        )

    def _forward(self, source, target_in, target_out, reset, state: State, noise=None):
        """Run a window's exchanges; return (summed loss, target tokens, state after them).
        `noise` (a stateless seed) turns dropout on: training only.

        Only the encoder is sequential across exchanges: a decoder starts from the
        state its utterance left and attends over that utterance, and its own state
        goes nowhere. So the encoder reads the utterances in turn, and the decoders
        run side by side, all of a span's exchanges as one batch (one projection
        over all their tokens). With the window in two spans, the first span's
        decoders run on one core while the encoder reads the second span on the
        other (TensorFlow runs independent ops at once: inter-op threads).
        """
        steps = tf.shape(source)[1]
        loss_sum, tokens = tf.constant(0.0), tf.constant(0.0)
        dtype = tf.float32 if noise is None else self.projection_dtype  # evaluation: float32
        # Two spans: the fastest split measured (docs/architecture.md, "Fast paths").
        bounds = [0, steps // 2, steps]
        for span, (start, stop) in enumerate(zip(bounds, bounds[1:], strict=False)):
            memory, starts, state = self._read_span(source, reset, state, start, stop)
            target_in_rows = _rows(target_in[:, start:stop], True)
            hidden, _ = self.model.decode(target_in_rows, starts, memory, derive_noise(noise, span))
            target_rows = _rows(target_out[:, start:stop], True)
            span_loss, span_tokens = masked_loss_sum(self.model, hidden, target_rows, dtype)
            loss_sum, tokens = loss_sum + span_loss, tokens + span_tokens
        return loss_sum, tokens, state

    def _read_span(self, source, reset, state: State, start, stop):
        """The encoder over exchanges start..stop-1: (memory, state before each decoder,
        as rows [exchange * batch, ...]) and the state after the last one."""
        # This replica's rows (a trainer's batch is fixed, so the shape is static).
        b, h, width = source.shape[0], self.config.hidden_units, self.config.max_len
        # Static element shapes (utterances padded to max_len), so an empty span stacks.
        states = [tf.TensorArray(tf.float32, stop - start, element_shape=[b, h]) for _ in state]
        outputs = tf.TensorArray(tf.float32, stop - start, element_shape=[b, width, h])
        masks = tf.TensorArray(tf.bool, stop - start, element_shape=[b, width])
        pad = [[0, 0], [0, width - tf.shape(source)[2]]]
        # A graph loop, not a Python one: windows have any number of steps, and
        # one compiled step serves them all.
        for k in tf.range(start, stop):
            state = self.model.carry(state, 1.0 - reset[:, k : k + 1])
            (read, mask), state = self.model.read(source[:, k], state)
            outputs = outputs.write(k - start, tf.pad(read, [*pad, [0, 0]]))
            masks = masks.write(k - start, tf.pad(mask, pad))
            states = [ta.write(k - start, x) for ta, x in zip(states, state, strict=True)]
        memory = (_rows(outputs.stack()), _rows(masks.stack()))
        return memory, [_rows(ta.stack()) for ta in states], state

    def _replica_step(self, source, target_in, target_out, reset, state: State):
        """This replica's window: one optimizer step (all replicas step together)."""
        # Dropout masks depend on (seed, step) alone, so a resumed run repeats them.
        noise = tf.stack(
            [tf.constant(self.run.seed, tf.int64), tf.cast(self.optimizer.iterations, tf.int64)]
        )
        loss_sum, tokens, state, grads = self.gradients(
            source, target_in, target_out, reset, state, noise
        )
        self._apply(grads)
        # A conversation longer than the window goes on in the next one with its
        # state, but gradients stop here (truncated BPTT).
        return loss_sum, tokens, [tf.stop_gradient(s) for s in state]

    def _distributed_step(self, *args):
        """Every replica's `_replica_step`, then the weight average (cross-replica)."""
        out = self.strategy.run(self._replica_step, args=args)
        self.average.update(self.optimizer.iterations)  # cross-replica: every copy alike
        return out

    def gradients(self, source, target_in, target_out, reset, state, noise=None):
        """(summed loss, tokens, state after the window, gradients of the loss)."""
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss_sum, tokens, state = self._forward(
                source, target_in, target_out, reset, state, noise
            )
            # The mean over the window's target tokens, as a language model's
            # batch: the gradient's scale (and so the clip) does not depend on
            # how long the batch's conversations are. An all-padding window (a
            # replica whose share has run out) gives zero gradients.
            loss = loss_sum / tf.maximum(tokens, 1.0)
        return loss_sum, tokens, state, tape.gradient(loss, variables)

    def _apply(self, grads: list) -> None:
        """Sum over replicas, clip, and take one optimizer step."""
        variables = self.model.trainable_variables
        # Dense: the norm of the embedding's sparse gradient would count a word
        # seen twice in a batch as two entries, not one.
        grads = [tf.convert_to_tensor(g) for g in grads]
        grads = tf.distribute.get_replica_context().all_reduce("sum", grads)
        grads, _ = tf.clip_by_global_norm(grads, self.run.clip_norm)
        # Keras sums the replicas' gradients once more (one replica: no change).
        grads = [g / self.placement.replicas for g in grads]
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))

    def zero_state(self) -> State:
        """The carried state of this process's slots (per replica under a strategy)."""
        zeros = self.model.zero_state(self.local_batch)
        return [self._per_replica([z] * len(self.placement.local_ids)) for z in zeros]

    def _per_replica(self, values: list):
        return per_replica(self.strategy, self.placement, values)

    def step(self, windows: list[Window], carried: State) -> tuple[float, int, State]:
        """One step on one window per local replica; (loss summed, tokens) over all replicas."""
        fields = ("source", "target_in", "target_out", "reset")
        args = [self._per_replica([getattr(w, f) for w in windows]) for f in fields]
        loss, tokens, carried = self.compiled_step(*args, carried)
        total = [self.strategy.reduce("sum", x, axis=None) for x in (loss, tokens)]
        return float(total[0]), int(total[1]), carried

    def train_streams(
        self, store: ConversationSource, corpus: str, epoch: int
    ) -> list[Iterator[Window]]:
        """One window stream per local replica, over that replica's share of conversations."""
        c, r, p = self.config, self.run, self.placement
        streams = []
        for replica in p.local_ids:
            texts = share(store.iter_conversations(corpus, "train"), replica, p.replicas)
            convs = encoded_conversations(texts, self.vocab, c.max_len, self.slot_rule)
            key = [r.seed, epoch] if p.replicas == 1 else [r.seed, epoch, replica]
            rng = np.random.default_rng(key)
            batches = bucketed(convs, self.local_batch, rng)
            streams.append(windows(batches, self.local_batch, r.bptt, r.chain, rng))
        return streams

    def eval_stream(self, store: ConversationSource, corpus: str, split: str) -> Iterator[Window]:
        """All of a split's conversations in full batches, in a fixed order."""
        c = self.config
        convs = encoded_conversations(
            store.iter_conversations(corpus, split), self.vocab, c.max_len, self.slot_rule
        )
        r = self.run
        rng = np.random.default_rng([r.seed, 0])
        return windows(bucketed(convs, r.batch_size, rng), r.batch_size, r.bptt)

    def evaluate(
        self, store: ConversationSource, corpus: str, split: str = "valid"
    ) -> tuple[float, int]:
        """(summed loss, tokens) over a split, state carried as in training (every worker
        measures the whole split, so all take the same early-stopping decision)."""
        state, loss_sum, tokens = self.model.zero_state(self.run.batch_size), 0.0, 0
        for w in self.eval_stream(store, corpus, split):
            step_loss, step_tokens, state = self.eval_step(
                w.source, w.target_in, w.target_out, w.reset, state
            )
            loss_sum += float(step_loss)
            tokens += int(step_tokens)
        return loss_sum, tokens

    def save(self, model_dir: ModelDir, which: str, state: TrainState, carried: State) -> None:
        """Checkpoint with the state of every slot; under a strategy every worker calls this
        (gathering the state is collective) and `model_dir` is a scratch copy off the chief."""
        gathered = self.gather(carried)  # the replicas' slots, in global order
        carried = [self.strategy.experimental_local_results(s)[0] for s in gathered]
        for var, value in zip(self.carried, carried, strict=True):
            var.assign(value)
        model_dir.write_checkpoint(which, self.checkpoint.write, dataclasses.asdict(state))

    def restore(self, prefix: str) -> State:
        status = ModelDir.read_tf(self.checkpoint, prefix, len(self.vocab))
        if any(name.startswith("average/") for name, _ in tf.train.list_variables(prefix)):
            status.assert_existing_objects_matched()
        else:  # saved before weight averaging: the average starts from the weights
            status.expect_partial()
            self.average.restart()
        carried = [tf.convert_to_tensor(v) for v in self.carried]
        b = self.local_batch
        return [
            self._per_replica([s[r * b : (r + 1) * b] for r in self.placement.local_ids])
            for s in carried
        ]


def _rows(x: tf.Tensor, batch_major: bool = False) -> tf.Tensor:
    """[steps, batch, ...] (or [batch, steps, ...]) -> [steps * batch, ...]."""
    if batch_major:
        x = tf.transpose(x, [1, 0, *range(2, len(x.shape))])
    return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))


def projection_dtype(run: RunConfig) -> tf.DType:
    """The dtype the vocabulary projection's matmuls take in training (config.py)."""
    if run.matmul_precision == "auto":
        return tf.bfloat16 if fast_bfloat16() else tf.float32
    return getattr(tf, run.matmul_precision)


def fast_bfloat16() -> bool:
    """Whether this machine multiplies bfloat16 matrices fast: a GPU, or a CPU with
    AMX or AVX512-BF16 (which TensorFlow's oneDNN kernels use). Elsewhere bfloat16
    is emulated and slower than float32."""
    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line.split() for line in info if line.startswith("flags")), [])
    except OSError:  # not Linux
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
