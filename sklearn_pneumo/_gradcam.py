"""Grad-CAM: which parts of an X-ray drove the network's decision."""

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.validation import check_is_fitted

from ._classifier import CNNClassifier, rows_to_images
from ._heatmaps import finished_heatmaps, scaled_by_peak
from ._steps import transform_for_prediction
from ._walk import final_step, scoring_model


def _fitted_network(final):
    """``final`` itself, checked to be a fitted CNNClassifier."""
    if not isinstance(final, CNNClassifier):
        raise TypeError(
            "Expected a CNNClassifier, a pipeline ending in one, or an ensemble "
            f"of them, got {type(final).__name__}."
        )
    check_is_fitted(final)
    return final


def _last_feature_map_layer(model):
    """The last layer whose output is a feature map of at least 2x2."""
    for layer in reversed(model.layers):
        shape = layer.output.shape
        if len(shape) == 4 and min(shape[1], shape[2]) >= 2:
            return layer
    raise ValueError(
        f"Model {model.name!r} has no convolutional feature map of 2x2 or more."
    )


def _features_and_hidden(model, feature_layer, output_layer, inputs):
    """The feature map and the output layer's input, for gradients between them.

    A Sequential network is run layer by layer, which works whether it was
    built here or loaded from a file (a loaded one's symbolic tensors do not
    connect ``model.inputs`` to its layers' outputs); other models through a
    functional sub-model.
    """
    if not isinstance(model, keras.Sequential):
        grad_model = keras.Model(
            model.inputs[0], [feature_layer.output, output_layer.input]
        )
        return grad_model(inputs, training=False)
    x, features = inputs, None
    for layer in model.layers[:-1]:
        x = layer(x, training=False)
        if layer is feature_layer:
            features = x
    return features, x


def _class_scores(output_layer, hidden):
    """Class scores before the softmax, which saturates once training is done."""
    if not isinstance(output_layer, keras.layers.Dense):
        return output_layer(hidden)
    hidden = tf.cast(hidden, tf.float32)
    kernel = tf.cast(output_layer.kernel, tf.float32)
    return hidden @ kernel + tf.cast(output_layer.bias, tf.float32)


def gradcam_heatmaps(estimator, X, *, target=None, layer=None):
    """Grad-CAM heatmaps of a fitted CNN for each input image.

    Grad-CAM (Selvaraju et al., 2017) weights the feature maps of the last
    convolution by the gradient of the target class score (before the
    softmax), keeps the positive part, and upsamples it to the input size:
    bright regions are those whose increase raises the class score most.

    Parameters
    ----------
    estimator : CNNClassifier, or Pipeline ending in one or in an ensemble
        Fitted. For a pipeline, ``X`` is what the pipeline takes (file
        paths, or images) and goes through its preprocessing steps first.
        For an ensemble (:func:`make_pneumo_ensemble`), the members'
        heatmaps of the same class are averaged.
    X : array-like
        Input of ``estimator.predict``.
    target : class label, array-like of labels, or None, default=None
        Class whose score is explained, e.g. ``1`` or ``"PNEUMONIA"``; an
        array gives one class per input. ``None`` explains each image's
        predicted class.
    layer : str or None, default=None
        Name of the Keras layer whose feature maps are weighted. ``None``
        takes the last layer whose output is a feature map of at least 2x2:
        the last convolution (after its activation) at 150x150, an earlier
        one on small inputs such as 28x28, where the last map is 1x1.

    Returns
    -------
    heatmaps : ndarray of shape (n_samples, height, width), float32
        In [0, 1], each scaled by its own maximum (all zero where no region
        raises the score), at the classifier's ``image_size_``.

    See Also
    --------
    sklearn_pneumo.plot.plot_gradcam : Draw the heatmaps over the X-rays.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pneumo import CNNClassifier, gradcam_heatmaps
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((20, 16 * 16), dtype=np.float32)
    >>> clf = CNNClassifier(epochs=1, model__filters=4, random_state=0)
    >>> clf = clf.fit(X, np.repeat([0, 1], 10))
    >>> gradcam_heatmaps(clf, X[:3]).shape
    (3, 16, 16)
    """
    rows = transform_for_prediction(scoring_model(estimator), X)
    final = final_step(estimator)
    if hasattr(final, "estimators_"):
        return _ensemble_heatmaps(final, rows, target, layer)
    classifier = _fitted_network(final)
    return _heatmaps(classifier, rows, _class_index(classifier, target), layer)


def _class_index(classifier, target):
    """The index of ``target`` among the classes (one per input for an array).

    None for the predicted class.
    """
    if target is None:
        return None
    classes = list(classifier.classes_)
    labels = np.atleast_1d(np.asarray(target, dtype=object))
    unknown = [label for label in labels if label not in classes]
    if unknown:
        raise ValueError(
            f"target {unknown[0]!r} is not one of the classes "
            f"{classifier.classes_.tolist()}."
        )
    index = np.array([classes.index(label) for label in labels])
    return int(index[0]) if np.ndim(target) == 0 else index


def _ensemble_heatmaps(ensemble, X, target, layer):
    """The members' heatmaps of one class per image, averaged and rescaled.

    Without ``target``, the class the ensemble predicts is explained.
    """
    if target is None:
        index = np.searchsorted(ensemble.classes_, ensemble.predict(X))
    else:
        index = _class_index(ensemble, target)
    maps = []
    for member in ensemble.estimators_:
        classifier = _fitted_network(final_step(member))
        rows = transform_for_prediction(member, X)
        maps.append(_heatmaps(classifier, rows, index, layer))
    return scaled_by_peak(np.mean(maps, axis=0))


