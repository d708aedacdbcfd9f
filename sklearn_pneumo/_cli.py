"""Command line: train the paper's pipeline, evaluate it, and predict files."""

import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path

from ._batch import predict_files
from ._evaluation import evaluate_binary, format_report
from .datasets import IMAGE_SUFFIXES, load_image_folder, load_pneumoniamnist


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
    commands = parser.add_subparsers(dest="command", required=True)
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
        "NORMAL/ and PNEUMONIA/ (default: bundled PneumoniaMNIST)",
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
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument(
        "--sampler",
        choices=["auto", "over", "under", "none"],
        default="auto",
        help="class balancing (default: the preset's)",
    )
    train.add_argument("--filters", type=_positive_int, default=64)
    train.add_argument("--random-state", type=int, default=0)
    train.add_argument("--n-jobs", type=int, default=-1, help="threads for decoding")
    train.add_argument(
        "--save", type=Path, help="write the fitted model (safe format: see save_model)"
    )
    predict = commands.add_parser(
        "predict",
        help="predict image files with a saved model",
        description="Write a CSV row per image: path, prediction, class "
        "probabilities, and the error for a file that cannot be read.",
    )
    predict.add_argument("model", type=Path, help="a model saved by 'train --save'")
    predict.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    predict.add_argument("--out", type=Path, help="CSV file (default: standard output)")
    predict.add_argument("--batch-size", type=_positive_int, default=256)
    return parser


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _load_training_data(args):
    if args.data is None:
        train = load_pneumoniamnist("train", return_X_y=True)
        held_out = load_pneumoniamnist("val", return_X_y=True)
        return train, held_out, "images", (28, 28), "PneumoniaMNIST validation split"
    for split in ("train", "test"):
        if not (args.data / split).is_dir():
            raise FileNotFoundError(f"{args.data / split} is not a folder")
    train = load_image_folder(args.data / "train")
    held_out = load_image_folder(args.data / "test")
    return train, held_out, "paths", (150, 150), f"{args.data / 'test'}"


def _train(args):
    from ._persistence import save_model
    from ._pipeline import make_pneumo_ensemble, make_pneumo_pipeline

    (X, y), (X_test, y_test), input_kind, default_size, held_out_name = (
        _load_training_data(args)
    )
    image_size = args.image_size or default_size
    _log(
        f"Training on {len(y)} images ({int(sum(y))} pneumonia) at "
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
        verbose=2,
    )
    start = time.perf_counter()
    pipe.fit(X, y)
    _log(f"Trained in {time.perf_counter() - start:.0f} s")
    scores = evaluate_binary(y_test, pipe.predict_proba(X_test)[:, 1])
    print(f"Held-out evaluation on {held_out_name} ({len(y_test)} images):")
    print(format_report(scores))
    if args.save:
        save_model(pipe, args.save)
        _log(f"Saved the fitted model to {args.save}")


def _expand_inputs(inputs):
    paths = []
    for entry in inputs:
        if entry.is_dir():
            paths += sorted(
                str(p)
                for p in entry.rglob("*")
                if p.suffix.lower() in IMAGE_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(entry).parts)
            )
        else:
            paths.append(str(entry))
    if not paths:
        raise ValueError("no image files found in the given inputs")
    return paths


def _predict(args):
    from ._persistence import load_model

    if not args.model.is_file():
        raise FileNotFoundError(f"model file {args.model} does not exist")
    model = load_model(args.model)
    paths = _expand_inputs(args.inputs)
    _log(f"Predicting {len(paths)} images")
    n_errors = predict_files(
        model,
        paths,
        args.out or sys.stdout,
        batch_size=args.batch_size,
        progress=True,
    )
    if n_errors:
        _log(f"{n_errors} file(s) could not be read; see the error column")
    return 1 if n_errors else 0


def main(argv=None):
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    # Before TensorFlow is first imported: keep its C++ start-up log quiet.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return (_train if args.command == "train" else _predict)(args) or 0
    except (OSError, ValueError) as error:
        _log(f"sklearn-pneumo: error: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
