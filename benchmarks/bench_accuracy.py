"""Accuracy on PneumoniaMNIST: the paper's settings against the tuned preset.

Configurations: ``paper`` (the thesis' settings), ``paper_bf16`` (the same in
mixed bfloat16 precision, to check that faster training keeps accuracy),
``tuned`` (the ``tuned`` preset) and ``tuned_ensemble`` (three ``tuned``
networks from different seeds, in bfloat16, averaged by
``make_pneumo_ensemble``). Each trains on the train split. Everything is
chosen on the validation split only: the decision threshold (the ``tuned``
configurations are also reported with ``+threshold``, at the threshold that
maximises balanced accuracy on validation, found by scikit-learn's
``TunedThresholdClassifierCV``; the others keep 0.5) and the best
configuration (highest validation ROC AUC to 3 decimals, then balanced
accuracy). Metrics are reported on
validation and, when the file has ``test_images``/``test_labels``, on test
with the threshold chosen on validation. Published test figures are printed
beside them.

    python benchmarks/bench_accuracy.py --data PATH.npz --out accuracy.json
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import TunedThresholdClassifierCV

from sklearn_pneumo import evaluate_binary, make_pneumo_ensemble, make_pneumo_pipeline

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared/data/pneumoniamnist_28_trainval.npz"
)
PUBLISHED_TEST = {
    "MedMNIST v2 ResNet-18 (28)": (0.854, 0.944),
    "MedMNIST v2 ResNet-50 (224)": (0.884, 0.962),
    "MedMNIST v2 AutoKeras": (0.878, 0.947),
    "MedMNIST v2 Google AutoML Vision": (0.946, 0.991),
}
CONFIGS = {
    "paper": {"preset": "paper", "tune_threshold": False, "params": {}},
    "paper_bf16": {
        "preset": "paper",
        "tune_threshold": False,
        "params": {"model__dtype_policy": "mixed_bfloat16"},
    },
    "tuned": {"preset": "tuned", "tune_threshold": True, "params": {}},
    "tuned_ensemble": {
        "preset": "tuned",
        "tune_threshold": True,
        "members": 3,
        "params": {"model__dtype_policy": "mixed_bfloat16"},
    },
}
METRICS = ("accuracy", "roc_auc", "sensitivity", "specificity", "ece")


def validation_threshold(pipe, images, y):
    """The threshold that maximises balanced accuracy on validation data.

    scikit-learn's ``TunedThresholdClassifierCV`` on the fitted pipeline
    (``cv="prefit"``): the pipeline is not refitted, only scored.
    """
    tuner = TunedThresholdClassifierCV(
        pipe, scoring="balanced_accuracy", cv="prefit", refit=False, thresholds=200
    )
    return float(tuner.fit(images, y).best_threshold_)


def validation_rank(scores):
    """Order of merit on validation: ROC AUC to 3 decimals, then balanced accuracy.

    AUC differences below 0.001 are within noise on 524 images; between
    those, the threshold that balances sensitivity and specificity wins.
    """
    balanced = (scores["sensitivity"] + scores["specificity"]) / 2
    return round(scores["roc_auc"], 3), balanced


def run_config(config, splits, image_size, seed):
    """Fit one configuration; score it at 0.5 and, if asked, at a tuned threshold."""
    settings = dict(preset=config["preset"], input="images", random_state=seed)
    if "members" in config:
        pipe = make_pneumo_ensemble(
            config["members"], image_size, **settings, **config["params"]
        )
    else:
        pipe = make_pneumo_pipeline(image_size, **settings, **config["params"])
    start = time.perf_counter()
    pipe.fit(*splits["train"])
    fit_seconds = time.perf_counter() - start
    proba = {
        split: pipe.predict_proba(images)[:, 1]
        for split, (images, _) in splits.items()
        if split != "train"
    }
    thresholds = {"": 0.5}
    if config["tune_threshold"]:
        thresholds["+threshold"] = validation_threshold(pipe, *splits["val"])
    results = {}
    for suffix, threshold in thresholds.items():
        result = {"fit_seconds": fit_seconds, "threshold": threshold}
        for split in ("val", "test"):
            if split in splits:
                y = splits[split][1]
                result[split] = evaluate_binary(y, proba[split], threshold=threshold)
        results[suffix] = result
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    arrays = np.load(args.data)
    splits = {
        split: (arrays[f"{split}_images"], arrays[f"{split}_labels"].ravel())
        for split in ("train", "val", "test")
        if f"{split}_images" in arrays
    }
    size = (args.image_size, args.image_size)
    configs = {}
    for name in args.configs:
        results = run_config(CONFIGS[name], splits, size, args.random_state)
        configs.update({name + suffix: r for suffix, r in results.items()})
    best = max(configs, key=lambda name: validation_rank(configs[name]["val"]))
    header = f"{'configuration':<34}{'split':<6}" + "".join(f"{m:>12}" for m in METRICS)
    print(header)
    for name, result in configs.items():
        for split in ("val", "test"):
            if split in result:
                row = "".join(f"{result[split][m]:>12.3f}" for m in METRICS)
                print(f"{name:<34}{split:<6}{row}")
    for name, (acc, auc) in PUBLISHED_TEST.items():
        print(f"{name:<34}{'test':<6}{acc:>12.3f}{auc:>12.3f}")
    print(f"best on validation (ROC AUC, then balanced accuracy): {best}")
    if args.out:
        args.out.write_text(json.dumps({"configs": configs, "best": best}, indent=2))


if __name__ == "__main__":
    main()
