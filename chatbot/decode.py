"""Turning an encoder state into a reply, in one compiled call per reply.

The loop over words runs inside a `tf.function` (a `tf.while_loop` after
AutoGraph), so a reply costs one call from Python, not one per word. Each
function is traced once per Decoder, with the state's shape fixed.
"""

from __future__ import annotations

from ._tf import tf
from .model import Seq2Seq, State
from .vocab import END_ID, START_ID


class Decoder:
    """Greedy decoding and state updates for one conversation (batch of 1)."""

    def __init__(self, model: Seq2Seq, max_reply_length: int):
        self.model = model
        self.max_reply_length = max_reply_length
        state_spec = [
            tf.TensorSpec([1, model.config.hidden_units], tf.float32)
        ] * model.config.state_size
        self.encode = tf.function(
            model.encode, input_signature=[tf.TensorSpec([1, None], tf.int32), state_spec]
        )
        self.greedy = tf.function(self._greedy, input_signature=[state_spec])

    def _greedy(self, state: State) -> tf.Tensor:
        """Token ids of the most likely reply, ending with <end> if it was produced."""
        token = tf.fill([1, 1], START_ID)
        out = tf.TensorArray(tf.int32, size=self.max_reply_length)
        length = tf.constant(0)
        for i in tf.range(self.max_reply_length):
            hidden, state = self.model.decode(token, state)
            token = tf.argmax(self.model.logits(hidden[:, -1]), axis=-1, output_type=tf.int32)[
                :, None
            ]
            out = out.write(i, token[0, 0])
            length = i + 1
            if token[0, 0] == END_ID:
                break
        return out.stack()[:length]
