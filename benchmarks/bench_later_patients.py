"""Later patients: does a random validation part see what a later period does?

The training folder's files are numbered in the order the patients came
(``IM-n``, ``NORMAL2-IM-n``, ``personN_...``), and the bundled samples, like
the dataset's own validation and test folders, follow its last numbers.
This holds out the latest patients of each series (``--later``, a share of
each series' patients, by number) as a later period, splits the earlier
patients into a training part and a same-period validation part of the
same share (``StratifiedGroupKFold``), fits the shipped configuration at
``--image-size`` in float32 on the training part, and scores the
same-period part, the later part and the 16 samples: accuracy, normal
recall, pneumonia recall, ROC AUC and the mean P(pneumonia) of the normal
X-rays. What the later part loses against the same-period one is what a
validation part drawn at random cannot see.

    python benchmarks/bench_later_patients.py \\
        --train-dir ../shared/data/chest_xray_224/train --out later.json
"""

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from sklearn_pneumo import evaluate_binary, make_pneumo_pipeline
from sklearn_pneumo.datasets import load_chest_xray_sample, load_image_folder

#: The shipped binary model's settings (``bench_accuracy.FILE_CONFIGS[
#: "stretch_exposure_clahe"]``), trained in float32.
SETTINGS = {
    "batch_size": 64,
    "model__stretch": 0.25,
    "model__contrast": 0.2,
    "model__brightness": 0.1,
    "clahe": 0.3,
    "model__dtype_policy": "float32",
}


def series_and_number(path):
    """``("NORMAL2", 1423)`` for ``NORMAL2-IM-1423-0001.jpeg``, and so on."""
    name = Path(path).name
    match = re.match(r"(NORMAL2-IM|IM)-(\d+)|person(\d+)_", name)
    if match is None:
        raise ValueError(f"{path}: not a file name of the public dataset")
    if match.group(3):
        return "person", int(match.group(3))
    return match.group(1), int(match.group(2))


def later_patients(paths, share):
    """Whether each path is of the latest ``share`` of its series' patients."""
    keys = [series_and_number(p) for p in paths]
    later = np.zeros(len(paths), dtype=bool)
    for series in {s for s, _ in keys}:
        numbers = np.array([n if s == series else -1 for s, n in keys])
        cut = np.quantile(np.unique(numbers[numbers >= 0]), 1 - share)
        later |= numbers >= cut
    return later


def figures(y, p):
    """``evaluate_binary``'s figures, and the normal X-rays' mean P(pneumonia)."""
    return {
        "xrays": int(len(y)),
        **evaluate_binary(y, p),
        "normal_mean_p": float(p[y == 0].mean()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--later", type=float, default=0.2)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths, y, groups = load_image_folder(args.train_dir, return_groups=True)
    later = later_patients(paths, args.later)
    earlier = np.flatnonzero(~later)
    folds = StratifiedGroupKFold(
        n_splits=round(1 / args.later), shuffle=True, random_state=args.random_state
    )
    train, same = next(folds.split(paths[earlier], y[earlier], groups[earlier]))
    train, same = earlier[train], earlier[same]
    pipe = make_pneumo_pipeline(
        (args.image_size, args.image_size),
        preset="tuned",
        random_state=args.random_state,
        epochs=args.epochs,
        **SETTINGS,
    )
    start = time.perf_counter()
    pipe.fit(paths[train], y[train], cnn__groups=groups[train])
    seconds = time.perf_counter() - start
    sample_paths, sample_y = load_chest_xray_sample()
    report = {
        "settings": {
            **{k: v for k, v in vars(args).items() if k != "out"},
            "train_dir": str(args.train_dir),
        },
        "train_xrays": int(len(train)),
        "fit_seconds": round(seconds, 1),
    }
    for name, part_paths, part_y in [
        ("same_period", paths[same], y[same]),
        ("later", paths[later], y[later]),
        ("samples", sample_paths, sample_y),
    ]:
        report[name] = figures(part_y, pipe.predict_proba(part_paths)[:, 1])
        row = report[name]
        print(
            f"{name:<12} {row['xrays']:>5} X-rays: accuracy {row['accuracy']:.3f}, "
            f"normal recall {row['specificity']:.3f}, pneumonia recall "
            f"{row['sensitivity']:.3f}, ROC AUC {row['roc_auc']:.3f}, "
            f"normal mean P(pneumonia) {row['normal_mean_p']:.3f}"
        )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
