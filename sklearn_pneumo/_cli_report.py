"""``sklearn-pneumo report``: a scored folder as a page to review.

Its options and its ``run``, registered by the command line's dispatcher
(:mod:`sklearn_pneumo._cli`).
"""

import csv
import os
from pathlib import Path

from ._class_names import class_display_names
from ._pretrained import STEMS


def add_parser(commands):
    """Add the ``report`` subcommand to ``commands`` (argparse subparsers)."""
    report = commands.add_parser(
        "report",
        help="write a page to review a model's answers for image files",
        usage="sklearn-pneumo report [options] MODEL INPUT [INPUT ...] --out DIR\n"
        "       sklearn-pneumo report [options] --pretrained INPUT [INPUT ...] "
        "--out DIR",
        description="Score image files (folders are searched at any depth) and "
        "write DIR/index.html: each X-ray as the network saw it under its "
        "Grad-CAM heatmap, the prediction, probabilities, uncertainty and "
        "flags, sortable and filtered to the answers to review, with a detail "
        "view; with labels, the metrics. It opens from file:// offline. The "
        "page and the command line warn where more answers lie above the "
        "model's review cut of uncertainty than of its validation X-rays.",
    )
    report.add_argument(
        "arguments",
        nargs="+",
        type=Path,
        metavar="MODEL INPUT",
        help="a model file or ONNX archive (left out with --pretrained), then "
        "image files or folders",
    )
    report.add_argument(
        "--pretrained", action="store_true", help="report on the shipped model"
    )
    report.add_argument(
        "--classes",
        choices=list(STEMS),
        default="normal-pneumonia",
        help="with --pretrained, which shipped model (default: normal-pneumonia)",
    )
    report.add_argument("--out", type=Path, required=True, help="the report's folder")
    report.add_argument(
        "--labels",
        type=Path,
        metavar="CSV",
        help="a CSV with columns path and label, one row per input; without it, "
        "folders laid out as CLASS/… (NORMAL/, PNEUMONIA/) give the labels",
    )
    report.add_argument(
        "--no-heatmaps",
        dest="heatmaps",
        action="store_false",
        help="leave the Grad-CAM heatmaps out (one pass of the network less)",
    )
    report.add_argument(
        "--review-uncertainty",
        type=float,
        metavar="CUT",
        help="answers above this uncertainty need review (default: the model's "
        "own cut, which the shipped models carry; with it, the report also "
        "warns where more answers than of its validation X-rays lie above it)",
    )
    report.add_argument(
        "--overwrite", action="store_true", help="replace an existing DIR"
    )
    report.add_argument(
        "--batch-size",
        type=int,
        default=256,
        help="files scored at once; bounds memory (default: 256)",
    )
    return report


def _labels_from_csv(file, paths):
    """One label per path from ``file`` (columns ``path`` and ``label``)."""
    try:
        with open(file, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
                raise ValueError(
                    f"--labels {file}: it needs the columns path and label, "
                    f"has {reader.fieldnames}"
                )
            given = {}
            for row in reader:
                given[os.path.normpath(row["path"])] = row["label"]
                given.setdefault(os.path.basename(row["path"]), row["label"])
    except FileNotFoundError:
        raise FileNotFoundError(f"--labels {file} does not exist") from None
    labels, missing = [], []
    for path in paths:
        label = given.get(os.path.normpath(path), given.get(os.path.basename(path)))
        (labels if label is not None else missing).append(label or path)
    if missing:
        raise ValueError(
            f"--labels {file} has no label for {missing[0]}"
            + (f" and {len(missing) - 1} more inputs" if len(missing) > 1 else "")
        )
    return labels


def _labels_from_folders(paths, classes):
    """Labels from each file's folder name, if every one names a class."""
    names = {name.lower(): name for name in class_display_names(classes)}
    labels = [names.get(Path(path).parent.name.lower()) for path in paths]
    return labels if all(labels) else None


def run(args, *, model_and_inputs, load_predictor, expand_inputs, log):
    """Score, draw and write the report; the command line's helpers are passed in."""
    from ._label_shift_check import unlike_source_warning
    from ._report import review_report
    from ._site_warning import uncertainty_warning

    model_file, inputs = model_and_inputs(args)
    if not inputs:
        raise ValueError(
            "give a model file and image files or folders, or --pretrained and "
            "image files or folders"
        )
    paths = expand_inputs(inputs)
    model = load_predictor(args, model_file)
    if args.labels is not None:
        y = _labels_from_csv(args.labels, paths)
    else:
        y = _labels_from_folders(paths, model.classes_)
    name = f"shipped {args.classes} model" if model_file is None else model_file.name
    log(
        f"Reporting on {len(paths)} input(s)"
        + (" with their labels" if y is not None else "")
    )
    summary = review_report(
        model,
        paths,
        args.out,
        y,
        heatmaps=args.heatmaps,
        review_uncertainty=args.review_uncertainty,
        model_name=name,
        overwrite=args.overwrite,
        batch_size=args.batch_size,
        progress=os.isatty(2),
    )
    log(
        f"Wrote {summary.index}: {summary.n_files} input(s), {summary.n_review} to "
        f"review ({summary.n_outliers} flagged as outliers, {summary.n_errors} "
        "could not be read). Open it in a browser."
    )
    for path, reason in summary.errors[:3]:
        log(f"  {path}: {reason}")
    if summary.n_errors > 3:
        log(f"  and {summary.n_errors - 3} more: the page and its CSV name each")
    if summary.uncertain is not None and summary.uncertain.more:
        log(f"sklearn-pneumo: warning: {uncertainty_warning(summary.uncertain)}")
    if summary.unlike_source is not None and summary.unlike_source.more:
        log(f"sklearn-pneumo: warning: {unlike_source_warning(summary.unlike_source)}")
    return 1 if summary.n_errors else 0
