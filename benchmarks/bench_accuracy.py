"""Accuracy: the paper's settings against tuned ones, on arrays or X-ray files.

Two modes. ``--data PATH.npz`` (default: PneumoniaMNIST at 28x28) trains on
the file's arrays. ``--train-dir DIR`` trains from X-ray file paths through the
whole pipeline (``ImageLoader`` first) at ``--image-size`` (default 150): the
validation part is one fold of a shuffled ``StratifiedGroupKFold`` (5 folds)
over the patients of ``DIR`` (``patient_groups``), so no patient is on both
sides, and early stopping holds out whole patients too; ``--test-dir`` is
scored with the thresholds chosen on validation.

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
    python benchmarks/bench_accuracy.py --train-dir chest_xray/train \
        --test-dir chest_xray/test --image-size 150 --out accuracy_150.json

File mode configurations: ``paper`` (the thesis' settings, in mixed bfloat16
to fit the time budget) and ``stretch_exposure`` (the ``tuned`` preset, with
its fused batch normalisation and early stopping on a patient-grouped
hold-out, plus two augmentations against shortcuts: a random zoom of the
height and of the width, each on its own, of +/-25 %,
``model__stretch=0.25``, against the framing, and contrast +/-20 % with
brightness +/-0.1, against the exposure; mixed bfloat16, batches of 64). The
whole run takes about 50 minutes on 2 CPU cores. ``--configs NAME ...`` runs
some of them.

File mode also scores shifted copies of the validation files
(``shifted_copies``): ``val_aspect``, cropped to the other class's aspect
ratio (``aspect_swapped``), a check for the shortcut that stretching
X-rays of class-dependent shapes to a square opens; ``val_gamma_0.8`` and
``val_gamma_1.25``, exposed differently; ``val_rotated_5``, turned by 5
degrees. The ranking takes the worst of ``val`` and these.
``stretch_exposure_clahe_noise`` is ``stretch_exposure_clahe`` trained to
read noisier X-rays (Gaussian noise of standard deviation 0.04 on the
network's input in training) and reframed ones (stretch 0.35).
``stretch_exposure_clahe_reframed`` is ``stretch_exposure_clahe`` with the
stronger stretch alone (0.35), against the framing;
``stretch_exposure_clahe_swapped_framing`` is ``stretch_exposure_clahe``
with half of each class framed as the other class is (``reframe=0.5``), so
that the framing no longer tells the classes apart.
``stretch_exposure_contrast_range`` is ``stretch_exposure_clahe`` with half
of the training X-rays given contrast processing drawn from a range
(``clahe=0.5, contrast_range=True``: CLAHE of other clip limits and grids,
or global equalization).
``stretch_exposure_clahe`` is ``stretch_exposure`` with 30 % of the
training X-rays contrast-processed by CLAHE (``clahe=0.3``, against another
site's post-processing), predicting and fitting its outlier model in float32.
``average_exposure`` is ``stretch_exposure`` with a global-average head
(``model__head="average"``) and rotation 0.015, tried against the framing;
``--save-dir`` keeps every fitted pipeline (for ``bench_trust.py``), and
``--network-seed`` trains another seed on the same split. And it reports
``samples``: the 16 bundled full-size X-rays of the public ``val/`` folder,
taken after every X-ray of the training folder (their file numbers follow
the folder's last ones), too few to rank on.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _validation import SHIFTED, patient_split, shifted_copies
from sklearn.model_selection import TunedThresholdClassifierCV

from sklearn_pneumo import (
    evaluate_binary,
    make_pneumo_ensemble,
    make_pneumo_pipeline,
    save_model,
)
from sklearn_pneumo.datasets import load_chest_xray_sample, load_image_folder

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
FILE_CONFIGS = {
    "paper": {
        "preset": "paper",
        "tune_threshold": True,
        "params": {"model__dtype_policy": "mixed_bfloat16"},
    },
    "stretch_exposure": {
        "preset": "tuned",
        "tune_threshold": True,
        "groups": True,
        "params": {
            "model__dtype_policy": "mixed_bfloat16",
            "batch_size": 64,
            "model__stretch": 0.25,
            "model__contrast": 0.2,
            "model__brightness": 0.1,
        },
    },
    "stretch_exposure_clahe": {
        "preset": "tuned",
        "tune_threshold": True,
        "groups": True,
        "params": {
            "model__dtype_policy": "mixed_bfloat16",
            "inference_dtype_policy": "float32",
            "batch_size": 64,
            "model__stretch": 0.25,
            "model__contrast": 0.2,
            "model__brightness": 0.1,
            "clahe": 0.3,
        },
    },
    "stretch_exposure_clahe_noise": {
        "preset": "tuned",
        "tune_threshold": True,
        "groups": True,
        "params": {
            "model__dtype_policy": "mixed_bfloat16",
            "inference_dtype_policy": "float32",
            "batch_size": 64,
            "model__stretch": 0.35,
            "model__noise": 0.04,
            "model__contrast": 0.2,
            "model__brightness": 0.1,
            "clahe": 0.3,
        },
    },
    "average_exposure": {
        "preset": "tuned",
        "tune_threshold": True,
        "groups": True,
        "params": {
            "model__dtype_policy": "mixed_bfloat16",
            "batch_size": 64,
            "model__head": "average",
            "model__rotation": 0.015,
            "model__stretch": 0.25,
            "model__contrast": 0.2,
            "model__brightness": 0.1,
        },
    },
}
_CLAHE = FILE_CONFIGS["stretch_exposure_clahe"]
FILE_CONFIGS["stretch_exposure_clahe_reframed"] = {
    **_CLAHE,
    "params": {**_CLAHE["params"], "model__stretch": 0.35},
}
FILE_CONFIGS["stretch_exposure_clahe_swapped_framing"] = {
    **_CLAHE,
    "params": {**_CLAHE["params"], "reframe": 0.5},
}
FILE_CONFIGS["stretch_exposure_contrast_range"] = {
    **_CLAHE,
    "params": {**_CLAHE["params"], "clahe": 0.5, "contrast_range": True},
}
FILE_CONFIGS["stretch_exposure_clahe_contrast_range"] = {
    **_CLAHE,
    "params": {**_CLAHE["params"], "contrast_range": True},
}
FILE_CONFIGS["stretch_exposure_clahe_rotation_black"] = {
    **_CLAHE,
    "params": {**_CLAHE["params"], "model__rotation_fill_mode": "constant"},
}
FILE_CONFIGS["stretch_exposure_clahe_sharpen"] = {
    **_CLAHE,
    "params": {**_CLAHE["params"], "sharpen": 0.3},
}
FILE_CONFIGS["stretch_exposure_clahe_sharpen_rotation_black"] = {
    **_CLAHE,
    "params": {
        **_CLAHE["params"],
        "sharpen": 0.3,
        "model__rotation_fill_mode": "constant",
    },
}
PUBLISHED_FILES = {
    "Kermany et al. 2018, InceptionV3 (test)": (0.928, 0.968),
}
SPLITS = ("val", *SHIFTED, "samples", "test")
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
    those, the threshold that balances sensitivity and specificity wins. In
    file mode each figure is the worse of the plain and the aspect-swapped
    validation copies (``val_aspect``): a network must hold on both, since
    one that reads the framing scores high on the plain copy alone (the
    thesis' settings: 0.998 there, 0.666 swapped, the failure the official
    test split showed for them). The exposure and rotation copies
    (``shifted_copies``) count the same way.
    """
    copies = [scores[split] for split in ("val", *SHIFTED) if split in scores]
    auc = min(c["roc_auc"] for c in copies)
    balanced = min((c["sensitivity"] + c["specificity"]) / 2 for c in copies)
    return round(auc, 3), balanced


