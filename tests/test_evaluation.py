"""The evaluation's figures and their intervals."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sklearn_pneumo import (
    evaluate_binary,
    evaluate_multiclass,
    format_report,
    proportion_interval,
)

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile


def wilson(hits, total, z=Z95):
    """Wilson's score interval, from its closed form."""
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = (
        z
        * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
        / (1 + z * z / total)
    )
    return centre - half, centre + half


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_interval_is_wilsons(counts):
    hits, total = counts
    low, high = proportion_interval(hits, total)
    assert np.allclose((low, high), wilson(hits, total), atol=1e-9)
    assert 0.0 <= low <= hits / total <= high <= 1.0


def test_interval_narrows_with_more_xrays():
    few, many = proportion_interval(33, 40), proportion_interval(330, 400)
    assert few[0] < many[0] < 0.825 < many[1] < few[1]
    assert all(math.isnan(v) for v in proportion_interval(0, 0))


def test_binary_scores_carry_the_intervals_of_their_counts():
    y = np.array([0] * 40 + [1] * 60)
    proba = np.r_[np.linspace(0, 0.7, 40), np.linspace(0.3, 1, 60)]
    scores = evaluate_binary(y, proba)
    (tn, fp), (fn, tp) = scores["confusion_matrix"]
    expected = {
        "accuracy": proportion_interval(tn + tp, 100),
        "sensitivity": proportion_interval(tp, tp + fn),
        "specificity": proportion_interval(tn, tn + fp),
    }
    for name, interval in expected.items():
        assert scores["intervals"][name] == list(interval)
        assert interval[0] < scores[name] < interval[1]


@pytest.mark.filterwarnings("ignore:Only one class")  # ROC AUC undefined too
def test_one_class_leaves_the_other_recall_without_an_interval():
    scores = evaluate_binary([1, 1, 1], [0.9, 0.8, 0.2])
    assert all(math.isnan(v) for v in scores["intervals"]["specificity"])
    text = format_report(scores)
    specificity = next(line for line in text.splitlines() if "specificity" in line)
    assert "interval" not in specificity


def test_report_text_shows_the_intervals():
    scores = evaluate_binary([0] * 40 + [1] * 40, [0.2] * 33 + [0.8] * 47)
    lines = dict(line.split(None, 1) for line in format_report(scores).splitlines()[:4])
    low, high = proportion_interval(33, 40)
    assert lines["specificity"] == f"0.825  (95% interval {low:.3f} to {high:.3f})"
    assert "interval" not in lines["roc_auc"]
    # Scores written before the intervals (older records) still render.
    del scores["intervals"]
    assert format_report(scores).splitlines()[2] == "specificity  0.825"


def test_multiclass_recalls_carry_their_intervals():
    classes = ["bacterial", "normal", "viral"]
    y = np.array(["normal"] * 10 + ["bacterial"] * 10 + ["viral"] * 10)
    predicted = np.array(
        ["normal"] * 9
        + ["viral"]
        + ["bacterial"] * 10
        + ["viral"] * 4
        + ["bacterial"] * 6
    )
    proba = np.array([[c == p for c in classes] for p in predicted], dtype=float)
    scores = evaluate_multiclass(y, proba, classes)
    assert scores["per_class"]["viral"]["recall_interval"] == list(
        proportion_interval(4, 10)
    )
    assert scores["intervals"]["accuracy"] == list(proportion_interval(23, 30))
    text = format_report(scores)
    low, high = proportion_interval(9, 10)
    assert f"0.900  ({low:.3f} to {high:.3f})" in text
