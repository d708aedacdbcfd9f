"""The paper's evaluation: accuracy, sensitivity, specificity, ROC AUC."""

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score


def evaluate_binary(y_true, proba, *, threshold=0.5, pos_label=1):
    """Score probabilities of the positive class (pneumonia, label 1).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0 for normal, 1 for pneumonia; or any two labels, with ``pos_label``
        naming pneumonia (e.g. "NORMAL" and "PNEUMONIA").
    proba : array-like of shape (n,)
        Predicted probability of pneumonia.
    threshold : float, default=0.5
        Probability from which a sample is called pneumonia.
    pos_label : int or str, default=1
        The label of pneumonia in ``y_true``; every other label is normal.

    Returns
    -------
    dict
        ``accuracy``, ``sensitivity`` (recall of pneumonia), ``specificity``
        (recall of normal), ``roc_auc``, ``ece`` (expected calibration error)
        and ``confusion_matrix``
        (``[[TN, FP], [FN, TP]]`` as nested lists).

    Examples
    --------
    >>> scores = evaluate_binary([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9])
    >>> scores["sensitivity"], scores["specificity"], scores["roc_auc"]
    (1.0, 0.5, 1.0)
    >>> y = ["NORMAL", "NORMAL", "PNEUMONIA", "PNEUMONIA"]
    >>> evaluate_binary(y, [0.1, 0.6, 0.7, 0.9], pos_label="PNEUMONIA")["accuracy"]
    0.75
    """
    y_true = (np.asarray(y_true) == pos_label).astype(int)
    proba = np.asarray(proba)
    y_pred = (proba >= threshold).astype(int)
    (tn, fp), (fn, tp) = confusion_matrix(y_true, y_pred, labels=[0, 1])
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "sensitivity": float(tp / (tp + fn)) if tp + fn else float("nan"),
        "specificity": float(tn / (tn + fp)) if tn + fp else float("nan"),
        "roc_auc": float(roc_auc_score(y_true, proba)),
        "ece": expected_calibration_error(y_true, proba),
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
    }


def expected_calibration_error(y_true, proba, *, n_bins=10):
    """Expected calibration error of the predicted class's confidence.

    Samples are binned by the probability of the class they are assigned to
    (``max(p, 1 - p)``); the error is the mean, weighted by bin size, of
    ``|accuracy - mean confidence|`` over equal-width bins.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0 or 1.
    proba : array-like of shape (n,)
        Predicted probability of class 1.
    n_bins : int, default=10

    Returns
    -------
    float

    Examples
    --------
    >>> round(expected_calibration_error([0, 1, 1, 1], [0.0, 1.0, 1.0, 0.0]), 3)
    0.25
    """
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=float)
    confidence = np.maximum(proba, 1 - proba)
    correct = (proba >= 0.5).astype(int) == y_true
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        members = bins == b
        gap = abs(correct[members].mean() - confidence[members].mean())
        error += members.mean() * gap
    return float(error)


def format_report(scores):
    """Render :func:`evaluate_binary` scores as a short text table.

    Examples
    --------
    >>> print(format_report(evaluate_binary([0, 1], [0.2, 0.8])))
    accuracy     1.000
    sensitivity  1.000
    specificity  1.000
    roc_auc      1.000
    confusion matrix (rows: true normal, pneumonia; columns: predicted)
                 normal  pneumonia
      normal          1          0
      pneumonia       0          1
    """
    (tn, fp), (fn, tp) = scores["confusion_matrix"]
    lines = [
        f"{name:<12} {scores[name]:.3f}"
        for name in ("accuracy", "sensitivity", "specificity", "roc_auc")
    ]
    lines += [
        "confusion matrix (rows: true normal, pneumonia; columns: predicted)",
        f"{'':13}{'normal':>6}  pneumonia",
        f"  normal    {tn:>7} {fp:>10}",
        f"  pneumonia {fn:>7} {tp:>10}",
    ]
    return "\n".join(lines)
