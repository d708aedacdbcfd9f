"""How unlike the training X-rays an input is, from the network's own features.

A Mahalanobis score (Lee et al. 2018, "A simple unified framework for
detecting out-of-distribution samples and adversarial attacks"): at fit,
class-conditional Gaussians with a shared covariance are fitted to the
network's features of the training X-rays, at several depths. An input is
scored by its distance to the nearest class mean at each depth, in units of
the training X-rays' own distances; the score of an input is the largest of
these. Shallow depths see texture and exposure (noise, documents, blank
images), deep ones see anatomy and layout (other body parts, rotated or
inverted X-rays).
"""

import keras
import numpy as np
from sklearn.covariance import LedoitWolf


def feature_network(network):
    """A network that returns the class probabilities and its features.

    The features are the global average of every feature map that reaches a
    pooling or flattening layer (one vector per convolution block) and the
    input of the output layer (the penultimate features). They come from the
    same forward pass as the probabilities.

    Parameters
    ----------
    network : keras.Model
        A built network whose last layer gives the class probabilities.

    Returns
    -------
    keras.Model
        Outputs ``[probabilities, features_1, ..., features_k]``, each of
        shape (n, d_i).
    """
    pooling = (
        keras.layers.MaxPooling2D,
        keras.layers.AveragePooling2D,
        keras.layers.GlobalAveragePooling2D,
        keras.layers.Flatten,
    )
    features = []
    for layer in network.layers:
        if isinstance(layer, pooling) and len(layer.input.shape) == 4:
            features.append(keras.ops.mean(layer.input, axis=(1, 2)))
    features.append(network.layers[-1].input)
    outputs = network.outputs[:1] + [keras.ops.cast(f, "float32") for f in features]
    return keras.Model(network.inputs, outputs, name="pneumo_features")


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
    distance of an input at a depth is divided by the median distance of the
    training X-rays at that depth; :meth:`score` is minus the largest of
    these, so higher means more typical, as scikit-learn's ``score_samples``.

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
    """

    def fit(self, features, y):
        """Fit to ``features`` (a list of (n, d) arrays) of classes ``y``."""
        y = np.asarray(y)
        classes = np.unique(y)
        self.means_, self.precisions_, self.scales_ = [], [], []
        for depth in features:
            depth = np.asarray(depth, dtype=np.float64)
            means = np.stack([depth[y == c].mean(axis=0) for c in classes])
            centred = depth - means[np.searchsorted(classes, y)]
            precision = LedoitWolf(assume_centered=True).fit(centred).precision_
            distances = _nearest_class_distances(depth, means, precision)
            self.means_.append(means)
            self.precisions_.append(precision)
            self.scales_.append(float(np.median(distances)) or 1.0)
        return self

    def distances(self, features):
        """Distances of each row at each depth, in training medians: (n, depths)."""
        return np.column_stack(
            [
                _nearest_class_distances(np.asarray(depth, np.float64), m, p) / s
                for depth, m, p, s in zip(
                    features, self.means_, self.precisions_, self.scales_
                )
            ]
        )

    def score(self, features):
        """Typicality of each row: minus its largest scaled distance."""
        return -self.distances(features).max(axis=1)
