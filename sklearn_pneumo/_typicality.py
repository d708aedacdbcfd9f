"""How typical an input is of the training X-rays: the outlier API, written once.

:class:`CNNClassifier`, :class:`PneumoEnsemble` and :class:`PneumoPipeline`
each say how they compute typicality (``_typicality``) and where their
threshold is (``offset_``); :class:`TypicalityMixin` turns that into
scikit-learn's outlier-detector methods. Typicality is read from the plain
view of each X-ray only, so it costs one forward pass whatever the
test-time views.
"""

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils.metaestimators import available_if


def _has_typicality(estimator):
    return estimator._has_typicality()


class TypicalityMixin:
    """``score_samples`` and ``is_outlier`` from ``_typicality`` and ``offset_``."""

    @available_if(_has_typicality)
    def score_samples(self, X):
        """How typical each input is of the training X-rays; higher is more typical.

        For one network: minus the largest distance of the input's features
        to the nearest class mean of the training X-rays, over three depths
        (the image shrunk to 4x4, the first and the last convolution block),
        each in units of the 99th percentile of held-out X-rays' distances
        (``FeatureGaussians``): about -1 or above for X-rays like those of
        training, far below for what is not a chest X-ray. An image noisier
        than the network reads (``readable_noise_``) scores below the
        threshold too, by its noise level. For an ensemble:
        the members' typicality minus their ``offset_``, averaged with the
        ensemble's ``weights``. Computed from each input as it is, without
        test-time views.

        Parameters
        ----------
        X : array-like
            What ``predict`` takes.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._typicality(X)

    @available_if(_has_typicality)
    def is_outlier(self, X):
        """Flag inputs unlike the training X-rays: ``score_samples(X) < offset_``.

        At fit, ``offset_`` was set to flag ``outlier_rate`` of held-out
        X-rays (0 for an ensemble, whose typicality is relative to its
        members' thresholds).

        Parameters
        ----------
        X : array-like
            What ``predict`` takes.

        Returns
        -------
        ndarray of shape (n_samples,) of bool
        """
        return self.score_samples(X) < self.offset_


def combine_members(results, weights, typicality):
    """Every member's views with their weights, and the weighted typicality.

    Parameters
    ----------
    results : list of (views, typicality, offset)
        Per member: its views' probabilities (n_views, n, n_classes), its
        typicality (n,) or None, and its ``offset_``.
    weights : array-like of shape (n_members,)
    typicality : bool
        Whether to combine the members' typicality.

    Returns
    -------
    views : ndarray of shape (all views, n, n_classes)
    view_weights : ndarray of shape (all views,)
        A member's weight shared among its views, so that the views'
        weighted mean is the members' weighted mean, as ``VotingClassifier``
        averages.
    typicality : ndarray of shape (n,) or None
        The members' typicality minus their ``offset_``, averaged with
        ``weights``: below 0 is an outlier.

    Examples
    --------
    >>> import numpy as np
    >>> one = (np.full((1, 2, 2), 0.5), np.array([0.0, -3.0]), -1.0)
    >>> two = (np.full((5, 2, 2), 0.5), np.array([1.0, -2.0]), -2.0)
    >>> views, weights, score = combine_members([one, two], [1, 1], True)
    >>> views.shape, weights.tolist()[:2], score.tolist()
    ((6, 2, 2), [1.0, 0.2], [2.0, -1.0])
    """
    all_views = np.concatenate([v for v, _, _ in results])
    view_weights = np.concatenate(
        [np.full(len(v), w / len(v)) for (v, _, _), w in zip(results, weights)]
    )
    score = None
    if typicality:
        score = np.average(
            [s - offset for _, s, offset in results], axis=0, weights=weights
        )
    return all_views, view_weights, score


def summarize_views(views, typicality, offset, weights=None):
    """One assessment from the probabilities of several views of each input.

    Parameters
    ----------
    views : ndarray of shape (n_views, n_samples, n_classes)
        Probabilities of each view (test-time views, ensemble members' views).
    typicality : ndarray of shape (n_samples,)
    offset : float
        Typicality below it is flagged.
    weights : array-like of shape (n_views,) or None, default=None
        Weight of each view in the probabilities and their spread.

    Returns
    -------
    Bunch
        ``proba`` (the weighted mean), ``typicality``, ``outlier`` and
        ``uncertainty`` (the weighted standard deviation of the views'
        probabilities, of the class where it is largest; NaN for one view).

    Examples
    --------
    >>> import numpy as np
    >>> views = np.array([[[0.2, 0.8]], [[0.4, 0.6]]])
    >>> result = summarize_views(views, np.array([-0.5]), -1.0, weights=[1, 3])
    >>> result.proba.round(3).tolist(), result.outlier.tolist()
    ([[0.35, 0.65]], [False])
    >>> float(result.uncertainty[0].round(4))
    0.0866
    """
    proba = np.average(views, axis=0, weights=weights)
    if len(views) > 1:
        variance = np.average((views - proba) ** 2, axis=0, weights=weights)
        uncertainty = np.sqrt(variance).max(axis=1)
    else:
        uncertainty = np.full(views.shape[1], np.nan)
    return Bunch(
        proba=proba,
        typicality=typicality,
        outlier=typicality < offset,
        uncertainty=uncertainty,
    )
