"""Adam with TensorFlow's fused update kernel.

Keras 3's Adam updates a weight in about ten elementwise ops, each a pass
over the weight and its two moments: a fixed cost that a short window (bptt
1) pays for every exchange. `ResourceApplyAdam` does the same arithmetic in
one pass (docs/architecture.md, "Fast paths"). The variables (and so
checkpoints) are Keras's own; only the update differs, and it is the same formula:

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    w <- w - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
"""

from __future__ import annotations

from .._tf import keras, tf


class FusedAdam(keras.optimizers.Adam):
    def update_step(self, gradient, variable, learning_rate):
        # Under a tf.distribute strategy the variables are mirrored; Keras's
        # own update knows how to write every copy.
        if self.amsgrad or tf.distribute.has_strategy():
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        i = self._get_variable_index(variable)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[i].handle,
            v=self._velocities[i].handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )
