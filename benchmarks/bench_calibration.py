"""Calibration: do the probabilities mean what they say, on X-rays of other sites?

The training folder's patients are split in five (``StratifiedGroupKFold``):
one fifth is the validation part, one fifth the calibration part, the other
three fifths train a pipeline (the shipped binary model's configuration,
``bench_accuracy.py``'s ``stretch_exposure``; ``--canonical`` trims borders
and equalizes contrast). The fitted pipeline is then calibrated the
scikit-learn way, ``CalibratedClassifierCV(FrozenEstimator(pipeline),
method=...)`` fitted on the calibration part (``sigmoid``: Platt's two
parameters; ``temperature``: one), and every version scores the validation
part as it is (``plain``) and changed the ways another site's X-rays differ
(``_validation.SITE_CHANGES``). Reported per copy: expected calibration
error (15 equal-width bins of the predicted class's probability), Brier
score, ROC AUC; and the reliability curve of the plain copy (10 bins).

    python benchmarks/bench_calibration.py \\
        --train-dir ../shared/data/chest_xray_224/train --image-size 64 \\
        --epochs 12 --out calibration.json
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _validation import site_copies
from bench_accuracy import FILE_CONFIGS
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from sklearn_pneumo import expected_calibration_error, make_pneumo_pipeline
from sklearn_pneumo.datasets import load_image_folder

METHODS = ("sigmoid", "temperature")


def three_parts(train_dir, seed):
    """Training, calibration and validation parts, each patient in one."""
    paths, y, groups = load_image_folder(train_dir, return_groups=True)
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
    fold = np.empty(len(y), dtype=int)
    for i, (_, part) in enumerate(folds.split(paths, y, groups)):
        fold[part] = i
    parts = {"val": fold == 0, "calibration": fold == 1, "train": fold >= 2}
    return {name: (paths[m], y[m], groups[m]) for name, m in parts.items()}


def figures(y, proba):
    return {
        "ece": round(expected_calibration_error(y, proba, n_bins=15), 4),
        "brier": round(float(brier_score_loss(y, proba)), 4),
        "roc_auc": round(float(roc_auc_score(y, proba)), 4),
        "accuracy": round(float(((proba >= 0.5) == y).mean()), 4),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--canonical", action="store_true")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    parts = three_parts(args.train_dir, args.random_state)
    train_paths, train_y, train_groups = parts["train"]
    size = (args.image_size, args.image_size)
    params = {**FILE_CONFIGS["stretch_exposure"]["params"], "epochs": args.epochs}
    pipe = make_pneumo_pipeline(
        size, preset="tuned", random_state=args.random_state, **params
    )
    if args.canonical:
        pipe.set_params(resize__border="trim", resize__contrast="equalize")
    start = time.perf_counter()
    pipe.fit(train_paths, train_y, cnn__groups=train_groups)
    fit_seconds = time.perf_counter() - start
    # Decoded images, scored past the loader, as bench_site_shift.py does.
    scorer = pipe[1:]
    cal_paths, cal_y, _ = parts["calibration"]
    calibration_images = site_copies(cal_paths, cal_y)["plain"]
    versions = {"uncalibrated": scorer}
    for method in METHODS:
        calibrated = CalibratedClassifierCV(FrozenEstimator(scorer), method=method)
        versions[method] = calibrated.fit(calibration_images, cal_y)
    val_paths, val_y, _ = parts["val"]
    copies = site_copies(val_paths, val_y)
    report = {
        "settings": vars(args) | {"train_dir": str(args.train_dir)},
        "fit_seconds": round(fit_seconds, 1),
        "files": {name: len(part[1]) for name, part in parts.items()},
        "copies": {},
        "reliability_plain": {},
    }
    for copy, images in copies.items():
        report["copies"][copy] = {
            name: figures(val_y, model.predict_proba(images)[:, 1])
            for name, model in versions.items()
        }
    for name, model in versions.items():
        proba = model.predict_proba(copies["plain"])[:, 1]
        observed, predicted = calibration_curve(val_y, proba, n_bins=10)
        report["reliability_plain"][name] = {
            "predicted": predicted.round(4).tolist(),
            "observed": observed.round(4).tolist(),
        }
    print(
        f"{report['files']} X-rays (patient-grouped), {args.image_size} px, "
        f"canonical={args.canonical}, fit {fit_seconds:.0f} s"
    )
    print(f"{'copy':<18}" + "".join(f"{f'ECE {n}':>20}" for n in versions))
    for copy, row in report["copies"].items():
        print(f"{copy:<18}" + "".join(f"{row[n]['ece']:>20.4f}" for n in versions))
    for name in versions:
        worst = max(row[name]["ece"] for row in report["copies"].values())
        print(f"worst ECE over the copies, {name}: {worst:.4f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
