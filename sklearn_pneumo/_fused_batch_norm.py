"""Batch normalisation in one fused kernel, for the CNN's feature maps."""

import keras


@keras.saving.register_keras_serializable(package="sklearn_pneumo")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' ``BatchNormalization`` computed by TensorFlow's fused kernel.

    Keras 3 normalises with separate operations (the batch moments, then the
    scale and shift), each one a pass over the feature map, and upcasts
    bfloat16 maps to float32 first. On a CPU that is several times slower
    than the convolution before it. This layer computes the same function
    with ``FusedBatchNormV3``, one pass forward and one backward, in the
    input's own dtype; the statistics stay float32.

    The arguments, weights and moving-average updates are those of
    ``keras.layers.BatchNormalization``; outputs agree within float rounding.
    Inputs that the fused kernel does not take (not 4-D channels-last, a
    mask, ``renorm``, a backend other than TensorFlow) use Keras' own code.
    Saved models name this class, so loading them needs ``sklearn_pneumo``
    imported (``load_model`` does that).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pneumo import FusedBatchNormalization
    >>> x = np.random.default_rng(0).normal(3, 2, (8, 5, 5, 4)).astype("float32")
    >>> y = FusedBatchNormalization()(x, training=True)
    >>> bool(abs(float(y.numpy().mean())) < 1e-4), bool(abs(y.numpy().std() - 1) < 1e-3)
    (True, True)
    """

    def _fusable(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not getattr(self, "renorm", False)  # not in Keras 3.8
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        scale = self.gamma if self.scale else tf.ones_like(self.moving_mean)
        offset = self.beta if self.center else tf.zeros_like(self.moving_mean)
        if training and self.trainable:
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs, scale, offset, epsilon=self.epsilon, is_training=True
            )[:3]
            # The kernel returns the unbiased variance; Keras averages the
            # biased one (the one it normalises with).
            # (With one value per channel that is 0, where the kernel's is NaN.)
            n = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], variance.dtype)
            variance = tf.where(n > 1, variance * (n - 1) / n, tf.zeros_like(variance))
            self.moving_mean.assign(
                self.moving_mean * self.momentum + mean * (1.0 - self.momentum)
            )
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
            )
        else:
            outputs = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                scale,
                offset,
                mean=self.moving_mean,
                variance=self.moving_variance,
                epsilon=self.epsilon,
                is_training=False,
            )[0]
        return tf.cast(outputs, self.compute_dtype)
