"""``decision_function`` from probabilities: log-odds, the scale calibration wants.

scikit-learn's ``CalibratedClassifierCV(method="sigmoid")`` and its
threshold tuners read ``decision_function`` where a classifier has one, and
Platt's sigmoid is a map of log-odds: given probabilities near 0 and 1 it
fits poorly. Every model of this package gives its log-odds.
"""

import numpy as np

#: Probabilities are clipped to [EPS, 1 - EPS] before their logarithm.
EPS = 1e-7


def log_odds(proba):
    """``log(p1 / p0)`` for two classes, else ``log(p)`` per class.

    Examples
    --------
    >>> import numpy as np
    >>> log_odds(np.array([[0.2, 0.8], [0.5, 0.5]])).round(4).tolist()
    [1.3863, 0.0]
    """
    proba = np.clip(np.asarray(proba, dtype=np.float64), EPS, 1 - EPS)
    if proba.shape[1] == 2:
        return np.log(proba[:, 1]) - np.log(proba[:, 0])
    return np.log(proba)


class LogOddsMixin:
    """``decision_function``: the log-odds of :meth:`predict_proba`."""

    def decision_function(self, X):
        """Log-odds of the second class (two classes), else log-probabilities.

        Parameters
        ----------
        X : array-like
            As :meth:`predict_proba` takes it.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return log_odds(self.predict_proba(X))
