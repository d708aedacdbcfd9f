"""How unlike the training X-rays an input is, from the network's own features.

A Mahalanobis score (Lee et al. 2018, "A simple unified framework for
detecting out-of-distribution samples and adversarial attacks"): at fit,
class-conditional Gaussians with a shared covariance are fitted to three
views of the training X-rays, from the same forward pass as the
prediction: the image itself shrunk to 4x4 (its layout of light and dark),
the global average of the first convolution block's maps (texture and
exposure) and the last block's maps averaged over a 2x2 grid (anatomy and
where it lies). An input is scored at each by its distance to the nearest
class mean, in units of the 99th percentile of held-out X-rays' distances
there, and its score is the largest of the three.

Chosen by measurement (``benchmarks/bench_trust.py``, the docs' benchmarks
page): with the global averages of every block and the penultimate
features instead, as Lee et al. do, 29 % of rotated or inverted X-rays
went unflagged, since averages over positions cannot see that an image is
upside down.
"""

import numpy as np
from sklearn.covariance import LedoitWolf


def area_matrix(n_in, n_out):
    """(n_out, n_in) weights that average each output cell's share of the input.

    Output cell ``i`` covers ``[i, i + 1) * n_in / n_out`` of the input axis;
    each input pixel counts by the length of its overlap with it. Along both
    axes this is TensorFlow's ``resize(..., "area")`` (equal within 4e-7), as
    two matrix products that exporters (ONNX) translate exactly.

    Examples
    --------
    >>> (3 * area_matrix(3, 2)).round(4).tolist()  # in thirds
    [[2.0, 1.0, 0.0], [0.0, 1.0, 2.0]]
    """
    scale = n_in / n_out
    weights = np.zeros((n_out, n_in), dtype=np.float32)
    for i in range(n_out):
        low, high = i * scale, (i + 1) * scale
        for j in range(int(np.floor(low)), min(int(np.ceil(high)), n_in)):
            weights[i, j] = max(0.0, min(high, j + 1) - max(low, j)) / scale
    return weights


def _area_resized(maps, size):
    """Feature maps averaged over a ``size`` grid, flattened."""
    import keras

    _, height, width, channels = maps.shape

    def pooled(maps):
        # The weights are made inside the traced call: constants of the graph.
        rows = keras.ops.convert_to_tensor(area_matrix(height, size[0]))
        columns = keras.ops.convert_to_tensor(area_matrix(width, size[1]))
        # Two products, one axis each: as one three-operand einsum, these
        # features took 30 % more than the whole 150x150 network in
        # TensorFlow; as two, about 1 %.
        pooled = keras.ops.einsum(
            "hy,byxc->bhxc", rows, keras.ops.cast(maps, "float32")
        )
        pooled = keras.ops.einsum("bhxc,wx->bhwc", pooled, columns)
        return keras.ops.reshape(pooled, (-1, size[0] * size[1] * channels))

    return keras.layers.Lambda(pooled)(maps)


def _pooling_layers():
    """The Keras layers after which the feature maps are read."""
    import keras  # here: FeatureGaussians scores without TensorFlow

    return (
        keras.layers.MaxPooling2D,
        keras.layers.AveragePooling2D,
        keras.layers.GlobalAveragePooling2D,
        keras.layers.Flatten,
    )


def first_block(network):
    """The names of ``network``'s layers before its first pooling of 4-D maps.

    Those whose maps the outlier model averages (:func:`feature_network`'s
    second feature). Its Gaussians there are narrow, so these layers are
    computed in float32 however the rest is (8-bit activations of this
    block moved the shipped network's X-rays there from 0.14 to 34
    held-out units of distance, and bfloat16 flagged 55 % of them).
    Empty for a network without such maps.
    """
    pooling = _pooling_layers()
    names = []
    for layer in network.layers:
        if isinstance(layer, pooling) and len(layer.input.shape) == 4:
            return names
        names.append(layer.name)
    return []


