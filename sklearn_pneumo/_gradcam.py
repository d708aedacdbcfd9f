"""Grad-CAM: which parts of an X-ray drove the network's decision."""

import keras
import numpy as np
import tensorflow as tf
from skimage.transform import resize
from sklearn.utils.validation import check_is_fitted

from ._classifier import CNNClassifier, rows_to_images
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
    target : class label or None, default=None
        Class whose score is explained, e.g. ``1`` or ``"PNEUMONIA"``.
        ``None`` explains each image's predicted class.
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
    """The index of ``target`` among the classes, or None for the predicted one."""
    if target is None:
        return None
    matches = np.flatnonzero(classifier.classes_ == target)
    if matches.size == 0:
        raise ValueError(
            f"target {target!r} is not one of the classes "
            f"{classifier.classes_.tolist()}."
        )
    return int(matches[0])


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
    mean = np.mean(maps, axis=0)
    peaks = mean.max(axis=(1, 2), keepdims=True)
    return np.divide(mean, peaks, out=np.zeros_like(mean), where=peaks > 0)


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
    cams = cams.numpy()
    peaks = cams.max(axis=(1, 2), keepdims=True)
    cams = np.divide(cams, peaks, out=np.zeros_like(cams), where=peaks > 0)
    heatmaps = resize(cams, (len(cams), *classifier.image_size_), order=1)
    return heatmaps.astype(np.float32)
