"""Trust: outlier flags, uncertainty and test-time augmentation, on validation.

Scores networks saved by ``bench_accuracy.py --save-dir`` (trained on the
training part of its patient-grouped split, same ``--random-state``) on the
validation part and its shifted copies (``shifted_copies``), the 16 bundled
sample X-rays, and inputs that are not pediatric chest X-rays
(``make_outlier_corpus``, with validation X-rays turned, inverted, tiled
into collages and cropped to one lung). For
each network alone and for all of them averaged (as ``PneumoEnsemble``
does), with and without test-time augmentation, it reports:

- ROC AUC and accuracy at 0.5 on every copy;
- the share flagged (``outlier``) of validation, of the samples and of each
  kind of outlier;
- the error rate among the 10 % most uncertain predictions on validation
  against the other 90 % (uncertainty is the spread over views and members).

``--fit-outliers`` first fits each network's outlier model as its ``fit``
would (the training part; the threshold on the hold-out its
``validation_split`` kept), for networks saved before outlier scores
existed.

    python benchmarks/bench_trust.py --train-dir chest_xray/train \\
        --models results/stretch_exposure_0.pneumo results/stretch_exposure_1.pneumo \\
        --out trust.json
"""

import argparse
import json
from pathlib import Path

import numpy as np
from _validation import (
    SHIFTED,
    fit_outliers,
    joined_ensemble,
    patient_split,
    shifted_copies,
)
from sklearn.metrics import roc_auc_score

from sklearn_pneumo import ImageLoader, load_model
from sklearn_pneumo.datasets import (
    load_chest_xray_sample,
    make_outlier_corpus,
)

#: Validation X-rays turned and inverted for the outlier corpus.
TURNED = 200


def assess_all(pipe, copies, tta):
    """The final step's ``assess`` on every copy's rows, with or without TTA.

    ``pipe`` ends in a network (``cnn``) or an ensemble of them.
    """
    final = pipe[-1].set_params(test_time_augmentation=tta)
    return {copy: final.assess(rows) for copy, rows in copies.items()}


def summarise(results, y):
    """The figures of one model (or ensemble) on every copy."""
    report = {}
    for name in ("val", *SHIFTED, "samples"):
        proba = results[name]["proba"][:, 1]
        truth = y[name]
        report[name] = {
            "roc_auc": float(roc_auc_score(truth, proba)),
            "accuracy": float(((proba >= 0.5) == truth).mean()),
            "flagged": float(results[name]["outlier"].mean()),
        }
    corpus = results["corpus"]
    report["outliers"] = {
        kind: float(corpus["outlier"][y["kinds"] == kind].mean())
        for kind in np.unique(y["kinds"])
    }
    report["outliers"]["all"] = float(corpus["outlier"].mean())
    uncertainty = results["val"]["uncertainty"]
    if not np.isnan(uncertainty).all():
        wrong = (results["val"]["proba"][:, 1] >= 0.5) != y["val"]
        top = uncertainty >= np.quantile(uncertainty, 0.9)
        report["uncertainty"] = {
            "error_rate_most_uncertain_10pct": float(wrong[top].mean()),
            "error_rate_other_90pct": float(wrong[~top].mean()),
            "uncertainty_90th_percentile": float(np.quantile(uncertainty, 0.9)),
        }
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--models", type=Path, nargs="+", required=True)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--fit-outliers", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    splits, train_groups = patient_split(args.train_dir, args.random_state)
    val_paths, val_y = splits["val"]
    sample_paths, sample_y = load_chest_xray_sample()
    decoded = ImageLoader().transform(val_paths[:: len(val_paths) // TURNED])
    corpus, kinds = make_outlier_corpus(decoded)
    pipes = [load_model(path) for path in args.models]
    y = {"val": val_y, **dict.fromkeys(SHIFTED, val_y), "samples": sample_y}
    y["kinds"] = kinds
    resize = pipes[0][1]
    copies = {
        "val": resize.transform(ImageLoader().transform(val_paths)),
        **{
            name: resize.transform(images)
            for name, images in shifted_copies(val_paths, val_y).items()
        },
        "samples": resize.transform(ImageLoader().transform(sample_paths)),
        "corpus": resize.transform(corpus),
    }
    if args.fit_outliers:
        for pipe in pipes:
            fit_outliers(pipe[:-1], pipe[-1], *splits["train"], train_groups)
    models = dict(zip((path.stem for path in args.models), pipes))
    if len(pipes) > 1:
        models[f"ensemble_of_{len(pipes)}"] = joined_ensemble(pipes)
    report = {}
    for tta in (False, True):
        for name, pipe in models.items():
            results = assess_all(pipe, copies, tta)
            report[f"{name}{'+tta' if tta else ''}"] = summarise(results, y)
        print(json.dumps(report, indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