def feature_network(network):
    """A network that returns the class probabilities and its features.

    Parameters
    ----------
    network : keras.Model
        A built network whose last layer gives the class probabilities.

    Returns
    -------
    keras.Model
        Outputs ``[probabilities, layout, texture, anatomy]``: the input
        shrunk to 4x4, the global average of the first feature maps that
        reach a pooling or flattening layer, and the last such maps averaged
        over 2x2. A network without such maps gives its penultimate features
        in place of the last two.
    """
    import keras  # here: FeatureGaussians scores without TensorFlow

    pooling = _pooling_layers()
    maps = [
        layer.input
        for layer in network.layers
        if isinstance(layer, pooling) and len(layer.input.shape) == 4
    ]
    features = [_area_resized(network.inputs[0], (4, 4))]
    if maps:
        features += [
            keras.ops.mean(maps[0], axis=(1, 2)),
            _area_resized(maps[-1], (2, 2)),
        ]
    else:
        features.append(network.layers[-1].input)
    outputs = network.outputs[:1] + [keras.ops.cast(f, "float32") for f in features]
    # One input tensor, not a list of one: Keras 3.8 warns when a list-input
    # model is called on an array.
    return keras.Model(network.inputs[0], outputs, name="pneumo_features")


def _nearest_class_distances(features, means, precision):
    """Squared Mahalanobis distance of each row to its nearest class mean."""
    distances = [
        np.einsum("ij,jk,ik->i", features - mean, precision, features - mean)
        for mean in means
    ]
    return np.min(distances, axis=0)


class FeatureGaussians:
    """Class-conditional Gaussians of the network's features, one set per depth.

    Each depth has one mean per class and a covariance shared by the classes
    (Ledoit-Wolf shrunk, so a few hundred X-rays estimate it well). The
    distance of an input at a depth is divided by the 99th percentile of the
    distances of held-out X-rays there (of the training ones without a
    hold-out; the largest over several sets of them when given), so that
    every depth speaks in the same units; :meth:`score`
    is minus the largest of these, so higher means more typical, as
    scikit-learn's ``score_samples``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> features = [rng.normal(size=(200, 3)), rng.normal(size=(200, 5))]
    >>> y = np.repeat([0, 1], 100)
    >>> gaussians = FeatureGaussians().fit(features, y)
    >>> far = [np.full((1, 3), 10.0), np.full((1, 5), 10.0)]
    >>> bool(gaussians.score(far)[0] < gaussians.score(features).min())
    True

    Attributes
    ----------
    means_, precisions_ : list of ndarray
        Per depth, the class means and the shared precision matrix.
    scales_ : list of float
        Per depth, the 99th percentile of held-out distances.
    noise_scale_ : float, optional
        Set by the classifier's fit (absent otherwise): the noise level,
        in ``_noise.noise_level``'s units, that scores
        as far as the outlier threshold, so that images noisier than the
        network reads are flagged.
    """

    def fit(self, features, y, held_out=None):
        """Fit to ``features`` (a list of (n, d) arrays) of classes ``y``.

        ``held_out``, a list of feature sets (each a list of the same
        depths) of X-rays not in ``features``, sets the units of each depth:
        the largest 99th percentile of their distances there, so that none
        of the sets (the X-rays as they are, and copies of them as another
        site may send them) scores far at any depth. Without it, the
        training X-rays' own.
        """
        y = np.asarray(y)
        classes = np.unique(y)
        references = [features] if held_out is None else held_out
        self.means_, self.precisions_, self.scales_ = [], [], []
        for i, depth in enumerate(features):
            depth = np.asarray(depth, dtype=np.float64)
            means = np.stack([depth[y == c].mean(axis=0) for c in classes])
            centred = depth - means[np.searchsorted(classes, y)]
            precision = LedoitWolf(assume_centered=True).fit(centred).precision_
            scale = max(
                np.quantile(
                    _nearest_class_distances(
                        np.asarray(reference[i]), means, precision
                    ),
                    0.99,
                )
                for reference in references
            )
            self.means_.append(means)
            self.precisions_.append(precision)
            self.scales_.append(float(scale) or 1.0)
        return self

    def distances(self, features):
        """Distances of each row at each depth, in held-out units: (n, depths)."""
        return np.column_stack(
            [
                _nearest_class_distances(np.asarray(depth, np.float64), m, p) / s
                for depth, m, p, s in zip(
                    features, self.means_, self.precisions_, self.scales_
                )
            ]
        )

    def score(self, features, noise=None):
        """Typicality of each row: minus its largest scaled distance.

        With ``noise``, each image's noise level (``_noise.noise_level``) and a fitted
        ``noise_scale_``, the noise in those units is one more distance:
        one-sided, since an image less noisy than training X-rays (a
        smoothed or downsized one) reads no worse.
        """
        distances = self.distances(features)
        scale = getattr(self, "noise_scale_", None)
        if noise is not None and scale is not None:
            distances = np.column_stack([distances, np.asarray(noise) / scale])
        return -distances.max(axis=1)
