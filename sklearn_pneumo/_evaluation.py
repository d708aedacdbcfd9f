"""The paper's evaluation: accuracy, sensitivity, specificity, ROC AUC."""

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)


def proportion_interval(hits, total, *, confidence=0.95):
    """Wilson score interval of the proportion ``hits / total``.

    A recall or an accuracy measured on a few labelled X-rays is uncertain:
    40 normal X-rays of which 33 are called normal give a specificity of
    0.825 that could well be 0.68 or 0.91. The Wilson interval (scipy's
    ``binomtest(...).proportion_ci(method="wilson")``) holds its coverage
    for small counts and proportions near 0 or 1, where the normal
    approximation does not.

    Parameters
    ----------
    hits, total : int
        Right answers, and answers.
    confidence : float, default=0.95

    Returns
    -------
    tuple of (float, float)
        ``(low, high)``; ``(nan, nan)`` when ``total`` is 0.

    Examples
    --------
    >>> low, high = proportion_interval(33, 40)
    >>> round(low, 3), round(high, 3)
    (0.681, 0.913)
    >>> proportion_interval(0, 0)
    (nan, nan)
    """
    if total == 0:
        return float("nan"), float("nan")
    interval = binomtest(int(hits), int(total)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return float(interval.low), float(interval.high)


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
        (recall of normal), ``roc_auc``, ``ece`` (expected calibration error),
        ``confusion_matrix`` (``[[TN, FP], [FN, TP]]`` as nested lists) and
        ``intervals``: the 95 % Wilson interval of the accuracy, sensitivity
        and specificity, each ``[low, high]`` (:func:`proportion_interval`).

    Examples
    --------
    >>> scores = evaluate_binary([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9])
    >>> scores["sensitivity"], scores["specificity"], scores["roc_auc"]
    (1.0, 0.5, 1.0)
    >>> y = ["NORMAL", "NORMAL", "PNEUMONIA", "PNEUMONIA"]
    >>> evaluate_binary(y, [0.1, 0.6, 0.7, 0.9], pos_label="PNEUMONIA")["accuracy"]
    0.75
    >>> [round(v, 3) for v in scores["intervals"]["specificity"]]
    [0.095, 0.905]
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
        "intervals": {
            "accuracy": list(proportion_interval(tn + tp, len(y_true))),
            "sensitivity": list(proportion_interval(tp, tp + fn)),
            "specificity": list(proportion_interval(tn, tn + fp)),
        },
    }


def evaluate_multiclass(y_true, proba, classes):
    """Score the probabilities of every class (two or more).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        The class of each sample, one of ``classes``.
    proba : array-like of shape (n, n_classes)
        Predicted probabilities, columns in ``classes`` order (a classifier's
        ``predict_proba`` and ``classes_``).
    classes : array-like of shape (n_classes,)

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``roc_auc`` (macro average of
        one-vs-rest), and per class (keyed by ``str(class)``): ``recall``
        (sensitivity), its 95 % Wilson interval ``recall_interval``
        (``[low, high]``, :func:`proportion_interval`), ``precision`` and
        ``roc_auc`` (that class against the rest), under ``per_class``;
        ``classes`` (as strings), ``confusion_matrix`` (rows: true class,
        columns: predicted, in ``classes`` order) and ``intervals``: the
        accuracy's 95 % Wilson interval.

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.5, 0.4]])
    >>> scores = evaluate_multiclass(["normal", "bacterial", "viral"], proba,
    ...                              ["normal", "bacterial", "viral"])
    >>> scores["accuracy"], scores["per_class"]["viral"]["recall"]
    (0.6666666666666666, 0.0)
    """
    classes = np.asarray(classes)
    proba = np.asarray(proba, dtype=float)
    y_true = np.asarray(y_true)
    y_pred = classes[np.argmax(proba, axis=1)]
    precision, recall, _, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0.0
    )
    matrix = confusion_matrix(y_true, y_pred, labels=classes)
    per_class = {}
    for i, name in enumerate(classes):
        is_class = y_true == name
        auc = (
            float(roc_auc_score(is_class, proba[:, i]))
            if 0 < is_class.sum() < len(is_class)
            else float("nan")
        )
        per_class[str(name)] = {
            "recall": float(recall[i]),
            "recall_interval": list(proportion_interval(matrix[i, i], matrix[i].sum())),
            "precision": float(precision[i]),
            "roc_auc": auc,
        }
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "roc_auc": float(np.nanmean([c["roc_auc"] for c in per_class.values()])),
        "classes": [str(c) for c in classes],
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "intervals": {
            "accuracy": list(proportion_interval(np.trace(matrix), len(y_true)))
        },
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
    """Render :func:`evaluate_binary` or :func:`evaluate_multiclass` scores as text.

    Accuracies and recalls come with their 95 % Wilson interval, which says
    how far a figure measured on these X-rays may be from the one to expect.

    Examples
    --------
    >>> print(format_report(evaluate_binary([0, 0, 1, 1], [0.2, 0.6, 0.7, 0.8])))
    accuracy     0.750  (95% interval 0.301 to 0.954)
    sensitivity  1.000  (95% interval 0.342 to 1.000)
    specificity  0.500  (95% interval 0.095 to 0.905)
    roc_auc      1.000
    confusion matrix (rows: true normal, pneumonia; columns: predicted)
                 normal  pneumonia
      normal          1          1
      pneumonia       0          2
    """
    if "per_class" in scores:
        return _format_multiclass(scores)
    (tn, fp), (fn, tp) = scores["confusion_matrix"]
    intervals = scores.get("intervals", {})
    lines = [
        f"{name:<12} {scores[name]:.3f}"
        + (f"  {_interval_text(intervals[name])}" if name in intervals else "")
        for name in ("accuracy", "sensitivity", "specificity", "roc_auc")
    ]
    lines += [
        "confusion matrix (rows: true normal, pneumonia; columns: predicted)",
        f"{'':13}{'normal':>6}  pneumonia",
        f"  normal    {tn:>7} {fp:>10}",
        f"  pneumonia {fn:>7} {tp:>10}",
    ]
    return "\n".join(lines)


