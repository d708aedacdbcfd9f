"""A new site's share of each class, learned from its unlabeled X-rays.

A model's probabilities carry the class shares of the X-rays it learned
from. At a site where pneumonia is rarer (an outpatient clinic) or more
common (a ward), the same network's answers are then biased. Saerens,
Latinne and Decaestecker (2002, "Adjusting the outputs of a classifier to
new a priori probabilities: a simple procedure") estimate the site's shares
from the model's own probabilities on the site's unlabeled inputs, by EM,
and reweigh each probability by the ratio of the site's share to the
source's. EM is only as good as the probabilities are calibrated: as
Alexandari, Kundaje and Shrikumar (2020, "Maximum likelihood with
bias-corrected calibration is hard-to-beat at label shift adaptation")
recommend, a temperature and a bias per class are first fitted to the
model's log-probabilities on labelled held-out X-rays of its training
source (``source_calibration_``), and the source's shares are the mean
calibrated probabilities there (``source_priors_``): not the share of the
training labels, and not one half each. Both are set at fit from the
hold-out, with how each class's calibrated scores spread there
(``source_score_edges_`` and ``source_score_counts_``): a site whose scores
are no mixture of those differs by more than its shares, and its estimate
is not trusted.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.frozen import FrozenEstimator
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._decision import LogOddsMixin
from ._label_shift_check import label_shift_check, score_reference
from ._site_warning import compare_share, more_uncertain, review_cut
from ._upstream import (
    HasMethods,
    Interval,
    StrOptions,
    fit_context,
    validate_estimator_params,
)
from ._walk import final_step, fitted_networks, scoring_model

#: Estimated shares below this (or above one minus it) sit at their bound.
_BOUND = 0.01

#: Level of the test of a site's scores against a mixture of the source's.
_ALPHA = 0.01

#: ``PriorShiftAdapter``'s default weight of the source shares, in inputs.
PRIOR_STRENGTH = 20.0


def shift_priors(proba, source_priors, target_priors, calibration=None):
    """Probabilities of a model that learned ``source_priors``, moved to new ones.

    With ``calibration`` (see :func:`calibrated`), ``proba`` is calibrated
    first, as the source shares were measured on calibrated probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> shift_priors(np.array([[0.5, 0.5]]), [0.5, 0.5], [0.8, 0.2]).tolist()
    [[0.8, 0.2]]
    """
    weighted = calibrated(proba, calibration) * (
        np.asarray(target_priors, dtype=np.float64)
        / np.asarray(source_priors, dtype=np.float64)
    )
    return weighted / weighted.sum(axis=1, keepdims=True)


def em_priors(proba, source_priors, *, strength=0.0, max_iter=1000, tol=1e-8):
    """The class shares of the inputs behind ``proba``, by EM (Saerens et al. 2002).

    With ``strength``, the estimate is the posterior mode under a Dirichlet
    prior centred on the source shares: as if ``strength`` more inputs of
    the source's shares had been seen. A few inputs then move the estimate
    little, many move it almost as much as without.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        The model's probabilities of the new inputs.
    source_priors : array-like of shape (n_classes,)
        The class shares its probabilities reflect.
    strength : float, default=0.0
        Weight of the source shares, in inputs; 0 for plain EM.

    Returns
    -------
    ndarray of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(4000) < 0.8  # 80 % of class 1
    >>> x = rng.normal(np.where(y, 1.0, -1.0))  # each class a Gaussian
    >>> p1 = 1 / (1 + np.exp(-2 * x))  # the posterior where both had 50 %
    >>> em_priors(np.column_stack([1 - p1, p1]), [0.5, 0.5]).round(2).tolist()
    [0.2, 0.8]
    """
    proba = np.asarray(proba, dtype=np.float64)
    source = priors = np.asarray(source_priors, dtype=np.float64)
    for _ in range(max_iter):
        seen = shift_priors(proba, source, priors).sum(axis=0)
        updated = (seen + strength * source) / (len(proba) + strength)
        if np.abs(updated - priors).max() < tol:
            return updated
        priors = updated
    return priors


def _log_proba(proba):
    return np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1))


def calibrated(proba, calibration):
    """``proba`` through a fitted ``[temperature, bias_1, ..., bias_k]`` (or as is).

    Examples
    --------
    >>> import numpy as np
    >>> calibrated(np.array([[0.2, 0.8]]), [1.0, 0.0, np.log(4)]).round(3).tolist()
    [[0.059, 0.941]]
    """
    if calibration is None:
        return np.asarray(proba, dtype=np.float64)
    logits = _log_proba(proba) / calibration[0] + np.asarray(calibration[1:])
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def fit_calibration(proba, labels):
    """Bias-corrected temperature scaling of ``proba`` to class indices ``labels``.

    Returns
    -------
    ndarray of shape (n_classes + 1,)
        The temperature, then one bias per class (their mean is 0), that
        minimise the log loss.
    """
    log_proba, labels = _log_proba(proba), np.asarray(labels).astype(np.intp)
    rows = np.arange(len(labels))

    def loss(weights):
        logits = log_proba / weights[0] + weights[1:]
        logits -= logits.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(logits).sum(axis=1))
        return float(np.mean(log_sum - logits[rows, labels]))

    start = np.r_[1.0, np.zeros(log_proba.shape[1])]
    bounds = [(0.05, 20.0)] + [(-10.0, 10.0)] * log_proba.shape[1]
    weights = minimize(loss, start, method="L-BFGS-B", bounds=bounds).x
    weights[1:] -= weights[1:].mean()
    return weights


def source_state(proba, labels=None):
    """``(source_priors, source_calibration)`` from held-out ``proba`` (and labels).

    Without labels there is no calibration, and the shares are the mean
    probabilities.
    """
    calibration = None if labels is None else fit_calibration(proba, labels)
    return calibrated(proba, calibration).mean(axis=0), calibration


#: The fitted attributes :func:`store_source_state` sets.
SOURCE_STATE = (
    "source_priors_",
    "source_calibration_",
    "source_score_edges_",
    "source_score_counts_",
    "source_score_design_effects_",
)


def store_source_state(estimator, proba, labels=None, groups=None):
    """Set ``estimator``'s :data:`SOURCE_STATE` from held-out ``proba`` (and labels).

    The shares and calibration of :func:`source_state`, and, with labels,
    the :func:`score_reference` of the calibrated probabilities that
    adapting tests a site's scores against (None without labels), with
    its design effects by patient where ``groups`` gives them.
    """
    priors, calibration = source_state(proba, labels)
    reference = Bunch(edges=None, counts=None, design_effects=None)
    if labels is not None:
        reference = score_reference(calibrated(proba, calibration), labels, groups)
    estimator.source_priors_, estimator.source_calibration_ = priors, calibration
    estimator.source_score_edges_ = reference.edges
    estimator.source_score_counts_ = reference.counts
    estimator.source_score_design_effects_ = reference.design_effects
    return priors


def source_reference(model):
    """The :func:`score_reference` ``model`` keeps, or None if it has none."""
    final = final_step(model)
    edges = getattr(final, "source_score_edges_", None)
    counts = getattr(final, "source_score_counts_", None)
    if edges is None or counts is None:
        return None
    effects = getattr(final, "source_score_design_effects_", None)
    if effects is None:  # kept before design effects were: one X-ray, one draw
        effects = np.ones(len(counts))
    return Bunch(
        edges=np.asarray(edges),
        counts=np.asarray(counts),
        design_effects=np.asarray(effects, dtype=np.float64),
    )


def _stages(model):
    """The method reading each stage's probabilities back, for a composed model."""
    return getattr(final_step(model), "stage_probabilities", None)


