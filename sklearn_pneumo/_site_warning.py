"""The site warning: more uncertain answers than the model's validation had.

A model's review cut sends a known share of the X-rays it was validated on
to review (the shipped models': the 10 % most uncertain). A site whose
X-rays the model reads less surely sends more. The cut and that share are
what the model learned of its own validation X-rays, kept on it as
``review_uncertainty_`` and ``review_share_`` (:func:`measure_review_cut`;
the shipped models carry theirs), so they travel with it through
:func:`~sklearn_pneumo.save_model`, :func:`~sklearn_pneumo.export_onnx`,
adaptation and calibration. The review page
(:func:`~sklearn_pneumo.review_report`), :func:`~sklearn_pneumo.predict_files`
and the command line compare the two shares and warn where the excess is
more than chance.

A cut holds for the test-time views it was measured with: the model keeps
them beside it (``review_views_``, :func:`view_settings`), and a cut whose
views were changed since (``set_params(test_time_augmentation=...)``) is
not used, with a warning to measure it again.
"""

import warnings

import numpy as np
from scipy.stats import binomtest
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._walk import final_step, scoring_model, walk_objects
from ._wrapped import inner_model, wrapped_assess


def measure_review_cut(model, X, *, share=0.1):
    """Set the review cut of a fitted model: ``review_uncertainty_``, ``review_share_``.

    ``X`` are X-rays of the model's training source that it was not fitted
    on (its hold-out, say). The cut is the uncertainty above which their
    ``share`` most uncertain answers lie, and ``review_share_`` the share
    that does lie above it (ties move it a little), among those read and
    not flagged as outliers, to the 4 decimals of :func:`predict_files`'
    CSV. Both are stored on the model's final step, as
    fit stores ``source_priors_``: :func:`review_report`,
    :func:`predict_files` and the command line then send the answers above
    the cut to review, and warn where a site's share above it is higher
    than chance allows. They hold for the model's test-time views as
    measured, kept beside them (``review_views_``): after a change of its
    ``test_time_augmentation`` or ``mirror_average`` the cut is not used,
    with a warning to measure it again.

    Parameters
    ----------
    model : fitted model of this package
        One whose ``assess`` gives an ``uncertainty``: an ensemble, or a
        network with ``test_time_augmentation=True``; a pipeline, an ONNX
        archive's scorer or a two-stage classifier of them.
    X : array-like
        Its inputs (image paths for a pipeline that loads them).
    share : float, default=0.1
        The share of ``X`` to send to review.

    Returns
    -------
    Bunch
        ``uncertainty`` (the cut), ``share_above`` and ``n`` (the inputs
        measured on).

    Examples
    --------
    >>> from sklearn_pneumo import make_pneumo_ensemble, measure_review_cut
    >>> from sklearn_pneumo.datasets import load_chest_xray_224
    >>> paths, y = load_chest_xray_224()
    >>> model = make_pneumo_ensemble(
    ...     2, (16, 16), epochs=2, model__filters=4, random_state=0
    ... ).fit(paths[::2], y[::2])
    >>> cut = measure_review_cut(model, paths[1::2])  # X-rays it was not fitted on
    >>> model[-1].review_uncertainty_ == cut.uncertainty, 0.05 < cut.share_above < 0.15
    (True, True)
    """
    if not 0 < share < 1:
        raise ValueError(f"share must be in (0, 1), got {share!r}")
    assess = wrapped_assess(scoring_model(model))
    if assess is None:
        raise ValueError(
            f"{type(model).__name__} has no assess: measure the review cut of "
            "a model of this package"
        )
    assessed = assess(X)
    uncertainty = np.asarray(assessed.uncertainty, dtype=np.float64)
    uncertainty = uncertainty[~np.asarray(assessed.outlier, dtype=bool)]
    uncertainty = uncertainty[~np.isnan(uncertainty)]
    if not len(uncertainty):
        raise ValueError(
            "the model gives no uncertainty for these inputs: a single network "
            "gives one with test_time_augmentation=True, an ensemble always"
        )
    # To the 4 decimals the CSV of predict_files writes, which it compares.
    uncertainty = np.round(uncertainty, 4)
    cut = float(np.quantile(uncertainty, 1 - share).round(4))
    above = float((uncertainty > cut).mean())
    if not 0 < above < 1 or abs(above - share) > share / 2:
        raise ValueError(
            f"{above:.0%} of the {len(uncertainty)} inputs lie above the cut "
            f"{cut} of their uncertainty, for a share of {share:.0%}: too few "
            "inputs, or uncertainties too close together at 4 decimals, to cut"
        )
    final = final_step(model)
    final.review_uncertainty_, final.review_share_ = cut, above
    final.review_views_ = view_settings(final)
    return Bunch(uncertainty=cut, share_above=above, n=len(uncertainty))


#: The settings that decide which test-time views a network scores, and so
#: the uncertainty over them.
VIEW_SETTINGS = ("test_time_augmentation", "mirror_average")