def fit_config(config, X, y, image_size, seed, input="images", groups=None):
    """Build and fit one configuration; return the pipeline and its fit time."""
    settings = dict(preset=config["preset"], input=input, random_state=seed)
    if "sampler" in config:
        settings["sampler"] = config["sampler"]
    params = {
        name: value() if callable(value) else value
        for name, value in config["params"].items()
    }
    if "members" in config:
        pipe = make_pneumo_ensemble(config["members"], image_size, **settings, **params)
    else:
        pipe = make_pneumo_pipeline(image_size, **settings, **params)
    fit_params = {"cnn__groups": groups} if config.get("groups") else {}
    start = time.perf_counter()
    pipe.fit(X, y, **fit_params)
    return pipe, time.perf_counter() - start


def run_config(
    config, splits, image_size, seed, input="images", groups=None, save_to=None
):
    """Fit one configuration; score it at 0.5 and, if asked, at a tuned threshold.

    With ``save_to``, the fitted pipeline is saved there (``save_model``).
    """
    pipe, fit_seconds = fit_config(
        config, *splits["train"], image_size, seed, input, groups
    )
    if save_to is not None:
        save_model(pipe, save_to)
    # The shifted copies hold decoded images: they are scored past the loader.
    proba = {
        split: (pipe[1:] if split in SHIFTED else pipe).predict_proba(X)[:, 1]
        for split, (X, _) in splits.items()
        if split != "train"
    }
    thresholds = {"": 0.5}
    if config["tune_threshold"]:
        thresholds["+threshold"] = validation_threshold(pipe, *splits["val"])
    results = {}
    for suffix, threshold in thresholds.items():
        result = {"fit_seconds": fit_seconds, "threshold": threshold}
        if "members" not in config:
            result["epochs_run"] = len(pipe[-1].history_["loss"])
        for split in SPLITS:
            if split in splits:
                y = splits[split][1]
                result[split] = evaluate_binary(y, proba[split], threshold=threshold)
        results[suffix] = result
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="npz mode")
    parser.add_argument("--train-dir", type=Path, help="file mode: NORMAL/, PNEUMONIA/")
    parser.add_argument("--test-dir", type=Path, help="file mode: scored if given")
    parser.add_argument("--image-size", type=int, help="default: 28 (npz), 150 (files)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument(
        "--network-seed",
        type=int,
        help="seed of the networks and samplers (default: --random-state), "
        "e.g. to train ensemble members on the same split",
    )
    parser.add_argument("--configs", nargs="+", help="default: all of the mode's")
    parser.add_argument("--epochs", type=int, help="override (for a quick trial)")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--save-dir", type=Path, help="save each fitted pipeline there as NAME.pneumo"
    )
    args = parser.parse_args()

    groups = None
    if args.train_dir is None:
        arrays = np.load(args.data)
        splits = {
            split: (arrays[f"{split}_images"], arrays[f"{split}_labels"].ravel())
            for split in ("train", "val", "test")
            if f"{split}_images" in arrays
        }
        input, known, size = "images", CONFIGS, args.image_size or 28
        published = PUBLISHED_TEST
    else:
        splits, groups = patient_split(args.train_dir, args.random_state)
        for split, images in shifted_copies(*splits["val"]).items():
            splits[split] = (images, splits["val"][1])
        splits["samples"] = load_chest_xray_sample()
        if args.test_dir:
            splits["test"] = load_image_folder(args.test_dir)
        input, known, size = "paths", FILE_CONFIGS, args.image_size or 150
        published = PUBLISHED_FILES
        print(
            f"{len(splits['train'][1])} training and {len(splits['val'][1])} "
            f"validation files, no patient on both sides",
            flush=True,
        )
    configs = {}
    for name in args.configs or list(known):
        config = known[name]
        if args.epochs:
            config = {**config, "params": {**config["params"], "epochs": args.epochs}}
        seed = args.random_state if args.network_seed is None else args.network_seed
        save_to = args.save_dir / f"{name}_{seed}.pneumo" if args.save_dir else None
        results = run_config(config, splits, (size, size), seed, input, groups, save_to)
        for suffix, result in results.items():
            print(f"{name + suffix}: {json.dumps(result)}", flush=True)
        configs.update({name + suffix: r for suffix, r in results.items()})
    best = max(configs, key=lambda name: validation_rank(configs[name]))
    header = f"{'configuration':<42}{'split':<15}" + "".join(
        f"{m:>12}" for m in METRICS
    )
    print(header)
    for name, result in configs.items():
        for split in SPLITS:
            if split in result:
                row = "".join(f"{result[split][m]:>12.3f}" for m in METRICS)
                print(f"{name:<42}{split:<15}{row}")
    for name, (acc, auc) in published.items():
        print(f"{name:<42}{'test':<15}{acc:>12.3f}{auc:>12.3f}")
    print(f"best on validation (worst copy: ROC AUC, then balanced accuracy): {best}")
    if args.out:
        args.out.write_text(json.dumps({"configs": configs, "best": best}, indent=2))


if __name__ == "__main__":
    main()
