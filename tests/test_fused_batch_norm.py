"""FusedBatchNormalization computes Keras' BatchNormalization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sklearn_pneumo import FusedBatchNormalization, build_cnn


def _pair(shape, dtype="float32", axis=-1, **kwargs):
    """A Keras and a fused layer, built, with the same non-trivial weights."""
    layers = []
    kwargs["axis"] = axis
    for cls in (keras.layers.BatchNormalization, FusedBatchNormalization):
        layer = cls(dtype=dtype, **kwargs)
        layer.build(shape)
        channels = shape[axis]
        if layer.scale:
            layer.gamma.assign(np.linspace(0.5, 2.0, channels))
        if layer.center:
            layer.beta.assign(np.linspace(-1.0, 1.0, channels))
        layers.append(layer)
    return layers


def _outputs_and_gradients(layer, x):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, "float32") ** 3)
    grads = tape.gradient(loss, [x, *layer.trainable_variables])
    return y.numpy(), [g.numpy() for g in grads]


@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False)])
def test_training_step_matches_keras(center, scale):
    x = np.random.default_rng(0).normal(1.0, 3.0, (6, 9, 7, 5)).astype("float32")
    keras_bn, fused = _pair(x.shape, center=center, scale=scale, momentum=0.9)
    y_keras, grads_keras = _outputs_and_gradients(keras_bn, x)
    y_fused, grads_fused = _outputs_and_gradients(fused, x)
    np.testing.assert_allclose(y_fused, y_keras, atol=1e-5)
    for g_fused, g_keras in zip(grads_fused, grads_keras):
        np.testing.assert_allclose(g_fused, g_keras, rtol=1e-4, atol=1e-4)
    # Moving statistics follow Keras (the biased batch variance), so
    # inference afterwards agrees too.
    np.testing.assert_allclose(fused.moving_mean, keras_bn.moving_mean, atol=1e-6)
    np.testing.assert_allclose(
        fused.moving_variance, keras_bn.moving_variance, rtol=1e-6
    )
    np.testing.assert_allclose(
        fused(x, training=False), keras_bn(x, training=False), atol=1e-5
    )


def test_one_value_per_channel_keeps_moving_variance_finite():
    x = np.ones((1, 1, 1, 3), dtype="float32")
    keras_bn, fused = _pair(x.shape)
    keras_bn(x, training=True)
    fused(x, training=True)
    assert np.all(np.isfinite(fused.moving_variance))
    np.testing.assert_allclose(fused.moving_variance, keras_bn.moving_variance)


def test_bfloat16_policy_keeps_dtypes_and_values():
    x = np.random.default_rng(1).normal(0.0, 2.0, (4, 8, 8, 6)).astype("float32")
    keras_bn, fused = _pair(x.shape, dtype="mixed_bfloat16")
    xb = tf.cast(x, "bfloat16")
    y_keras = keras_bn(xb, training=True)
    y_fused = fused(xb, training=True)
    assert y_fused.dtype == y_keras.dtype == tf.bfloat16
    assert fused.moving_mean.dtype == "float32"
    # One bfloat16 rounding step apart at most (8 bits of mantissa).
    np.testing.assert_allclose(
        tf.cast(y_fused, "float32"), tf.cast(y_keras, "float32"), rtol=2**-7, atol=2**-7
    )


def test_inputs_the_kernel_does_not_take_use_keras_code():
    x = np.random.default_rng(2).normal(size=(5, 3)).astype("float32")
    keras_bn, fused = _pair(x.shape)
    np.testing.assert_allclose(fused(x, training=True), keras_bn(x, training=True))
    x4 = np.random.default_rng(3).normal(size=(2, 3, 4, 5)).astype("float32")
    keras_bn, fused = _pair(x4.shape, axis=1)
    np.testing.assert_allclose(
        fused(x4, training=True), keras_bn(x4, training=True), atol=1e-6
    )


def test_network_with_batch_norm_saves_and_loads(tmp_path):
    model = build_cnn(input_shape=(20, 20, 1), batch_norm=True, filters=4)
    x = np.random.default_rng(4).random((3, 20, 20, 1)).astype("float32")
    path = tmp_path / "net.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.layers[1], FusedBatchNormalization)
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x))
