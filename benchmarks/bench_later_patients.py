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
recall, pneumonia recall, ROC AUC, the mean P(pneumonia) of the normal
X-rays, and the normal recall of each series of normal files (``IM``,
``NORMAL2-IM``). What the later part loses against the same-period one is
what a validation part drawn at random cannot see.

Then what a site can do with its own later X-rays, scored on later ones it
did not use: adapt to their class shares from one half of the later
patients, unlabeled (``PriorShiftAdapter``, as ``sklearn-pneumo adapt``
does, with each of its ``probabilities``), scoring the other half and the
other way round; and label 25 to 200 later X-rays of whole patients
(``--draws`` times), calibrate on them as ``sklearn-pneumo calibrate`` does
(sigmoid on the log-odds), alone and with the threshold tuned for balanced
accuracy (``--objective balanced_accuracy``), scoring the other later
patients. Also each part through the calibration the fit measured on its
hold-out (``source_calibration_``, the adapter's first step), and the
estimated shares against the true one. ``--contrast`` fits with
``resize__contrast`` (exposure normalized per X-ray) instead of the paper's
preprocessing; ``--head average`` with a global-average head
(``model__head``) instead of the paper's flattening one, and
``--batch-norm-momentum`` sets ``model__batch_norm_momentum`` (0.99 fits as
the shipped networks were fitted); ``--contrast-range`` gives half of the
training X-rays contrast processing drawn from a range
(``contrast_range=True``) instead of 30 % CLAHE at its defaults. The later
part's normal recall is also
given at the threshold that calls 95 % of the same-period normal X-rays
normal, so that networks compare at one operating point.
``--network-seeds`` fits a network with each seed on the one training part
(``--random-state`` splits) and gives, for each and for the mean of their
P(pneumonia), the ROC AUCs and the normal recalls at that point; it does
not adapt or calibrate.

    python benchmarks/bench_later_patients.py \\
        --train-dir ../shared/data/chest_xray_224/train --out later.json
"""

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
from bench_few_labels import COUNTS, calibrate_on, labelled_draw
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    StratifiedGroupKFold,
    StratifiedKFold,
    TunedThresholdClassifierCV,
)

from sklearn_pneumo import PriorShiftAdapter, evaluate_binary, make_pneumo_pipeline
from sklearn_pneumo._prior_shift import calibrated
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


def later_split(paths, y, groups, share, seed):
    """Rows of the training part, of the same-period part, and later ones (a mask).

    The latest ``share`` of each series' patients are the later period; the
    earlier patients are split by patient, stratified, into a training part
    and a same-period part of that share.
    """
    later = later_patients(paths, share)
    earlier = np.flatnonzero(~later)
    folds = StratifiedGroupKFold(
        n_splits=round(1 / share), shuffle=True, random_state=seed
    )
    train, same = next(folds.split(paths[earlier], y[earlier], groups[earlier]))
    return earlier[train], earlier[same], later


def figures(y, p, paths):
    """``evaluate_binary``'s figures, and the normal X-rays' by series.

    The normal X-rays' mean P(pneumonia), and the recall of each series of
    normal files (``IM``, ``NORMAL2-IM``): the later drift is in one.
    """
    series = np.array([series_and_number(path)[0] for path in paths])
    normal = y == 0
    return {
        "xrays": int(len(y)),
        **evaluate_binary(y, p),
        "normal_mean_p": float(p[normal].mean()),
        "normal_recall_by_series": {
            str(name): {
                "xrays": int((normal & (series == name)).sum()),
                "recall": float((p[normal & (series == name)] < 0.5).mean()),
            }
            for name in np.unique(series[normal])
        },
    }


def adapted(pipe, paths, y, groups, seed):
    """Later X-rays' P(pneumonia), adapted on the other half of the patients.

    By each of ``PriorShiftAdapter``'s ``probabilities``: the model's own
    reweighed, and those calibrated on the fit's hold-out reweighed.
    """
    halves = StratifiedGroupKFold(n_splits=2, shuffle=True, random_state=seed)
    p, priors = {"model": np.empty(len(y)), "calibrated": np.empty(len(y))}, []
    for fit_rows, score_rows in halves.split(paths, y, groups):
        adapter = PriorShiftAdapter(pipe, random_state=seed).fit(paths[fit_rows])
        for how, column in p.items():
            adapter.set_params(probabilities=how)
            column[score_rows] = adapter.predict_proba(paths[score_rows])[:, 1]
        priors.append(round(float(adapter.priors_[1]), 4))
    return p, priors


def few_labels(p, y, groups, draws):
    """Median figures on the unused later X-rays, calibrated on ``n`` labelled."""
    rows = {}
    for n in COUNTS:
        rng = np.random.default_rng(0)
        runs = {"before": [], "calibrated": [], "balanced_threshold": []}
        for _ in range(draws):
            chosen, rest = labelled_draw(groups, n, rng)
            if np.bincount(y[chosen], minlength=2).min() < 5:
                continue  # too few of a class for 5 stratified folds
            calibrated = calibrate_on(p, chosen, y)
            tuned = TunedThresholdClassifierCV(
                FrozenEstimator(calibrated),
                scoring="balanced_accuracy",
                cv=StratifiedKFold(5, shuffle=True, random_state=0),
            ).fit(chosen.reshape(-1, 1), y[chosen])
            p_after = calibrated.predict_proba(rest.reshape(-1, 1))[:, 1]
            decided = tuned.predict(rest.reshape(-1, 1)).astype(float)
            runs["before"].append(evaluate_binary(y[rest], p[rest]))
            runs["calibrated"].append(evaluate_binary(y[rest], p_after))
            runs["balanced_threshold"].append(evaluate_binary(y[rest], decided))
        rows[n] = {"draws": len(runs["before"])} | {
            how: {
                key: float(np.median([r[key] for r in results]))
                for key in ("accuracy", "specificity", "sensitivity", "ece")
            }
            for how, results in runs.items()
        }
    return rows


def normal_recall_at(y_same, p_same, parts, share=0.95):
    """Normal recall of ``parts`` at the threshold of ``share`` same-period recall.

    The threshold is the ``share`` quantile of the same-period normal
    X-rays' P(pneumonia); compares networks whose decisions sit at
    different points. ``parts`` maps names to ``(y, p)``.
    """
    threshold = float(np.quantile(p_same[y_same == 0], share))
    parts = {"same_period": (y_same, p_same), **parts}
    return {"threshold": threshold} | {
        name: float((p[y == 0] < threshold).mean()) for name, (y, p) in parts.items()
    }


def print_row(name, row):
    print(
        f"{name:<22} {row['xrays']:>5} X-rays: accuracy {row['accuracy']:.3f}, "
        f"normal recall {row['specificity']:.3f}, pneumonia recall "
        f"{row['sensitivity']:.3f}, ROC AUC {row['roc_auc']:.3f}, "
        f"ECE {row['ece']:.3f}, normal mean P(pneumonia) {row['normal_mean_p']:.3f}",
        flush=True,
    )
    print(
        " " * 23
        + "normal recall by series: "
        + ", ".join(
            f"{name} {part['recall']:.3f} of {part['xrays']}"
            for name, part in row["normal_recall_by_series"].items()
        ),
        flush=True,
    )


def configured_pipe(
    image_size,
    epochs,
    seed,
    *,
    contrast="keep",
    head="flatten",
    batch_norm_momentum=0.9,
    contrast_range=False,
):
    """The shipped configuration at ``image_size`` in float32, unfitted.

    With ``contrast_range``, half of the training X-rays are given contrast
    processing drawn from a range (``clahe=0.5, contrast_range=True``)
    instead of 30 % given CLAHE at its defaults.
    """
    pipe = make_pneumo_pipeline(
        (image_size, image_size),
        preset="tuned",
        random_state=seed,
        epochs=epochs,
        **SETTINGS,
    )
    return pipe.set_params(
        resize__contrast=contrast,
        cnn__model__head=head,
        cnn__model__batch_norm_momentum=batch_norm_momentum,
        **({"cnn__clahe": 0.5, "cnn__contrast_range": True} if contrast_range else {}),
    )


def _pipe_of(args, seed):
    """:func:`configured_pipe` with the command line's settings."""
    return configured_pipe(
        args.image_size,
        args.epochs,
        seed,
        contrast=args.contrast,
        head=args.head,
        batch_norm_momentum=args.batch_norm_momentum,
        contrast_range=args.contrast_range,
    )


def ensemble_run(args, paths, y, groups, train, same, later):
    """Networks of ``--network-seeds`` fitted on one training part, and their mean.

    For each member and for the mean of their P(pneumonia): ROC AUC on the
    same-period and later parts, and the later part's and the normal
    samples' normal recall at the threshold that calls 95 % of the
    same-period normal X-rays normal.
    """
    sample_paths, sample_y = load_chest_xray_sample()
    rows = np.flatnonzero(later)
    parts = {"same_period": same, "later": rows}
    proba = {}
    report = {"settings": {k: str(v) for k, v in vars(args).items()}}
    for seed in args.network_seeds:
        pipe = _pipe_of(args, seed)
        start = time.perf_counter()
        pipe.fit(paths[train], y[train], cnn__groups=groups[train])
        seconds = round(time.perf_counter() - start, 1)
        proba[seed] = {
            name: pipe.predict_proba(paths[r])[:, 1] for name, r in parts.items()
        }
        proba[seed]["samples"] = pipe.predict_proba(sample_paths)[:, 1]
        report[f"network {seed}"] = {"fit_seconds": seconds}
    proba["mean"] = {
        name: np.mean([proba[seed][name] for seed in args.network_seeds], axis=0)
        for name in (*parts, "samples")
    }
    for member, p in proba.items():
        row = report.setdefault(f"network {member}", {})
        for name, r in parts.items():
            row[f"{name}_roc_auc"] = float(roc_auc_score(y[r], p[name]))
        row["normal_recall_at_same_period_0.95"] = normal_recall_at(
            y[same],
            p["same_period"],
            {"later": (y[rows], p["later"]), "samples": (sample_y, p["samples"])},
        )
        point = row["normal_recall_at_same_period_0.95"]
        print(
            f"network {member}: ROC AUC same period {row['same_period_roc_auc']:.3f}, "
            f"later {row['later_roc_auc']:.3f}; at the threshold "
            f"{point['threshold']:.4f}: later normal recall {point['later']:.3f}, "
            f"normal samples {point['samples']:.3f}",
            flush=True,
        )
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--later", type=float, default=0.2)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument(
        "--contrast", choices=["keep", "stretch", "equalize"], default="keep"
    )
    parser.add_argument("--head", choices=["flatten", "average"], default="flatten")
    parser.add_argument("--batch-norm-momentum", type=float, default=0.9)
    parser.add_argument("--contrast-range", action="store_true")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument(
        "--network-seeds",
        type=int,
        nargs="+",
        help="fit a network with each seed on the one training part and compare "
        "them and their mean at the same-period operating point (no adapting)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths, y, groups = load_image_folder(args.train_dir, return_groups=True)
    train, same, later = later_split(paths, y, groups, args.later, args.random_state)
    if args.network_seeds:
        report = ensemble_run(args, paths, y, groups, train, same, later)
        if args.out:
            args.out.write_text(json.dumps(report, indent=2) + "\n")
        return
    pipe = _pipe_of(args, args.random_state)
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
    proba = {}
    for name, part_paths, part_y in [
        ("same_period", paths[same], y[same]),
        ("later", paths[later], y[later]),
        ("samples", sample_paths, sample_y),
    ]:
        proba[name] = pipe.predict_proba(part_paths)[:, 1]
        report[name] = figures(part_y, proba[name], part_paths)
        print_row(name, report[name])
    rows = np.flatnonzero(later)
    report["later_normal_recall_at_same_period_0.95"] = point = normal_recall_at(
        y[same],
        proba["same_period"],
        {"later": (y[rows], proba["later"]), "samples": (sample_y, proba["samples"])},
    )
    print(
        f"at the threshold {point['threshold']:.4f} (same-period normal recall "
        f"{point['same_period']:.3f}): later normal recall {point['later']:.3f}, "
        f"normal samples {point['samples']:.3f}",
        flush=True,
    )
    p_adapted, priors = adapted(
        pipe, paths[rows], y[rows], groups[rows], args.random_state
    )
    for how, p_how in p_adapted.items():
        report[f"later_adapted_{how}"] = figures(y[rows], p_how, paths[rows])
    report["later_pneumonia_shares"] = priors
    source_share = pipe[-1].source_priors_[1]
    calibration = pipe[-1].source_calibration_
    report["source_pneumonia_share"] = round(float(source_share), 4)
    report["source_calibration"] = (
        None if calibration is None else np.round(calibration, 4).tolist()
    )
    for how in p_adapted:
        print_row(f"later, adapted ({how})", report[f"later_adapted_{how}"])
    # What the adapter's first step, the source calibration, does alone.
    for name, part in [("same_period", same), ("later", rows)]:
        two = np.column_stack([1 - proba[name], proba[name]])
        report[f"{name}_source_calibrated"] = row = figures(
            y[part], calibrated(two, calibration)[:, 1], paths[part]
        )
        print_row(f"{name}, calibrated", row)
    print(
        f"  estimated pneumonia shares of the two halves: {priors} (source "
        f"{source_share:.4f}, calibration {report['source_calibration']}; "
        f"true {y[rows].mean():.4f})"
    )
    report["later_few_labels"] = few_labels(
        proba["later"], y[rows], groups[rows], args.draws
    )
    for n, row in report["later_few_labels"].items():
        print(
            f"later, {n:>3} labels ({row['draws']} draws), normal recall / "
            "accuracy (/ ECE): "
            + ", ".join(
                f"{how} {row[how]['specificity']:.3f} / {row[how]['accuracy']:.3f}"
                + (f" / {row[how]['ece']:.3f}" if how != "balanced_threshold" else "")
                for how in ("before", "calibrated", "balanced_threshold")
            ),
            flush=True,
        )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
