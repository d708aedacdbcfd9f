"""Command line: train the paper's pipeline, evaluate it, and predict files."""

import argparse
import contextlib
import importlib.util
import os
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np

from . import _cli_adapt, _cli_report
from ._class_names import class_display_names
from ._evaluation import evaluate_binary, evaluate_multiclass, format_report
from ._loader import (
    ImageLoader,
    ImageLoadError,
    apply_to_readable,
    image_loaders,
    left_out_message,
)
from ._predict_files import predict_files
from ._pretrained import STEMS
from ._site_warning import measure_review_cut
from ._tensorflow_log import import_tensorflow_quietly
from ._upstream import CALIBRATION_METHODS
from ._walk import scoring_model
from .datasets import (
    IMAGE_SUFFIXES,
    TARGET_NAMES,
    load_image_folder,
    load_pneumoniamnist,
    patient_groups,
    pneumonia_type,
    scan_images,
)


def _image_size(text):
    """Parse '150' or '150x120' as (height, width)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(
            f"invalid image size {text!r}: use SIDE or HEIGHTxWIDTH, "
            "e.g. 150 or 150x120"
        )
    return tuple(parts)


def _share(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-pneumo",
        description="Pneumonia from chest X-rays: the paper's CNN pipeline.",
    )
    parser.add_argument(
        "--tensorflow-log",
        action="store_true",
        help="show TensorFlow's start-up log (hidden by default; or set "
        "TF_CPP_MIN_LOG_LEVEL yourself)",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, help="what to do; COMMAND --help for more"
    )
    train = commands.add_parser(
        "train",
        help="train and evaluate on held-out data",
        description="Train the pipeline, evaluate it on held-out data and print "
        "accuracy, sensitivity, specificity, ROC AUC and the confusion matrix. "
        "Without --data: the bundled PneumoniaMNIST (28x28), trained on its "
        "train split and evaluated on its validation split.",
    )
    train.add_argument(
        "--data",
        type=Path,
        help="a chest_xray folder with train/ and test/ subfolders, each with "
        "NORMAL/ and PNEUMONIA/; files that cannot be read are named and left "
        "out (default: bundled PneumoniaMNIST)",
    )
    train.add_argument(
        "--classes",
        choices=list(STEMS),
        default="normal-pneumonia",
        help="what to tell apart (default: normal-pneumonia); "
        "normal-bacterial-viral reads the pneumonia type from Kermany et al.'s "
        "file names (personN_bacteria_M, personN_virus_M) and needs --data",
    )
    train.add_argument(
        "--image-size",
        type=_image_size,
        help="SIDE or HEIGHTxWIDTH (default: 150 for --data, 28 for bundled data)",
    )
    train.add_argument(
        "--preset",
        choices=["paper", "tuned"],
        default="paper",
        help="starting settings: the thesis' (default) or the tuned ones",
    )
    train.add_argument(
        "--members",
        type=_positive_int,
        default=1,
        help="networks averaged, each from its own seed (default: 1)",
    )
    train.add_argument(
        "--epochs", type=_positive_int, help="default: 20 (paper), 40 (tuned)"
    )
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        default=32,
        help="images per training step (default: 32)",
    )
    train.add_argument(
        "--sampler",
        choices=["auto", "over", "under", "none"],
        default="auto",
        help="class balancing (default: the preset's)",
    )
    train.add_argument(
        "--filters",
        type=_positive_int,
        default=64,
        help="filters of each convolution (default: 64, the paper's)",
    )
    train.add_argument(
        "--border",
        choices=["keep", "trim"],
        default="keep",
        help="keep uniform borders (default, the paper's) or trim them before "
        "resizing, in training and prediction alike",
    )
    train.add_argument(
        "--contrast",
        choices=["keep", "stretch", "equalize"],
        default="keep",
        help="keep intensities (default), stretch each X-ray's 1st to 99th "
        "percentile, or equalize its histogram",
    )
    train.add_argument(
        "--clahe",
        type=float,
        default=0.0,
        help="share of the training X-rays contrast-processed with CLAHE, as "
        "other sites export them (default: 0)",
    )
    train.add_argument(
        "--contrast-range",
        action="store_true",
        help="give that share contrast processing drawn from a range (CLAHE of "
        "other clip limits and grids, or global equalization) instead of "
        "CLAHE at its defaults",
    )
    train.add_argument(
        "--sharpen",
        type=float,
        default=0.0,
        help="share of the training X-rays sharpened by an unsharp mask of a "
        "radius and amount drawn from a range, as other sites export them "
        "(default: 0)",
    )
    train.add_argument(
        "--outlier-variants",
        action="store_true",
        help="fit the outlier flag on mirrored, CLAHE-processed, re-exposed, "
        "noisy and sharpened copies of the training X-rays too, those whose "
        "answers hold on the hold-out, so that it takes such X-rays for X-rays",
    )
    train.add_argument(
        "--random-state",
        type=int,
        default=0,
        help="seed of the sampler, the weights and the shuffling (default: 0)",
    )
    train.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        help="threads that decode and resize images (default: -1, all cores)",
    )
    train.add_argument(
        "--save",
        type=Path,
        help="write the fitted model to this file (safe format, see save_model); "
        "it predicts image files with 'sklearn-pneumo predict'",
    )
    predict = commands.add_parser(
        "predict",
        help="predict image files with a saved or the bundled model",
        usage="sklearn-pneumo predict [options] MODEL INPUT [INPUT ...]\n"
        "       sklearn-pneumo predict [options] --pretrained INPUT [INPUT ...]",
        description="Write a CSV row per image: path, prediction, class "
        "probabilities, the model's flags where it has them (typicality, "
        "outlier, uncertainty, border_trimmed), and the error for a file that "
        "cannot be read. Warn at "
        "the end where more answers lie above the model's review cut of "
        "uncertainty than of its validation X-rays (the shipped models, and "
        "models adapted or calibrated from them, carry one), and where the "
        "scores are no mix of its validation X-rays' per class (the shipped "
        "binary model, and networks fitted with a hold-out, keep those).",
    )
    predict.add_argument(
        "arguments",
        nargs="+",
        type=Path,
        metavar="MODEL INPUT",
        help="a model file saved by 'train --save', or an ONNX archive of "
        "export_onnx, scored without TensorFlow (left out with --pretrained), "
        "then image files or folders (searched recursively)",
    )
    predict.add_argument(
        "--pretrained",
        action="store_true",
        help="use the model that ships with the package (150x150, trained on "
        "the public dataset's train folder; research use, not a medical "
        "device); its ONNX form where TensorFlow is not installed",
    )
    predict.add_argument(
        "--classes",
        choices=list(STEMS),
        default="normal-pneumonia",
        help="with --pretrained, which shipped model: pneumonia or not "
        "(default), or normal, bacterial or viral pneumonia (the default "
        "model's pneumonia or not, then a type network's split of it)",
    )
    predict.add_argument(
        "--out",
        type=Path,
        help="CSV file, written whole at the end (default: standard output)",
    )
    predict.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUT.partial: its rows are kept "
        "and only the rest is scored (refused if another model or other "
        "inputs wrote it)",
    )
    predict.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing OUT (without it, or --resume, an existing "
        "OUT is an error)",
    )
    predict.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="score on the Dask cluster of this scheduler (tcp://host:8786): "
        "the workers get the model's ONNX form and partitions of at most --batch-size "
        "files; rows come back in input order (needs 'pip install distributed')",
    )
    predict.add_argument(
        "--batch-size",
        type=_positive_int,
        default=256,
        help="files decoded and scored at once; bounds memory (default: 256)",
    )
    predict.add_argument(
        "--bfloat16",
        action="store_true",
        help="score with a bfloat16 copy of the network: faster on CPUs with "
        "bfloat16 instructions (AVX-512 BF16, AMX), probabilities within about "
        "0.01 of float32",
    )
    calibrate = commands.add_parser(
        "calibrate",
        help="calibrate a model's probabilities on labelled X-rays of your own",
        usage="sklearn-pneumo calibrate [options] MODEL FOLDER --out FILE\n"
        "       sklearn-pneumo calibrate [options] --pretrained FOLDER --out FILE",
        description="Fit a map from the model's probabilities to calibrated "
        "ones on a folder with one subfolder per class (scikit-learn's "
        "CalibratedClassifierCV of the frozen model; the model itself is not "
        "retrained), print the log loss before and after, and save the "
        "calibrated model, which 'sklearn-pneumo predict' scores. Use X-rays "
        "the model was not trained on, from the site it will score. Files "
        "that cannot be read are named and left out.",
    )
    calibrate.add_argument(
        "arguments",
        nargs="+",
        type=Path,
        metavar="MODEL FOLDER",
        help="a model file saved by 'train --save' (left out with "
        "--pretrained), then a folder with one subfolder per class (NORMAL/ "
        "and PNEUMONIA/, or the model's class names; for the three-class "
        "model, Kermany et al.'s file names say bacterial or viral)",
    )
    calibrate.add_argument(
        "--pretrained",
        action="store_true",
        help="calibrate the model that ships with the package",
    )
    calibrate.add_argument(
        "--classes",
        choices=list(STEMS),
        default="normal-pneumonia",
        help="with --pretrained, which shipped model (default: normal-pneumonia)",
    )
    calibrate.add_argument(
        "--method",
        choices=["sigmoid", "temperature", "isotonic"],
        default="sigmoid",
        help="the map: Platt's sigmoid (default; undoes a shift and a scale "
        "of the log-odds), temperature (one scale), isotonic (any increasing "
        "map; needs about a thousand X-rays)",
    )
    calibrate.add_argument(
        "--objective",
        choices=["balanced_accuracy", "accuracy", "f1"],
        help="also tune the decision threshold of a two-class model for this "
        "objective on the same X-rays (scikit-learn's TunedThresholdClassifierCV, "
        "5 folds); the saved model then decides at that threshold",
    )
    calibrate.add_argument(
        "--min-sensitivity",
        type=_share,
        metavar="S",
        help="also tune the decision threshold of a two-class model: the most "
        "specific one whose sensitivity (recall of the second class, "
        "pneumonia) is at least S on the same X-rays (5 folds), e.g. 0.95",
    )
    calibrate.add_argument(
        "--out", type=Path, required=True, help="file to save the calibrated model to"
    )
    adapt = _cli_adapt.add_parser(commands)
    report = _cli_report.add_parser(commands)
    _add_intensity(train, "container")
    for command in (predict, calibrate, adapt, report):
        _add_intensity(command, "the model's; container for the shipped ones")
    return parser


def _add_intensity(command, default):
    """Add ``--intensity``: how the pixels of the image files read are scaled."""
    command.add_argument(
        "--intensity",
        choices=["container", "image"],
        help="what full scale is for the image files read: their bit depth "
        "(container: 8-bit 0-255, 16-bit 0-65535, or the bits the file says "
        "it holds; float files in 0-1) or each image's own range (image: its "
        "minimum to its maximum), for exports whose bit depth is unknown or "
        f"float files in other units (default: {default})",
    )


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _patients_parameter(pipe):
    """The fit parameter that gives ``pipe``'s networks the patients, and
    the share each holds out; ``(None, 0)`` where they take none.

    Where every network holds out training X-rays that nothing resampled,
    the hold-out is drawn by patient, never by image, as a sampler would
    forbid: ``cnn__groups`` for one network, ``ensemble__groups`` for
    several (each member gets them with the call).
    """
    name, final = pipe.steps[-1]
    members = [m for _, m in final.estimators] if name == "ensemble" else [pipe]
    shares = [m.named_steps["cnn"].validation_split for m in members]
    resampled = any(
        m.named_steps.get("sample", "passthrough") != "passthrough" for m in members
    )
    if resampled or not all(shares):
        return None, 0
    return f"{name}__groups", shares[0]


def _readable(failures, paths, *columns):
    """``paths`` and ``columns`` without the ``(path, reason)`` failures,
    which are named as left out."""
    _log(left_out_message(failures))
    keep = ~np.isin(paths, [path for path, _ in failures])
    return [paths[keep], *(np.asarray(column)[keep] for column in columns)]


def _load_training_data(args):
    """Training and held-out data, with class names as labels."""
    three = args.classes == "normal-bacterial-viral"
    if args.data is None:
        if three:
            raise ValueError(
                "--classes normal-bacterial-viral needs --data: the bundled "
                "PneumoniaMNIST does not say which pneumonia is bacterial or viral"
            )
        names = np.array(TARGET_NAMES)
        images, y = load_pneumoniamnist("train", return_X_y=True)
        held_images, held_y = load_pneumoniamnist("val", return_X_y=True)
        return (
            (images, names[y]),
            (held_images, names[held_y]),
            "images",
            (28, 28),
            "PneumoniaMNIST validation split",
        )
    for split in ("train", "test"):
        if not (args.data / split).is_dir():
            raise FileNotFoundError(f"{args.data / split} is not a folder")
    labels = {"labels": "name", "label_from": pneumonia_type if three else None}
    train = load_image_folder(args.data / "train", **labels)
    held_out = load_image_folder(args.data / "test", **labels)
    return train, held_out, "paths", (150, 150), f"{args.data / 'test'}"


def _train(args):
    if args.intensity is not None and args.data is None:
        raise ValueError("--intensity sets how image files are read: give --data")
    if args.contrast_range and not args.clahe:
        raise ValueError(
            "--contrast-range processes the --clahe share of the training "
            "X-rays, which is 0: give --clahe too, e.g. --clahe 0.5"
        )
    _tensorflow(args)
    from ._factories import make_pneumo_ensemble, make_pneumo_pipeline
    from ._persistence import save_model

    (X, y), (X_test, y_test), input_kind, default_size, held_out_name = (
        _load_training_data(args)
    )
    image_size = args.image_size or default_size
    classes, counts = np.unique(y, return_counts=True)
    _log(
        f"Training on {len(y)} images "
        f"({', '.join(f'{n} {c}' for c, n in zip(classes, counts))}) at "
        f"{image_size[0]}x{image_size[1]}, preset {args.preset}, "
        f"{args.members} network(s)"
    )
    build = (
        make_pneumo_pipeline
        if args.members == 1
        else partial(make_pneumo_ensemble, args.members)
    )
    pipe = build(
        image_size,
        sampler=None if args.sampler == "none" else args.sampler,
        input=input_kind,
        n_jobs=args.n_jobs,
        progress=input_kind == "paths",
        random_state=args.random_state,
        preset=args.preset,
        **({"epochs": args.epochs} if args.epochs else {}),
        batch_size=args.batch_size,
        model__filters=args.filters,
        clahe=args.clahe,
        contrast_range=args.contrast_range,
        sharpen=args.sharpen,
        outlier_variants=args.outlier_variants,
        fit__verbose=2,  # progress while training; predicting stays quiet
    )
    pipe.set_params(resize__border=args.border, resize__contrast=args.contrast)
    if args.intensity is not None:
        pipe.set_params(load__intensity=args.intensity)
    fit_params = {}
    patients, share = _patients_parameter(pipe)
    if input_kind == "paths" and patients:
        fit_params[patients] = patient_groups(X)
        _log(
            f"Validation hold-out of {share:.0%} by patient "
            f"({len(np.unique(fit_params[patients]))} patients in all)"
        )
    start = time.perf_counter()
    try:  # the files are decoded before any training
        pipe.fit(X, y, **fit_params)
    except ImageLoadError as error:
        X, y, *groups = _readable(error.failures, X, y, *fit_params.values())
        fit_params = dict(zip(fit_params, groups))
        pipe.fit(X, y, **fit_params)
    _log(f"Trained in {time.perf_counter() - start:.0f} s")
    try:
        proba = pipe.predict_proba(X_test)
    except ImageLoadError as error:
        X_test, y_test = _readable(error.failures, X_test, y_test)
        proba = pipe.predict_proba(X_test)
    if list(pipe.classes_) == list(TARGET_NAMES):
        scores = evaluate_binary(y_test, proba[:, 1], pos_label="PNEUMONIA")
    else:
        scores = evaluate_multiclass(y_test, proba, pipe.classes_)
    print(f"Held-out evaluation on {held_out_name} ({len(y_test)} images):")
    print(format_report(scores))
    if args.members > 1:  # its members' spread is an uncertainty to cut
        try:
            cut = measure_review_cut(pipe, X_test)
        except ValueError as error:
            _log(f"No review cut: {error}")
        else:
            _log(
                f"Review cut: an uncertainty above {cut.uncertainty:g} sends "
                f"{cut.share_above:.0%} of the held-out images to review; the "
                "model keeps it, so 'report' and 'predict' warn where more of a "
                "folder's answers lie above it than chance allows"
            )
    if args.save:
        if input_kind == "images":  # trained on arrays: read files when predicting
            pipe.set_params(load=ImageLoader(decode_size=image_size))
        save_model(pipe, args.save)
        _log(
            f"Saved the fitted model to {args.save}; predict image files with "
            f"'sklearn-pneumo predict {args.save} FILES_OR_FOLDERS'"
        )


def _expand_inputs(inputs):
    """Image paths of the inputs: folders by ``scan_images``, files as given.

    A file that is missing or cannot be read stays in the list, to get an
    error row of its own.
    """
    paths = []
    for entry in inputs:
        paths += scan_images(entry) if entry.is_dir() else [str(entry)]
    if not paths:
        raise ValueError(
            f"no image files found in {', '.join(map(str, inputs))}: image "
            f"files end in {', '.join(sorted(IMAGE_SUFFIXES))} (any case), at "
            "any depth, outside hidden folders"
        )
    return paths


def _check_output(out):
    """Refuse an output path that cannot be written, before any scoring."""
    if out is None:
        return
    if out.is_dir():
        raise IsADirectoryError(f"--out {out} is a directory; give a file name")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"--out {out}: folder {out.parent} does not exist")


def _plural(count, noun):
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _tensorflow(args):
    """Import TensorFlow as the command line wants its log: quiet unless asked."""
    if not args.tensorflow_log:
        import_tensorflow_quietly()


def _load_predictor(args, model_file):
    """The model to score with: an ONNX archive without TensorFlow, else Keras'."""
    from ._onnx import is_onnx_archive, load_onnx
    from ._pretrained import load_pretrained

    if model_file is None:
        if getattr(args, "onnx", False):
            model = load_pretrained(args.classes, runtime="onnx")
        elif importlib.util.find_spec("tensorflow") is None:
            _log("TensorFlow is not installed: scoring the ONNX form of the model")
            model = load_pretrained(args.classes, runtime="onnx")
        else:
            _tensorflow(args)
            model = load_pretrained(args.classes)
    elif model_file.is_dir():
        raise IsADirectoryError(f"model file {model_file} is a directory")
    elif not model_file.is_file():
        raise FileNotFoundError(f"model file {model_file} does not exist")
    elif is_onnx_archive(model_file):
        model = load_onnx(model_file)
    else:
        _tensorflow(args)
        from ._persistence import load_model

        model = load_model(model_file)
    if args.intensity is not None:
        loaders = image_loaders(model)
        if not loaders:
            raise ValueError(
                "--intensity sets how image files are read, and this model "
                "reads none (it takes arrays)"
            )
        for loader in loaders:
            loader.set_params(intensity=args.intensity)
    return model