def checks_source(model):
    """Whether :func:`unlike_source` can check ``model``: it, or a stage, has a
    score reference."""
    stages = _stages(model)
    if stages is None:
        return source_reference(model) is not None
    final = final_step(model)
    return any(
        source_reference(stage) is not None
        for stage in (final.pneumonia_, final.pneumonia_type_)
    )


def unlike_source(model, proba, *, random_state=None):
    """Whether ``model`` scores a site's X-rays unlike any mix of its validation ones.

    The site's scores are tested against a mixture of the model's per-class
    scores on its validation X-rays (its :func:`source_reference`), in
    whatever shares fit best (:func:`label_shift_check`). A three-class
    answer composed of two models (:class:`TwoStageClassifier`) is tested
    stage by stage, each model's own probabilities against its own
    reference: pneumonia or not on every X-ray, the type on those it asks
    the type of; its p-value is the smaller, times the stages tested
    (Bonferroni), so that it too warns on 1 % of sites that differ by
    their shares alone.

    Parameters
    ----------
    model : fitted model
        One with a score reference: a network fitted with a hold-out, a
        model given one by :func:`measure_source_priors` with labels, the
        shipped binary model, or an archive of one.
    proba : array-like of shape (n_samples, n_classes)
        Its probabilities of the site's X-rays as it gives them (those not
        flagged as outliers); they are calibrated as the reference was.
    random_state : int, RandomState or None, default=None
        Seeds the bootstrap.

    Returns
    -------
    Bunch or None
        :func:`label_shift_check`'s, with ``more``: whether ``p_value`` is
        below 1 %; for a composed model, ``p_value``, ``n`` (the X-rays of
        the first stage), ``more`` and ``stages`` (each stage's check, or
        None). None for a model without a score reference, or no X-rays.
    """
    stages = _stages(model)
    if stages is not None:
        if not len(proba):
            return None
        checks = [
            unlike_source(stage, stage_proba, random_state=random_state)
            for stage, stage_proba in stages(proba)
        ]
        tested = [check for check in checks if check is not None]
        if not tested:
            return None
        p_value = min(1.0, len(tested) * min(check.p_value for check in tested))
        return Bunch(
            p_value=p_value, n=len(proba), more=p_value < _ALPHA, stages=checks
        )
    reference = source_reference(model)
    if reference is None or not len(proba):
        return None
    calibration = getattr(final_step(model), "source_calibration_", None)
    check = label_shift_check(
        calibrated(proba, calibration), reference, random_state=random_state
    )
    check.more = check.p_value < _ALPHA
    return check


