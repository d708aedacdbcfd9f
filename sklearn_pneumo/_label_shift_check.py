"""Whether a site's answers look like the source's, mixed in other shares.

Adapting to a site's class shares (:class:`PriorShiftAdapter`) assumes the
site differs by its shares alone: each class's X-rays look to the model as
its validation X-rays of that class did. Then the site's scores are a
mixture of the source's per-class scores, in the site's shares. Where the
site changes the X-rays themselves (a finer sharpening, another detector),
the model may score one class's X-rays as the other's more often; EM reads
that as a change of shares and moves every answer further the wrong way.

:func:`score_reference` keeps, from labelled held-out X-rays of the source,
how often each class's calibrated scores fall into each of a few bins: per
predicted class, bins of its probability cut at the held-out quantiles.
:func:`label_shift_check` fits the site's bin counts with a mixture of
those per-class frequencies (shares by maximum likelihood) and measures
how badly it fits (the G statistic), against a parametric bootstrap that
redraws both the site and the held-out X-rays the reference was counted on
(a reference of a few hundred X-rays is itself noisy).

Several X-rays of one patient look alike, so a reference of a few hundred
X-rays from half as many patients is noisier than as many independent
X-rays. Given the patient of each held-out X-ray, :func:`score_reference`
measures each class's design effect (how many times the variance of its
bin shares exceeds that of independent X-rays, by patient) and the check
counts each class's X-rays as that many fewer, the site's too, in its
mixture of the classes (a first-order Rao-Scott correction): the site's
X-rays come from patients as well.
"""

import numpy as np
from sklearn.utils import Bunch, check_random_state

#: Bins per predicted class of :func:`score_reference`.
N_BINS = 5

#: Bootstrap draws of :func:`label_shift_check`: its smallest p-value is
#: ``1 / (N_RESAMPLES + 1)``.
N_RESAMPLES = 500

#: Pseudo-count added to every reference cell, so that no bin is impossible.
_PSEUDO_COUNT = 0.5


def _bins(proba, edges):
    """Bin of each row of ``proba``: its predicted class, then its probability."""
    proba = np.asarray(proba, dtype=np.float64)
    predicted = proba.argmax(axis=1)
    confidence = proba[np.arange(len(proba)), predicted]
    within = np.zeros(len(proba), dtype=np.intp)
    for c, class_edges in enumerate(edges):
        chosen = predicted == c
        within[chosen] = np.searchsorted(class_edges, confidence[chosen], side="right")
    return predicted * (edges.shape[1] + 1) + within


def _design_effects(bins, labels, groups, n_cells, n_classes):
    """Per class, the variance of its bin shares by group over that of single draws.

    The shares are ratio estimates over the class's groups (patients); their
    variance by group, summed over the bins, against the multinomial's; at
    least 1, and 1 for a class of fewer than two groups.
    """
    effects = np.ones(n_classes)
    for c in range(n_classes):
        mine = labels == c
        group = np.unique(groups[mine], return_inverse=True)[1]
        n_groups = group.max() + 1 if mine.any() else 0
        if n_groups < 2:
            continue
        counts = np.zeros((n_groups, n_cells))
        np.add.at(counts, (group, bins[mine]), 1)
        sizes, total = counts.sum(axis=1), mine.sum()
        shares = counts.sum(axis=0) / total
        by_group = ((counts - sizes[:, None] * shares) ** 2).sum() / total**2
        by_group *= n_groups / (n_groups - 1)
        single = (shares * (1 - shares)).sum() / total
        if single > 0:
            effects[c] = max(1.0, by_group / single)
    return effects


def score_reference(proba, labels, groups=None, *, n_bins=N_BINS):
    """How each class's held-out scores spread over bins: the check's reference.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Calibrated probabilities of labelled X-rays the model was not fitted on.
    labels : array-like of shape (n_samples,)
        Their class indices.
    groups : array-like of shape (n_samples,), default=None
        The patient of each X-ray. Without it, every X-ray counts as its
        own patient (design effects of 1).
    n_bins : int, default=5
        Bins per predicted class, cut at the quantiles of its probability.

    Returns
    -------
    Bunch
        ``edges`` (n_classes, n_bins - 1): the inner bin edges of each
        predicted class; ``counts`` (n_classes, n_classes * n_bins): the
        X-rays of each class in each bin; ``design_effects`` (n_classes,):
        how many X-rays of each class count as one independent draw.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.linspace(0.01, 0.99, 40)
    >>> reference = score_reference(np.column_stack([1 - p, p]), p > 0.5, n_bins=2)
    >>> reference.counts.tolist()
    [[10, 10, 0, 0], [0, 0, 10, 10]]

    Patients whose X-rays fall in the same bins count as fewer draws (two
    alike X-rays per patient: about 2, measured on 10 patients a class):

    >>> twins = np.arange(40) // 2
    >>> score_reference(np.column_stack([1 - p, p]), p > 0.5, twins, n_bins=2)[
    ...     "design_effects"
    ... ].round(2).tolist()
    [2.22, 2.22]
    """
    proba = np.asarray(proba, dtype=np.float64)
    labels = np.asarray(labels).astype(np.intp)
    n_classes = proba.shape[1]
    predicted = proba.argmax(axis=1)
    quantiles = np.arange(1, n_bins) / n_bins
    edges = np.array(
        [
            np.quantile(proba[predicted == c, c], quantiles)
            if (predicted == c).any()
            else np.full(n_bins - 1, 1.0)
            for c in range(n_classes)
        ]
    )
    bins = _bins(proba, edges)
    counts = np.zeros((n_classes, n_classes * n_bins), dtype=np.int64)
    np.add.at(counts, (labels, bins), 1)
    effects = np.ones(n_classes)
    if groups is not None:
        groups = np.asarray(groups)
        effects = _design_effects(bins, labels, groups, counts.shape[1], n_classes)
    return Bunch(edges=edges, counts=counts, design_effects=effects)


