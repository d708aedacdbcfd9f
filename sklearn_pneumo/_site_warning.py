"""The site warning: more uncertain answers than the model's validation had.

A model's review cut sends a known share of the X-rays it was validated on
to review (the shipped models': the 10 % most uncertain, recorded as
``pretrained_record()["review"]["share_above"]``). A site whose X-rays the
model reads less surely sends more. The review page
(:func:`~sklearn_pneumo.review_report`) and :func:`~sklearn_pneumo.predict_files`
(``sklearn-pneumo report`` and ``predict``) compare the two shares and
warn where the excess is more than chance.
"""

import numpy as np
from scipy.stats import binomtest
from sklearn.utils import Bunch


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


def compare_share(above, n, share, *, alpha=0.01):
    """Whether ``above`` of ``n`` answers is more than ``share`` allows.

    A one-sided binomial test of the share above the cut against
    ``share``, at level ``alpha``.

    Returns
    -------
    Bunch
        ``above`` and ``n`` (as given), ``share``, ``p_value`` and ``more``
        (whether ``p_value < alpha``).

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
    return Bunch(above=above, n=n, share=share, p_value=p_value, more=p_value < alpha)


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
        (uncertainties > cut).sum(), len(uncertainties), share, alpha=alpha
    )


def uncertainty_warning(uncertain):
    """What the page and the command line say when ``uncertain.more``."""
    return (
        f"The model is less sure of these X-rays than of those it was validated "
        f"on: {uncertain.above / uncertain.n:.0%} of its answers here lie above "
        f"the uncertainty cut, against {uncertain.share:.0%} of those (binomial "
        f"test, p = {uncertain.p_value:.2g}). Its answers may not hold here: check "
        "them on labelled X-rays of this site before trusting them."
    )