def _model_and_inputs(args):
    """The model file (None with --pretrained) and the other arguments."""
    model_file, *inputs = [None, *args.arguments] if args.pretrained else args.arguments
    if model_file is not None and args.classes != "normal-pneumonia":
        raise ValueError(
            "--classes chooses a shipped model: give it with --pretrained (a "
            "model file has its own classes)"
        )
    return model_file, inputs


def _calibration_data(folder, classes):
    """Paths and labels of ``folder``, labelled as the model's ``classes``."""
    names = [str(c) for c in classes]
    if sorted(names) == ["bacterial", "normal", "viral"]:
        paths, y = load_image_folder(folder, label_from=pneumonia_type, labels="name")
    elif all(isinstance(c, (int, np.integer)) for c in classes):
        paths, y = load_image_folder(folder)  # 0 normal, 1 pneumonia
    else:
        paths, y = load_image_folder(folder, class_names="folders", labels="name")
    unknown = sorted(set(map(str, y)) - set(names))
    if unknown:
        raise ValueError(
            f"{folder} has classes the model does not know: {', '.join(unknown)} "
            f"(it knows {', '.join(names)})"
        )
    _check_class_counts(folder, y, classes)
    return paths, y


def _check_class_counts(folder, y, classes, readable=""):
    """Refuse fewer than 5 X-rays of a class of ``classes`` among ``y``."""
    names = [str(c) for c in classes]
    shown = dict(zip(names, class_display_names(classes)))  # 1 is PNEUMONIA
    counts = {name: int(np.sum(np.asarray(y).astype(str) == name)) for name in names}
    few = {shown[name]: n for name, n in counts.items() if n < 5}
    if few:
        raise ValueError(
            f"{folder} has "
            + ", ".join(
                f"{n} {readable}X-ray(s) of class {name}" for name, n in few.items()
            )
            + ": calibrating needs at least 5 of each class (hundreds to be worth it)"
        )