def _mixture_shares(site_counts, frequencies, max_iter=500, tol=1e-9):
    """Shares that make the mixture of ``frequencies`` likeliest for the counts."""
    shares = np.full(len(frequencies), 1 / len(frequencies))
    for _ in range(max_iter):
        joint = shares[:, None] * frequencies
        responsibility = joint / joint.sum(axis=0, keepdims=True)
        updated = (responsibility * site_counts).sum(axis=1) / site_counts.sum()
        if np.abs(updated - shares).max() < tol:
            return updated
        shares = updated
    return shares


def _misfit(site_counts, reference_counts):
    """The G statistic of the best mixture, and its shares."""
    smoothed = reference_counts + _PSEUDO_COUNT
    frequencies = smoothed / smoothed.sum(axis=1, keepdims=True)
    shares = _mixture_shares(site_counts, frequencies)
    expected = site_counts.sum() * (shares @ frequencies)
    seen = site_counts > 0
    statistic = 2 * np.sum(
        site_counts[seen] * np.log(site_counts[seen] / expected[seen])
    )
    return statistic, shares, frequencies


def label_shift_check(proba, reference, *, n_resamples=N_RESAMPLES, random_state=None):
    """Test whether ``proba`` is the reference's classes mixed in some shares.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Calibrated probabilities of a site's X-rays (outliers left out).
    reference : Bunch
        :func:`score_reference` of the source's held-out X-rays (one without
        ``design_effects`` counts every X-ray as its own patient).
    n_resamples : int, default=500
        Parametric bootstrap draws of the site and of the reference.
    random_state : int, RandomState or None, default=None

    Returns
    -------
    Bunch
        ``statistic`` (G), ``p_value`` (small: the site's scores are no
        mixture of the source's classes), ``shares`` (the mixture's) and
        ``n`` (X-rays tested).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> def scores(y, shift=0.0):  # log-odds of pneumonia, as a model gives
    ...     p = 1 / (1 + np.exp(-rng.normal(np.where(y, 3.0, -3.0 + shift), 1.5)))
    ...     return np.column_stack([1 - p, p])
    >>> held_out = rng.random(500) < 0.7
    >>> reference = score_reference(scores(held_out), held_out)
    >>> site = rng.random(500) < 0.3  # fewer pneumonia: a mixture still
    >>> label_shift_check(scores(site), reference, random_state=0).p_value > 0.05
    True
    >>> moved = label_shift_check(scores(site, shift=2.5), reference, random_state=0)
    >>> moved.p_value < 0.01  # normal X-rays scored as pneumonia more often
    True
    """
    counts = np.asarray(reference.counts, dtype=np.float64)
    effects = reference.get("design_effects")
    effects = np.ones(len(counts)) if effects is None else np.asarray(effects, float)
    site_counts = np.bincount(
        _bins(proba, np.asarray(reference.edges)), minlength=counts.shape[1]
    ).astype(np.float64)
    n = int(site_counts.sum())
    shares = _misfit(site_counts, counts)[1]
    # Counted as independent draws: each class's X-rays by its design
    # effect, the site's by the effect of its mixture of the classes.
    site_effect = float(shares @ effects)
    counts = counts / effects[:, None]
    site_counts = site_counts / site_effect
    statistic, shares, frequencies = _misfit(site_counts, counts)
    rng = check_random_state(random_state)
    n_site = max(1, round(n / site_effect))
    n_class = np.maximum(1, np.round(counts.sum(axis=1))).astype(np.int64)
    expected = shares @ frequencies
    exceed = 0
    for _ in range(n_resamples):
        drawn_reference = np.array(
            [rng.multinomial(n, f) for n, f in zip(n_class, frequencies)]
        )
        drawn_site = rng.multinomial(n_site, expected).astype(np.float64)
        exceed += _misfit(drawn_site, drawn_reference)[0] >= statistic
    return Bunch(
        statistic=float(statistic),
        p_value=float((exceed + 1) / (n_resamples + 1)),
        shares=shares,
        n=n,
    )


def unlike_source_warning(check):
    """What the command line and the page say where ``check.more``.

    Examples
    --------
    >>> from sklearn.utils import Bunch
    >>> print(unlike_source_warning(Bunch(p_value=0.004, n=120)))
    ... # doctest: +NORMALIZE_WHITESPACE
    The model scores these X-rays unlike its validation X-rays in any mix of
    the classes (120 X-rays, p = 0.004): this site differs by more than its
    class shares. Its answers may not hold here: check them on labelled
    X-rays of this site before trusting them.

    Where no bootstrap draw fit as badly, the p-value is at the bootstrap's
    floor and says only that it is below it:

    >>> floored = unlike_source_warning(Bunch(p_value=1 / 501, n=120))
    >>> "(120 X-rays, p < 0.002)" in floored
    True
    """
    floor = 1 / (N_RESAMPLES + 1)
    p_value = (
        f"p < {floor:.1g}" if check.p_value <= floor else f"p = {check.p_value:.2g}"
    )
    return (
        "The model scores these X-rays unlike its validation X-rays in any mix "
        f"of the classes ({check.n} X-rays, {p_value}): this site "
        "differs by more than its class shares. Its answers may not hold here: "
        "check them on labelled X-rays of this site before trusting them."
    )