def flagged_rate(model):
    """The share of X-rays like its validation ones that ``model`` flags, or None.

    A network's outlier model flags its ``outlier_rate`` of its held-out
    X-rays; a model of several networks, the largest of theirs; an ONNX
    archive, the rate it was exported with (``outlier_rate_``). None for a
    model without outlier flags.
    """
    rate = getattr(final_step(model), "outlier_rate_", None)
    if rate is not None:
        return float(rate)
    rates = [
        network.outlier_rate
        for network in fitted_networks(model)
        if network.outlier_rate is not None and hasattr(network, "offset_")
    ]
    return max(rates) if rates else None


def flagged_beyond(outlier, rate):
    """Whether more of ``outlier`` are flagged than ``rate`` allows (or False).

    One-sided binomial test at 1 % of the flagged count against
    :func:`flagged_rate`'s ``rate``; False without a rate.
    """
    return rate is not None and bool(
        compare_share(int(np.sum(outlier)), len(outlier), rate).more
    )


def source_priors(model):
    """The class shares of ``model``'s probabilities; a ValueError says how to add."""
    priors = getattr(final_step(model), "source_priors_", None)
    if priors is None:
        raise ValueError(
            f"{type(scoring_model(model)).__name__} has no source_priors_: the "
            "class shares it predicts on held-out X-rays of its training "
            "source, which adapting to a site's shares starts from. Fit it "
            "with validation_split > 0 (a hold-out sets them), or measure them "
            "on labelled X-rays of its training source that it was not fitted "
            "on: measure_source_priors(model, X_held_out, y_held_out)."
        )
    return np.asarray(priors, dtype=np.float64)