def _sensitivity_floor(minimum):
    """A score function: specificity where sensitivity reaches ``minimum``, else < 0.

    Below the floor it scores ``sensitivity - 1``, so that among thresholds
    that all miss it the closest ranks first.
    """
    from sklearn.metrics import recall_score

    def score(y, predicted, labels):
        sensitivity = recall_score(y, predicted, pos_label=labels[1])
        if sensitivity < minimum:
            return sensitivity - 1
        return recall_score(y, predicted, pos_label=labels[0])

    return score


def _tuned_threshold(model, paths, y, objective, min_sensitivity=None):
    """``model`` deciding at the threshold that maximises ``objective`` on ``y``.

    With ``min_sensitivity``, the objective is specificity among thresholds
    whose sensitivity reaches it.
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.metrics import get_scorer, make_scorer
    from sklearn.model_selection import (
        FixedThresholdClassifier,
        StratifiedKFold,
        TunedThresholdClassifierCV,
    )

    if len(model.classes_) != 2:
        raise ValueError(
            "--objective and --min-sensitivity tune the threshold of a two-class model"
        )
    scoring, name = objective, objective
    if min_sensitivity is not None:
        scoring = make_scorer(
            _sensitivity_floor(min_sensitivity), labels=list(model.classes_)
        )
        name = f"specificity at sensitivity >= {min_sensitivity:g}"
    tuned = TunedThresholdClassifierCV(
        FrozenEstimator(model),
        scoring=scoring,
        response_method="predict_proba",
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
    ).fit(paths, y)
    # Saved as the fixed threshold it found: a public type, nothing private.
    fixed = FixedThresholdClassifier(
        FrozenEstimator(model),
        threshold=float(tuned.best_threshold_),
        response_method="predict_proba",
    ).fit(paths[:2], y[:2])
    default = get_scorer(scoring)(model, paths, y)
    if tuned.best_score_ < 0:
        raise ValueError(
            f"no threshold reaches a sensitivity of {min_sensitivity:g} on every "
            f"fold of these X-rays (best {tuned.best_score_ + 1:.3f}): lower "
            "--min-sensitivity, or label more pneumonia X-rays"
        )
    print(
        f"Decision threshold for {name}: {tuned.best_threshold_:.3f} "
        f"({tuned.best_score_:.4f} over 5 folds of these X-rays; "
        f"{default:.4f} at 0.5)"
    )
    return fixed


def _calibrate(args):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.metrics import log_loss

    from ._onnx import is_onnx_archive

    model_file, folders = _model_and_inputs(args)
    if len(folders) != 1:
        raise ValueError(
            "give a model file and one labelled folder, or --pretrained and one "
            "labelled folder"
        )
    _check_output(args.out)
    if args.objective and args.min_sensitivity is not None:
        raise ValueError("give --objective or --min-sensitivity, not both")
    if importlib.util.find_spec("tensorflow") is None:
        raise ValueError("calibrating a model needs TensorFlow, which is not installed")
    if model_file is not None and model_file.is_file() and is_onnx_archive(model_file):
        raise ValueError(
            f"{model_file} is an ONNX archive; calibrate the Keras model file it "
            "was exported from"
        )
    if args.method not in CALIBRATION_METHODS:
        import sklearn

        raise ValueError(
            f"--method {args.method} needs scikit-learn 1.8 or later, and this "
            f"environment has {sklearn.__version__}: upgrade it, or use "
            "--method sigmoid"
        )
    model = _load_predictor(args, model_file)
    classes = model.classes_
    paths, y = _calibration_data(folders[0], classes)
    _log(f"Calibrating on {_plural(len(y), 'X-ray')} of {folders[0]}")
    proba, failures = apply_to_readable(model.predict_proba, list(paths))
    if failures:  # left out, named; the rest must still hold every class
        paths, y = _readable(failures, paths, y)
        _check_class_counts(folders[0], y, classes, readable="readable ")

    def loss(proba):  # float32 rows sum to 1 only within float32 rounding
        proba = np.asarray(proba, dtype=np.float64)
        return log_loss(y, proba / proba.sum(axis=1, keepdims=True), labels=classes)

    before = loss(proba)
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method=args.method)
    calibrated.fit(paths, y)
    after = loss(calibrated.predict_proba(paths))
    print(
        f"Log loss on these X-rays: {before:.4f} before, {after:.4f} after "
        f"({args.method}; measured on the X-rays it was fitted on: check it "
        "on others)"
    )
    if args.objective or args.min_sensitivity is not None:
        calibrated = _tuned_threshold(
            calibrated, paths, y, args.objective, args.min_sensitivity
        )
    from ._persistence import save_model

    save_model(calibrated, args.out)
    _log(
        f"Saved the calibrated model to {args.out}; predict image files with "
        f"'sklearn-pneumo predict {args.out} FILES_OR_FOLDERS'"
    )


@contextlib.contextmanager
def _cluster(address):
    """A Dask client of the scheduler at ``address``, or None without one."""
    if address is None:
        yield None
        return
    if importlib.util.find_spec("distributed") is None:
        raise ValueError(
            "--scheduler needs Dask's distributed: pip install distributed"
        )
    import dask
    from distributed import Client

    try:  # Dask's own connect timeout (30 s unless configured)
        timeout = dask.config.get("distributed.comm.timeouts.connect")
        client = Client(address, timeout=timeout)
    except OSError as error:
        raise OSError(
            f"cannot reach the Dask scheduler at {address} ({error}): is it "
            "running, and is the address (tcp://host:port) right?"
        ) from None
    _log(f"Scoring on the Dask cluster of {address}")
    with client:
        yield client


def _predict(args):
    model_file, inputs = _model_and_inputs(args)
    if not inputs:
        raise ValueError(
            "give a model file and image files or folders, or --pretrained "
            "and image files or folders"
        )
    _check_output(args.out)
    if args.resume and args.out is None:
        raise ValueError("--resume needs --out FILE")
    if args.out is not None and args.out.exists() and not args.overwrite:
        raise FileExistsError(
            f"--out {args.out} exists: pass --overwrite to replace it"
            + ("" if args.resume else ", or --resume if a run was interrupted")
        )
    paths = _expand_inputs(inputs)
    model = _load_predictor(args, model_file)
    if args.bfloat16 and not hasattr(model, "set_params"):
        raise ValueError("--bfloat16 applies to Keras models, not to ONNX archives")
    if args.bfloat16:
        scorer = scoring_model(model)  # a search scores with its best estimator
        final = f"{scorer.steps[-1][0]}__" if hasattr(scorer, "steps") else ""
        scorer.set_params(**{f"{final}inference_dtype_policy": "mixed_bfloat16"})
    _log(f"Predicting {_plural(len(paths), 'image')}")
    # A bar only where a person watches stderr, and never on the terminal
    # that shows the CSV rows (they would share lines).
    progress = sys.stderr.isatty() and not (args.out is None and sys.stdout.isatty())
    with _cluster(args.scheduler) as client:
        summary = predict_files(
            model,
            paths,
            args.out or sys.stdout,
            batch_size=args.batch_size,
            progress=progress,
            resume=args.resume,
            overwrite=args.overwrite,
            client=client,
        )
    if summary.get("n_resumed"):
        _log(f"Resumed: kept {_plural(summary.n_resumed, 'row')} of {args.out}.partial")
    if summary.n_outliers:
        _log(
            f"{_plural(summary.n_outliers, 'image')} of {summary.n_files} flagged "
            "as unlike the training X-rays (outlier column): their predictions "
            "are not to be trusted"
        )
    if summary.n_errors:
        named = "; ".join(f"{path}: {reason}" for path, reason in summary.errors[:3])
        more = summary.n_errors - min(3, summary.n_errors)
        _log(
            f"{_plural(summary.n_errors, 'file')} could not be read ({named}"
            f"{f'; and {more} more' if more else ''}); see the error column"
        )
    return 1 if summary.n_errors else 0


def main(argv=None):
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if args.tensorflow_log:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
    command = {
        "train": _train,
        "predict": _predict,
        "calibrate": _calibrate,
        "adapt": partial(
            _cli_adapt.run,
            model_and_inputs=_model_and_inputs,
            load_predictor=_load_predictor,
            expand_inputs=_expand_inputs,
            check_output=_check_output,
            log=_log,
        ),
        "report": partial(
            _cli_report.run,
            model_and_inputs=_model_and_inputs,
            load_predictor=_load_predictor,
            expand_inputs=_expand_inputs,
            log=_log,
        ),
    }
    shown = set()

    def show(message, *_):
        # A warning reads as a line of the tool's, not as Python source, and
        # once: a batch with an unreadable file is decoded again without it.
        if str(message) not in shown:
            shown.add(str(message))
            _log(f"sklearn-pneumo: warning: {message}")

    with warnings.catch_warnings():
        warnings.showwarning = show
        try:
            return command[args.command](args) or 0
        except (OSError, ValueError, ImportError) as error:
            # ImportError: an optional extra that is not installed; its
            # message names the pip command.
            _log(f"sklearn-pneumo: error: {error}")
            return 1


if __name__ == "__main__":
    sys.exit(main())
