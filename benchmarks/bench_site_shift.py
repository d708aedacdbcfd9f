"""Site shift: do a configuration's answers hold on X-rays prepared another way?

Each configuration is fitted on the patient-grouped training part of the
training folder and scores its validation part as it is (``plain``) and
changed the ways another hospital's X-rays differ (``_validation.
SITE_CHANGES``: borders, contrast processing, mirroring, framing, rotation,
exposure, compression, resolution, noise). Configurations differ in the
canonical preprocessing (``resize__border``, ``resize__contrast``) and the
training augmentations; they are ranked by the worst copy's ROC AUC. The
first configuration is the baseline every ratio is taken against, in the
same run.

``--model FILE`` scores a saved pipeline trained on the same split instead;
with ``--outlier-variants``, its networks' outlier models are first fitted
again, on the split's training part, as ``fit`` with
``outlier_variants=True`` would fit them (``_validation.fit_outliers``).

    python benchmarks/bench_site_shift.py \\
        --train-dir ../shared/data/chest_xray_224/train --image-size 64 \\
        --epochs 12 --out site_shift.json
"""

import argparse
import json
import time
from pathlib import Path

from _validation import patient_split, refit_outlier_models, site_copies
from sklearn.metrics import roc_auc_score

from sklearn_pneumo import load_model, make_pneumo_pipeline
from sklearn_pneumo.datasets import load_chest_xray_sample

#: (resize step settings, classifier settings) of each configuration.
CONFIGS = {
    "tuned": ({}, {}),
    "tuned+trim": ({"border": "trim"}, {}),
    "tuned+trim+stretch": ({"border": "trim", "contrast": "stretch"}, {}),
    "tuned+trim+equalize": ({"border": "trim", "contrast": "equalize"}, {}),
    "tuned+trim+equalize+flip+noise": (
        {"border": "trim", "contrast": "equalize"},
        {"model__flip": True, "model__noise": 0.02},
    ),
    "tuned+clahe": ({}, {"clahe": 0.3}),
}


def fit(config, paths, y, groups, size, epochs, seed):
    resize, classifier = CONFIGS[config]
    pipe = make_pneumo_pipeline(
        size, preset="tuned", random_state=seed, epochs=epochs, **classifier
    )
    pipe.set_params(**{f"resize__{key}": value for key, value in resize.items()})
    start = time.perf_counter()
    pipe.fit(paths, y, cnn__groups=groups)
    return pipe, time.perf_counter() - start


def scores(pipe, copies, y):
    """ROC AUC, accuracy and the share flagged as outliers, on every copy."""
    report = {}
    for name, images in copies.items():
        result = pipe[1:].assess(images)  # decoded images: past the loader
        proba = result.proba[:, 1]
        report[name] = {
            "roc_auc": round(float(roc_auc_score(y, proba)), 4),
            "accuracy": round(float(((proba >= 0.5) == y).mean()), 4),
            "flagged": round(float(result.outlier.mean()), 4),
        }
    worst = min(report, key=lambda name: report[name]["roc_auc"])
    report["worst"] = {"copy": worst, **report[worst]}
    paths, labels = load_chest_xray_sample()
    report["samples_right"] = int(
        ((pipe.predict_proba(paths)[:, 1] >= 0.5) == labels).sum()
    )
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument(
        "--trim-at-prediction",
        action="store_true",
        help="also score each configuration that keeps borders trimming them",
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="score this saved pipeline (trained on the same split) instead",
    )
    parser.add_argument("--test-time-augmentation", action="store_true")
    parser.add_argument(
        "--outlier-variants",
        action="store_true",
        help="with --model: refit its outlier models with outlier_variants=True",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    splits, groups = patient_split(args.train_dir, args.random_state)
    val_paths, val_y = splits["val"]
    copies = site_copies(val_paths, val_y)
    size = (args.image_size, args.image_size)
    report = {"settings": vars(args) | {"train_dir": str(args.train_dir)}}
    for config in [args.model.name] if args.model else args.configs:
        if args.model:
            pipe, seconds = load_model(args.model), 0.0
            if args.outlier_variants:
                refit_outlier_models(pipe, *splits["train"], groups, variants=True)
        else:
            pipe, seconds = fit(
                config, *splits["train"], groups, size, args.epochs, args.random_state
            )
        if args.test_time_augmentation:
            pipe.set_params(**{f"{pipe.steps[-1][0]}__test_time_augmentation": True})
        names = [config]
        if args.trim_at_prediction and pipe.get_params()["resize__border"] == "keep":
            names.append(f"{config} (trim at prediction)")
        for name in names:
            if name != config:  # the same fitted networks, borders trimmed first
                pipe.set_params(resize__border="trim")
            report[name] = {
                "fit_seconds": round(seconds, 1),
                **scores(pipe, copies, val_y),
            }
            row = report[name]
            flagged = max(row[copy]["flagged"] for copy in copies)
            print(
                f"{name:<32} plain AUC {row['plain']['roc_auc']:.4f}, worst "
                f"{row['worst']['roc_auc']:.4f} ({row['worst']['copy']}), at most "
                f"{flagged:.1%} flagged, {row['samples_right']} of 16 samples "
                f"right, fit {seconds:.0f} s",
                flush=True,
            )
        if args.out:
            args.out.write_text(json.dumps(report, indent=1, default=str))
    if args.model:
        return
    base = report[args.configs[0]]["worst"]["roc_auc"]
    for config in [name for name in report if name in CONFIGS][1:]:
        worst = report[config]["worst"]["roc_auc"]
        print(
            f"{config}: worst-copy AUC {worst:.4f} vs {base:.4f} for {args.configs[0]}"
        )


if __name__ == "__main__":
    main()
