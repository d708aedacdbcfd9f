"""A few labelled X-rays of a site: how accuracy and ECE move with 25 to 200.

The shipped binary model scores the X-rays of its fit's hold-out (training
folder X-rays it never fit), as they are and as another site may send them
(``--copies``, entries of ``_validation.SITE_CHANGES``). For each copy and
each number of labels ``n``, ``--draws`` times: ``n`` X-rays of whole
patients are drawn as the site's labelled ones, the model is calibrated on
them as ``sklearn-pneumo calibrate`` does (scikit-learn's
``CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid")``, on the
model's log-odds), and the X-rays of the other patients are scored before
and after. Reported: the medians over the draws of accuracy and ECE, and the
10th and 90th percentiles of accuracy after. The model's probabilities are
computed once per copy: calibrating reads nothing else.

    python benchmarks/bench_few_labels.py \\
        --train-dir ../shared/data/chest_xray_224/train --out few_labels.json
"""

import argparse
import json
from pathlib import Path

import numpy as np
from _validation import site_copies
from bench_prior_shift import unseen_model, unseen_xrays
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from sklearn_pneumo import expected_calibration_error

COUNTS = (25, 50, 100, 200)


class Scored(ClassifierMixin, BaseEstimator):
    """A fitted model's answers, looked up: ``X`` holds row numbers.

    ``decision_function`` gives the log-odds, as every model of the package.
    """

    def __init__(self, proba):
        self.proba = proba

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        p = self.proba[np.asarray(X).ravel()]
        return np.column_stack([1 - p, p])

    def decision_function(self, X):
        p = np.clip(self.proba[np.asarray(X).ravel()], 1e-7, 1 - 1e-7)
        return np.log(p / (1 - p))

    def predict(self, X):
        return (self.proba[np.asarray(X).ravel()] >= 0.5).astype(int)


def figures(y, p):
    return float(((p >= 0.5) == y).mean()), float(expected_calibration_error(y, p))


def calibrate_on(proba, chosen, y):
    """``Scored(proba)`` calibrated as ``calibrate`` does, on the ``chosen`` rows.

    Its ``predict_proba`` then takes row numbers as a column.
    """
    return CalibratedClassifierCV(
        FrozenEstimator(Scored(proba).fit(None, None)), method="sigmoid"
    ).fit(chosen.reshape(-1, 1), y[chosen])


def labelled_draw(groups, n, rng):
    """Rows of whole patients, drawn until at least ``n`` rows, and the rest."""
    patients = rng.permutation(np.unique(groups))
    chosen, count = [], 0
    for patient in patients:
        if count >= n:
            break
        rows = np.flatnonzero(groups == patient)
        chosen.append(rows)
        count += len(rows)
    chosen = np.concatenate(chosen)[:n]
    rest = np.setdiff1d(np.arange(len(groups)), chosen)
    rest = rest[~np.isin(groups[rest], groups[chosen])]
    return chosen, rest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument(
        "--copies", nargs="+", default=["plain", "clahe", "framing", "gamma_1.25"]
    )
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths, labels, groups = unseen_xrays("normal-pneumonia", args.train_dir)
    y = np.asarray(labels).astype(int)
    model = unseen_model("normal-pneumonia", input="images")
    copies = site_copies(paths, labels)
    report = {"xrays": len(y), "draws": args.draws, "copies": {}}
    for name in args.copies:
        proba = model.predict_proba(copies[name])[:, 1]
        rows = {}
        for n in COUNTS:
            rng = np.random.default_rng(0)
            before, after = [], []
            for _ in range(args.draws):
                chosen, rest = labelled_draw(groups, n, rng)
                if len(np.unique(y[chosen])) < 2:
                    continue
                calibrated = calibrate_on(proba, chosen, y)
                p_after = calibrated.predict_proba(rest.reshape(-1, 1))[:, 1]
                before.append(figures(y[rest], proba[rest]))
                after.append(figures(y[rest], p_after))
            before, after = np.array(before), np.array(after)
            rows[n] = {
                "accuracy_before": float(np.median(before[:, 0])),
                "accuracy_after": float(np.median(after[:, 0])),
                "accuracy_after_p10_p90": np.percentile(after[:, 0], [10, 90]).tolist(),
                "ece_before": float(np.median(before[:, 1])),
                "ece_after": float(np.median(after[:, 1])),
                "draws": len(after),
            }
            print(
                f"{name:<11} {n:>3} labels: accuracy {rows[n]['accuracy_before']:.3f}"
                f" -> {rows[n]['accuracy_after']:.3f} (10-90 %: "
                f"{rows[n]['accuracy_after_p10_p90'][0]:.3f}-"
                f"{rows[n]['accuracy_after_p10_p90'][1]:.3f}), ECE "
                f"{rows[n]['ece_before']:.3f} -> {rows[n]['ece_after']:.3f}",
                flush=True,
            )
        report["copies"][name] = rows
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