def view_settings(model):
    """The ``VIEW_SETTINGS`` each network inside a fitted ``model`` scores with.

    As ``(path, name, value)``, for ``model`` itself and the fitted
    estimators it holds (an ensemble's members, a pipeline's steps, a
    two-stage classifier's stages) and an ONNX archive's networks; unfitted
    templates (an ensemble's ``estimators``) are left out, since they score
    nothing. An outer ``test_time_augmentation`` that is not None (an
    ensemble's, an archive's) is the one the networks inside it score
    with, so it is given as theirs: setting it to what they have changes
    nothing.

    Examples
    --------
    >>> from sklearn_pneumo import load_pretrained
    >>> view_settings(load_pretrained()[-1])  # one network, five views
    (((), 'test_time_augmentation', True), ((), 'mirror_average', False))
    """
    found = [
        (path, name, value)
        for path, obj in walk_objects(model)
        if _fitted(obj)
        for name, value in vars(obj).items()
        if name in VIEW_SETTINGS
    ]
    settings = []
    for path, name, value in found:
        if any(n == name and p != path and p[: len(path)] == path for p, n, _ in found):
            continue  # an outer setting: given as the networks' it governs
        set_above = sorted(
            (len(p), v)
            for p, n, v in found
            if n == name and path[: len(p)] == p and v is not None
        )
        settings.append((path, name, set_above[0][1] if set_above else value))
    return tuple(settings)


def _fitted(obj):
    """Whether ``obj`` is fitted (an object that is no estimator counts)."""
    if not isinstance(obj, BaseEstimator):
        return True
    try:
        check_is_fitted(obj)
    except NotFittedError:
        return False
    return True


def review_cut(model):
    """``(review_uncertainty_, review_share_)`` of ``model``, or ``(None, None)``.

    Found on its final step, or on the model inside it: inside a search,
    a :class:`PriorShiftAdapter`, or scikit-learn's calibration and
    threshold wrappers, whose answers move but whose uncertainty is the
    model's. A cut measured with other test-time views than the model
    scores now (``review_views_`` against :func:`view_settings`) is not
    used: ``(None, None)``, with a warning.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> review_cut(LogisticRegression())
    (None, None)
    """
    while model is not None:
        model = scoring_model(model)
        final = final_step(model)
        cut = getattr(final, "review_uncertainty_", None)
        if cut is not None:
            measured = getattr(final, "review_views_", None)
            if measured is not None and measured != view_settings(final):
                warnings.warn(
                    f"The review cut of this {type(final).__name__} was measured "
                    "with other test-time views (test_time_augmentation or "
                    "mirror_average changed since), so its uncertainty is not "
                    "compared with the cut: measure the cut again with "
                    "measure_review_cut",
                    UserWarning,
                    stacklevel=2,
                )
                return None, None
            return cut, final.review_share_
        model = inner_model(model)
    return None, None


def check_review_share(review_uncertainty, review_share):
    """Refuse a ``review_share`` outside (0, 1) or without its cut."""
    if review_share is not None and (
        review_uncertainty is None or not 0 < review_share < 1
    ):
        raise ValueError(
            "review_share must be a share in (0, 1) of the validation X-rays "
            f"above review_uncertainty, which it needs; got {review_share!r} "
            f"with review_uncertainty={review_uncertainty!r}"
        )


def compare_share(above, n, share, *, cut=None, alpha=0.01):
    """Whether ``above`` of ``n`` answers is more than ``share`` allows.

    A one-sided binomial test of the share above the cut against
    ``share``, at level ``alpha``.

    Returns
    -------
    Bunch
        ``above``, ``n`` and ``cut`` (as given), ``share``, ``p_value`` and
        ``more`` (whether ``p_value < alpha``).

    Examples
    --------
    >>> result = compare_share(9, 16, 0.1)
    >>> bool(result.more), f"{result.p_value:.1e}"
    (True, '5.9e-06')
    >>> bool(compare_share(2, 16, 0.1).more)
    False
    """
    above, n = int(above), int(n)
    p_value = binomtest(above, n, share, alternative="greater").pvalue if n else 1.0
    return Bunch(
        above=above, n=n, cut=cut, share=share, p_value=p_value, more=p_value < alpha
    )


def more_uncertain(uncertainties, cut, share, *, alpha=0.01):
    """:func:`compare_share` of the ``uncertainties`` above ``cut``.

    Parameters
    ----------
    uncertainties : array-like of float
        Of the scored answers (NaN where there is none, left out).
    cut, share : float
    alpha : float, default=0.01

    Examples
    --------
    >>> result = more_uncertain([0.2] * 9 + [0.01] * 7, cut=0.08, share=0.1)
    >>> result.above, result.n, bool(result.more)
    (9, 16, True)
    >>> bool(more_uncertain([0.2] * 2 + [0.01] * 14, 0.08, 0.1).more)
    False
    """
    uncertainties = np.asarray(uncertainties, dtype=float)
    uncertainties = uncertainties[~np.isnan(uncertainties)]
    return compare_share(
        (uncertainties > cut).sum(), len(uncertainties), share, cut=cut, alpha=alpha
    )


def uncertainty_warning(uncertain):
    """What the page and the command line say when ``uncertain.more``.

    Examples
    --------
    >>> print(uncertainty_warning(compare_share(9, 16, 0.1, cut=0.0813)))
    ... # doctest: +NORMALIZE_WHITESPACE
    The model is less sure of these X-rays than of those it was validated on:
    56% of its answers here lie above the uncertainty cut (0.0813), against 10%
    of those (binomial test, p = 5.9e-06). Its answers may not hold here: check
    them on labelled X-rays of this site before trusting them.
    """
    cut = uncertain.cut
    return (
        f"The model is less sure of these X-rays than of those it was validated "
        f"on: {uncertain.above / uncertain.n:.0%} of its answers here lie above "
        f"the uncertainty cut{'' if cut is None else f' ({cut:g})'}, against "
        f"{uncertain.share:.0%} of those (binomial "
        f"test, p = {uncertain.p_value:.2g}). Its answers may not hold here: check "
        "them on labelled X-rays of this site before trusting them."
    )
