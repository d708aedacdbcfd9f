"""Batch-norm momentum: does a network fitted on a few hundred X-rays predict?

The ``"tuned"`` preset normalises every convolution's outputs by batch
(``model__batch_norm=True``) and predicts with the moving statistics of
those batches. Keras' default momentum, 0.99, forgets their initial
variance of 1 slowly, where the first convolution's outputs vary about a
thousandth as much. For each ``--train-xrays`` and seed, the preset is
fitted at 64x64 (``--epochs``, early stopping and all) on the X-rays of that
many patients drawn from the training folder (``--train-patients``), once
with each ``--momentum`` (``model__batch_norm_momentum``), and scores the
X-rays of 600 other patients: accuracy at 0.5, normal recall, ROC AUC, the
range of its P(pneumonia), and the epochs it ran.

    python benchmarks/bench_batch_norm.py \\
        --train-dir ../shared/data/chest_xray_224/train --out batch_norm.json
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench_later_patients import SETTINGS
from sklearn.model_selection import GroupShuffleSplit

from sklearn_pneumo import evaluate_binary, make_pneumo_pipeline
from sklearn_pneumo.datasets import load_image_folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--train-patients", type=int, nargs="+", default=[400, 1000])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--momentum", type=float, nargs="+", default=[0.99, 0.9])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths, y, groups = load_image_folder(args.train_dir, return_groups=True)
    rows = []
    for n in args.train_patients:
        for seed in range(args.seeds):
            split = GroupShuffleSplit(
                1, train_size=n, test_size=600, random_state=seed
            ).split(paths, y, groups)
            train, test = next(split)
            for momentum in args.momentum:
                pipe = make_pneumo_pipeline(
                    (64, 64),
                    preset="tuned",
                    random_state=seed,
                    epochs=args.epochs,
                    model__batch_norm_momentum=momentum,
                    **SETTINGS,
                )
                start = time.perf_counter()
                pipe.fit(paths[train], y[train], cnn__groups=groups[train])
                seconds = time.perf_counter() - start
                p = pipe.predict_proba(paths[test])[:, 1]
                scores = evaluate_binary(y[test], p)
                row = {
                    "train_patients": n,
                    "train_xrays": len(train),
                    "test_xrays": len(test),
                    "seed": seed,
                    "momentum": momentum,
                    "accuracy": scores["accuracy"],
                    "normal_recall": scores["specificity"],
                    "roc_auc": scores["roc_auc"],
                    "p_range": [float(p.min()), float(p.max())],
                    "epochs_run": len(pipe[-1].history_["loss"]),
                    "fit_seconds": round(seconds, 1),
                }
                rows.append(row)
                print(
                    f"{n} patients ({len(train)} X-rays), seed {seed}, "
                    f"momentum {momentum}: accuracy {row['accuracy']:.3f}, "
                    "normal recall "
                    f"{row['normal_recall']:.3f}, ROC AUC {row['roc_auc']:.3f}, "
                    f"P(pneumonia) {p.min():.3f} to {p.max():.3f}, "
                    f"{row['epochs_run']} epochs, {seconds:.0f} s",
                    flush=True,
                )
    for n in args.train_patients:
        for momentum in args.momentum:
            some = [
                r
                for r in rows
                if r["train_patients"] == n and r["momentum"] == momentum
            ]
            print(
                f"{n} patients, momentum {momentum}, medians of {len(some)}: "
                + ", ".join(
                    f"{key} {np.median([r[key] for r in some]):.3f}"
                    for key in ("accuracy", "normal_recall", "roc_auc")
                )
            )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