def _interval_text(interval):
    """``"(95% interval 0.680 to 0.912)"``, or ``""`` where it is undefined."""
    low, high = interval
    if np.isnan(low):
        return ""
    return f"(95% interval {low:.3f} to {high:.3f})"


def _format_multiclass(scores):
    """The text table of :func:`evaluate_multiclass` scores.

    Examples
    --------
    >>> import numpy as np
    >>> scores = evaluate_multiclass([0, 1, 2], np.eye(3), [0, 1, 2])
    >>> print(format_report(scores))  # doctest: +NORMALIZE_WHITESPACE
    accuracy           1.000  (95% interval 0.439 to 1.000)
    balanced_accuracy  1.000
    roc_auc            1.000  (macro, one-vs-rest)
    class      recall  (95% interval)  precision  roc_auc
    0           1.000  (0.207 to 1.000)    1.000    1.000
    1           1.000  (0.207 to 1.000)    1.000    1.000
    2           1.000  (0.207 to 1.000)    1.000    1.000
    confusion matrix (rows: true class; columns: predicted, in the order above)
      1  0  0
      0  1  0
      0  0  1
    """
    width = max(len(name) for name in [*scores["classes"], "class"]) + 2
    accuracy = scores.get("intervals", {}).get("accuracy", (np.nan, np.nan))
    lines = [
        f"accuracy           {scores['accuracy']:.3f}  {_interval_text(accuracy)}",
        f"balanced_accuracy  {scores['balanced_accuracy']:.3f}",
        f"roc_auc            {scores['roc_auc']:.3f}  (macro, one-vs-rest)",
        f"{'class':<{width}}{'recall':>7}  {'(95% interval)':<16}"
        f"{'precision':>9}{'roc_auc':>9}",
    ]
    for name, row in scores["per_class"].items():
        low, high = row.get("recall_interval", (np.nan, np.nan))
        interval = "" if np.isnan(low) else f"({low:.3f} to {high:.3f})"
        lines.append(
            f"{name:<{width}}{row['recall']:>7.3f}  {interval:<16}"
            f"{row['precision']:>9.3f}{row['roc_auc']:>9.3f}"
        )
    lines.append(
        "confusion matrix (rows: true class; columns: predicted, in the order above)"
    )
    cells = max(len(str(v)) for row in scores["confusion_matrix"] for v in row) + 1
    lines += [
        " " + "".join(f"{v:>{cells + 1}}" for v in row)
        for row in scores["confusion_matrix"]
    ]
    return "\n".join(lines)