def measure_source_priors(model, X, y=None, groups=None):
    """Set ``source_priors_``, ``source_calibration_`` and the score reference.

    For a model fitted without a hold-out: from its probabilities on ``X``,
    inputs of its training source that it was not fitted on (the rest of
    the training folder's patients, say), and their labels ``y``, stored on
    its final step as fit stores them from a hold-out (:func:`store_source_state`).
    Without ``y`` no calibration is fitted (adapting then trusts the
    probabilities as they are, and estimates shares less well) and no score
    reference is kept (adapting then cannot test whether a site differs by
    its shares alone). ``groups``, the patient of each X-ray, lets the
    reference count several X-rays of one patient as the fewer independent
    draws they are (its design effects); without them each X-ray counts as
    one, and the check warns more often than it should where patients have
    several.

    Returns
    -------
    ndarray of shape (n_classes,)
        The measured shares.
    """
    proba = model.predict_proba(X)
    labels = None
    if y is not None:
        labels = np.searchsorted(np.asarray(scoring_model(model).classes_), y)
    return store_source_state(final_step(model), proba, labels, groups)


def _estimator_has(name):
    return lambda self: hasattr(scoring_model(self.estimator), name)


class PriorShiftAdapter(
    LogOddsMixin, ClassifierMixin, MetaEstimatorMixin, BaseEstimator
):
    """A fitted model adapted to a site's class shares, from its unlabeled X-rays.

    ``fit(X)`` reads no label: it scores the site's inputs with the wrapped
    model, leaves out those it flags as outliers, and estimates the site's
    share of each class by EM (Saerens, Latinne & Decaestecker 2002) from
    the model's ``source_priors_``. Then :meth:`predict_proba`,
    :meth:`predict` and :meth:`assess` reweigh the model's probabilities by
    the ratio of the site's shares to the source's. The wrapped model is
    used as it is, never refitted.

    Parameters
    ----------
    estimator : fitted classifier
        A model of this package (a pipeline, ensemble, the shipped model,
        a search) with ``source_priors_`` on its final step. Clones of the
        adapter (``GridSearchCV``, ``cross_validate``) keep it fitted only if
        it is wrapped in scikit-learn's ``FrozenEstimator``.
    skip_outliers : bool, default=True
        Leave the inputs the model flags as outliers out of the estimate
        (with a model that has ``assess``).
    min_samples : int, default=30
        Fewest inputs (after leaving outliers out) to estimate from.
    prior_strength : float, default=20.0
        How strongly the estimate keeps to the source shares, counted in
        inputs: the shares are the posterior mode under a Dirichlet prior
        centred on ``source_priors_``, as if that many inputs of the
        source's shares had been seen too (see :func:`em_priors`). A small
        site's estimate is noisy, and a noisy shift costs more accuracy
        than it gains where the site's shares are close to the source's; a
        large site moves it almost as plain EM (0) would.
    probabilities : {"calibrated", "model"}, default="calibrated"
        What the site's shares reweigh. "calibrated": the probabilities
        through ``source_calibration_`` first, as the shares are estimated:
        calibrated to the site's shares where it differs from the source by
        its shares alone. "model": the model's own probabilities, so that
        at the source's shares the adapter answers as the model does. The
        calibration moves the model's decision too: a network fitted with
        class weights (the ``"tuned"`` preset, the shipped models) answers
        as if the classes were even, and its calibration moves it to the
        source's 3 in 4 pneumonia. Where the site's X-rays drift (later
        patients, whose normal X-rays look more like pneumonia to the
        model), "calibrated" calls more normal X-rays pneumonia than the
        model, and "model" does not; where only the shares differ,
        "calibrated" answers better (the docs' benchmarks).
    on_uncertain_site : {"keep", "adapt"}, default="keep"
        What to do where the site differs from the model's validation
        X-rays by more than its class shares: where the model is less sure
        of the site's inputs (``site_uncertain_``), where their scores
        are no mixture of its validation X-rays' per-class scores
        (``site_unlike_source_``), or where it flags more of them than of
        its validation X-rays (``site_flagged_``: the flags may take one
        class more than the other, and the shares of those left lean the
        other way). "keep": answer as the model does. The
        shares EM estimates there lean toward the class the model errs
        toward (on the 16 bundled later X-rays, taken twice, 18 % normal
        where there are 50 %; on finely sharpened X-rays, 26 to 27 % of
        normal X-rays called pneumonia once adapted, against 8 to 10 % as
        the model answers).
        "adapt": move the answers to the estimated shares all the same.
        Either way ``priors_`` is the estimate.
    n_bootstrap : int, default=200
        Bootstrap resamples of the inputs for ``priors_interval_``; 0 for
        none.
    random_state : int, RandomState or None, default=None
        Seeds the bootstrap.

    Attributes
    ----------
    classes_ : ndarray
        The wrapped model's classes.
    source_priors_ : ndarray of shape (n_classes,)
        The class shares the model's (calibrated) probabilities reflect.
    source_calibration_ : ndarray of shape (n_classes + 1,) or None
        The model's bias-corrected temperature scaling, applied before the
        shares are estimated and shifted; None if the model has none.
    priors_ : ndarray of shape (n_classes,)
        The site's estimated share of each class.
    priors_interval_ : ndarray of shape (2, n_classes)
        The 2.5 and 97.5 percentiles of ``priors_`` over bootstrap
        resamples (NaN with ``n_bootstrap=0``).
    n_samples_ : int
        Inputs the estimate used.
    n_outliers_ : int
        Inputs left out as outliers.
    site_uncertainty_ : ndarray of float
        The model's uncertainty of each input the estimate used (NaN where
        it gives none): how surely the model reads the site, which its
        shares cannot change.
    site_uncertain_ : bool
        Whether the model is less sure of the site's inputs than of its
        validation X-rays: more of ``site_uncertainty_`` lies above the
        model's review cut (:func:`measure_review_cut`) than the share of
        its validation X-rays there allows by chance (one-sided binomial
        test at 1 %, as the review report and ``sklearn-pneumo adapt``
        warn). False for a model without a review cut.
    label_shift_p_value_ : float
        How likely scores as far from a mixture of the model's per-class
        validation scores (``source_score_counts_``) as the site's are, were
        the site to differ by its shares alone: the G statistic of the
        best-fitting mixture of the binned scores, against a parametric
        bootstrap that redraws both the site and the validation X-rays. NaN
        for a model without that reference (one whose source shares were
        measured without labels).
    site_unlike_source_ : bool
        Whether ``label_shift_p_value_`` is below 1 %: the site's X-rays
        differ from the model's validation X-rays by more than their class
        shares. False where it is NaN.
    site_flagged_ : bool
        Whether the model flags more of the site's inputs as outliers than
        the share of its validation X-rays it flags (:func:`flagged_rate`)
        allows by chance (one-sided binomial test at 1 %). False for a
        model without outlier flags.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pneumo import CNNClassifier, PriorShiftAdapter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((60, 8 * 8), dtype=np.float32)
    >>> clf = CNNClassifier(epochs=1, model__filters=2, validation_split=0.25,
    ...                     random_state=0).fit(X, [0, 1] * 30)
    >>> adapter = PriorShiftAdapter(clf, n_bootstrap=20, random_state=0).fit(X)
    >>> adapter.priors_.shape, adapter.predict_proba(X[:2]).shape
    ((2,), (2, 2))
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["predict_proba"])],
        "skip_outliers": ["boolean"],
        "min_samples": [Interval(Integral, 2, None, closed="left")],
        "prior_strength": [Interval(Real, 0, None, closed="left")],
        "probabilities": [StrOptions({"calibrated", "model"})],
        "on_uncertain_site": [StrOptions({"keep", "adapt"})],
        "n_bootstrap": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        skip_outliers=True,
        min_samples=30,
        prior_strength=PRIOR_STRENGTH,
        probabilities="calibrated",
        on_uncertain_site="keep",
        n_bootstrap=200,
        random_state=None,
    ):
        self.estimator = estimator
        self.skip_outliers = skip_outliers
        self.min_samples = min_samples
        self.prior_strength = prior_strength
        self.probabilities = probabilities
        self.on_uncertain_site = on_uncertain_site
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    def __setstate__(self, state):
        # An adapter saved before ``prior_strength`` existed estimated its
        # shares by plain EM, one saved before ``probabilities`` existed
        # reweighed calibrated probabilities, and one saved before
        # ``on_uncertain_site`` existed adapted however unsure the model
        # was: each loads as such, for get_params and clone.
        defaults = {
            "prior_strength": 0.0,
            "probabilities": "calibrated",
            "on_uncertain_site": "adapt",
        }
        super().__setstate__({**defaults, **state})

    def _model(self):
        if isinstance(self.estimator, FrozenEstimator):
            return self.estimator.estimator
        return self.estimator

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Estimate the site's class shares from its inputs ``X``; ``y`` is ignored.

        Raises
        ------
        ValueError
            If the model has no ``source_priors_`` (the message says how to
            add them), or fewer than ``min_samples`` inputs are left once
            outliers are left out.
        """
        model = self._model()
        if isinstance(model, BaseEstimator):  # an OnnxScorer is fitted as read
            check_is_fitted(scoring_model(model))
        source = source_priors(model)
        outlier = None
        if hasattr(scoring_model(model), "assess"):
            assessed = model.assess(X)
            proba, outlier = assessed.proba, np.asarray(assessed.outlier)
            uncertainty = np.asarray(assessed.uncertainty, dtype=np.float64)
        else:
            proba = model.predict_proba(X)
            uncertainty = np.full(len(proba), np.nan)
        proba = np.asarray(proba, dtype=np.float64)
        self.n_outliers_ = int(outlier.sum()) if outlier is not None else 0
        self.site_flagged_ = outlier is not None and flagged_beyond(
            outlier, flagged_rate(model)
        )
        if self.skip_outliers and outlier is not None:
            proba, uncertainty = proba[~outlier], uncertainty[~outlier]
        if len(proba) < self.min_samples:
            flagged = (
                " Most were flagged as unlike the X-rays the model was trained "
                "on: are they chest X-rays, and does the site process them as "
                "the training X-rays were? ('sklearn-pneumo report' shows "
                "each one's flag and typicality.)"
                if self.n_outliers_ > len(proba)
                else ""
            )
            raise ValueError(
                f"{len(proba)} input(s) to estimate the class shares from, "
                f"{self.n_outliers_} more left out as outliers; at least "
                f"min_samples={self.min_samples} are needed, and a few hundred "
                f"give a narrow interval.{flagged}"
            )
        self.classes_ = np.asarray(scoring_model(model).classes_)
        self.source_priors_ = source
        self.source_calibration_ = getattr(
            final_step(model), "source_calibration_", None
        )
        check = unlike_source(model, proba, random_state=self.random_state)
        self.label_shift_p_value_ = np.nan if check is None else check.p_value
        self.site_unlike_source_ = check is not None and check.more
        proba = calibrated(proba, self.source_calibration_)
        self.n_samples_ = len(proba)
        self.site_uncertainty_ = uncertainty
        cut, share = review_cut(model)
        self.site_uncertain_ = bool(
            cut is not None and more_uncertain(uncertainty, cut, share).more
        )
        self.priors_ = em_priors(proba, source, strength=self.prior_strength)
        self.priors_interval_ = self._bootstrap(proba, source)
        # The prior keeps every share off 0 and 1: what the inputs alone say
        # is the plain estimate.
        plain = em_priors(proba, source) if self.prior_strength else self.priors_
        at_bound = [
            f"{name!r} {share:.4f}"
            for name, share in zip(self.classes_.tolist(), plain)
            if not _BOUND <= share <= 1 - _BOUND
        ]
        if at_bound:
            warnings.warn(
                f"Estimated class shares at their bound ({', '.join(at_bound)}"
                "; by the inputs alone, before the prior_strength): "
                "the inputs may hold none of a class, or the model may not read "
                "them. Check a few by eye before trusting the adapted answers.",
                UserWarning,
                stacklevel=2,
            )
        return self

    def _bootstrap(self, proba, source):
        if not self.n_bootstrap:
            return np.full((2, len(source)), np.nan)
        rng = check_random_state(self.random_state)
        estimates = [
            em_priors(
                proba[rng.randint(0, len(proba), len(proba))],
                source,
                strength=self.prior_strength,
            )
            for _ in range(self.n_bootstrap)
        ]
        return np.percentile(estimates, [2.5, 97.5], axis=0)

    def _shift(self):
        """``(target_priors, calibration)`` the answers are moved by.

        The source shares and no calibration (the model's answers) where
        ``on_uncertain_site="keep"`` and the site differs by more than its
        shares (:attr:`differs_beyond_shares`).
        The parameters may be set after fit (they need no refit), so they
        are checked here too.
        """
        check_is_fitted(self)
        validate_estimator_params(self)
        if self.on_uncertain_site == "keep":
            if not hasattr(self, "site_uncertain_"):
                raise ValueError(
                    "This adapter was fitted before on_uncertain_site existed "
                    "and did not measure site_uncertain_: fit it again, or set "
                    "on_uncertain_site='adapt'."
                )
            if self.differs_beyond_shares:
                return self.source_priors_, None
        calibration = None
        if self.probabilities == "calibrated":
            calibration = self.source_calibration_
        return self.priors_, calibration

    @property
    def differs_beyond_shares(self):
        """Whether the site differs from the model's validation X-rays by more
        than its class shares: ``site_uncertain_``, ``site_unlike_source_``
        or ``site_flagged_``.

        An adapter saved before the last two existed did not test them, and
        counts ``site_uncertain_`` alone.
        """
        check_is_fitted(self)
        return bool(
            self.site_uncertain_
            or getattr(self, "site_unlike_source_", False)
            or getattr(self, "site_flagged_", False)
        )

    def _shifted(self, proba):
        return shift_priors(proba, self.source_priors_, *self._shift())

    def predict_proba(self, X):
        """The model's probabilities, moved to the site's class shares."""
        check_is_fitted(self)
        return self._shifted(self._model().predict_proba(X))

    def predict(self, X):
        """The class of largest adapted probability."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @available_if(_estimator_has("assess"))
    def assess(self, X):
        """The model's ``assess``, with adapted probabilities.

        Typicality, outlier flags, uncertainty and ``border_trimmed`` are the
        model's: they do not depend on the class shares.
        """
        check_is_fitted(self)
        assessed = self._model().assess(X)
        assessed["proba"] = self._shifted(assessed.proba)
        return assessed

    @available_if(_estimator_has("score_samples"))
    def score_samples(self, X):
        """The model's typicality of each input (unchanged by adapting)."""
        return self._model().score_samples(X)

    @available_if(_estimator_has("is_outlier"))
    def is_outlier(self, X):
        """The model's outlier flags (unchanged by adapting)."""
        return self._model().is_outlier(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = True
        return tags