def _heatmaps(classifier, rows, index, layer):
    """Grad-CAM of ``classifier`` on ``rows`` for class ``index`` (None: argmax).

    ``index`` may also hold one class index per row.
    """
    images = rows_to_images(rows, classifier.image_size_)
    model = classifier.model_
    feature_layer = (
        _last_feature_map_layer(model) if layer is None else model.get_layer(layer)
    )
    output_layer = model.layers[-1]
    inputs = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        features, hidden = _features_and_hidden(
            model, feature_layer, output_layer, inputs
        )
        scores = _class_scores(output_layer, hidden)
        if index is None:
            chosen = tf.argmax(scores, axis=1)
        else:
            chosen = tf.constant(np.broadcast_to(index, (len(images),)), tf.int64)
        score = tf.gather(scores, chosen, axis=1, batch_dims=1)
    gradients = tape.gradient(score, features)
    weights = tf.reduce_mean(tf.cast(gradients, tf.float32), axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * tf.cast(features, tf.float32), axis=-1))
    return finished_heatmaps(cams.numpy(), classifier.image_size_)


class _ClosedFormGradCAM(keras.layers.Layer):
    """Every class's Grad-CAM map from the last feature maps, in a forward pass.

    For a head of ``Flatten`` (or a global average), ReLU ``Dense`` layers
    and a final ``Dense``, the gradient of a class score with respect to
    the feature maps has a closed form: the final layer's column of that
    class, taken back through each hidden layer's active units. Grad-CAM
    needs only its spatial mean per channel, so the first hidden layer's
    kernel enters summed over places: a channels x units matrix. The
    head's layers are used as they are, so an exported graph holds their
    weights once, and no automatic differentiation is needed.
    """

    def __init__(self, hidden, output, pooled, map_shape, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.hidden, self.output_layer, self.pooled = hidden, output, pooled
        height, width, channels = map_shape
        kernel = np.asarray(hidden[0].kernel, np.float32)
        if not pooled:  # Flatten orders the units place by place
            kernel = kernel.reshape(height, width, channels, -1).sum(axis=(0, 1))
        self._channel_kernel = kernel / (height * width)

    def build(self, input_shape):
        self.channel_kernel = self.add_weight(
            shape=self._channel_kernel.shape, trainable=False, name="channel_kernel"
        )
        self.channel_kernel.assign(self._channel_kernel)

    def call(self, maps):
        ops = keras.ops
        maps = ops.cast(maps, "float32")
        x = (
            ops.mean(maps, axis=(1, 2))
            if self.pooled
            else ops.reshape(maps, (-1, int(np.prod(maps.shape[1:]))))
        )
        active = []
        for layer in self.hidden:
            x = ops.matmul(x, layer.kernel) + layer.bias
            active.append(ops.cast(x > 0, "float32"))
            x = ops.relu(x)
        gradient = ops.expand_dims(self.output_layer.kernel, 0)  # (1, units, classes)
        for layer, mask in zip(self.hidden[:0:-1], active[:0:-1]):
            gradient = ops.einsum(
                "iu,nuc->nic", layer.kernel, mask[..., None] * gradient
            )
        gradient = active[0][..., None] * gradient
        weights = ops.einsum("ku,nuc->nkc", self.channel_kernel, gradient)
        return ops.relu(ops.einsum("nhwk,nkc->nhwc", maps, weights))


def gradcam_network(network):
    """Every class's Grad-CAM map in one forward pass; None without a closed form.

    The maps are those :func:`gradcam_heatmaps` computes with gradients,
    before each is scaled by its maximum and upsampled: of shape
    ``(n, height, width, n_classes)`` at the last feature map of at least
    2x2. That needs the head :func:`~sklearn_pneumo.build_cnn` builds:
    that map, then ``Flatten`` or a global average, one or more ReLU ``Dense``
    layers and a final ``Dense`` (dropout aside). Exported to ONNX, it gives
    heatmaps without TensorFlow.

    Parameters
    ----------
    network : keras.Sequential
        A built network whose layers connect its input to its output, as
        those of ``inference_network(cnn.model_)`` do.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pneumo import CNNClassifier
    >>> from sklearn_pneumo._gradcam import gradcam_network
    >>> from sklearn_pneumo._network import inference_network
    >>> X = np.random.default_rng(0).random((20, 16 * 16), dtype=np.float32)
    >>> clf = CNNClassifier(
    ...     epochs=1, model__filters=4, model__conv_blocks=2, random_state=0
    ... )
    >>> cams = gradcam_network(inference_network(clf.fit(X, [0, 1] * 10).model_))
    >>> tuple(cams(X[:3].reshape(3, 16, 16, 1)).shape)
    (3, 5, 5, 2)
    """
    if not isinstance(network, keras.Sequential):
        return None
    layers = list(network.layers)
    feature_layer = _last_feature_map_layer(network)
    head = [
        layer
        for layer in layers[layers.index(feature_layer) + 1 :]
        if not isinstance(layer, keras.layers.Dropout)
    ]
    pooling = (keras.layers.Flatten, keras.layers.GlobalAveragePooling2D)
    if len(head) < 2 or not isinstance(head[0], pooling):
        return None
    *hidden, output = head[1:]
    if (
        not hidden
        or not all(
            isinstance(layer, keras.layers.Dense)
            and layer.activation is keras.activations.relu
            for layer in hidden
        )
        or not isinstance(output, keras.layers.Dense)
    ):
        return None
    pooled = isinstance(head[0], keras.layers.GlobalAveragePooling2D)
    maps = feature_layer.output
    cams = _ClosedFormGradCAM(hidden, output, pooled, maps.shape[1:], name="gradcam")
    return keras.Model(network.inputs[0], cams(maps), name="gradcam")
