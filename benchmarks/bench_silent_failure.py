"""No silent failure: for every site change, answers that hold or flags that fire.

Each shipped network scores training-folder X-rays it was not fitted on
(the binary model: the hold-out of its fit; the type network of the
three-class model, on its own: the validation part of
``bench_multiclass.py``'s split, its pneumonia X-rays alone when the
network tells the types only), as they are and changed by every entry of
``_validation.SITE_CHANGES``, by Gaussian noise of standard deviation
0.04, 0.05 and 0.08 added at full resolution (before resizing), by
sharpening (unsharp mask, radius 2, amount 1), by blurring (a Gaussian of
standard deviation 1 pixel), by framings no training here draws (the other
class's, cut by 0.05, 0.15 and 0.25 instead of 0.1; every X-ray cut by a
tenth at the top and bottom, or at the sides, or by 0.15 at the top
alone), and by processing held back from every choice here (CLAHE of clip
limit 0.03 or on 4x4 tiles, global histogram equalization, unsharp masks
of radius 1 and 3; and, held back from the binary network's further
training on a range of contrast processing, a percentile window, a film
curve, a wide unsharp mask and CLAHE then sharpening; and, held back from
networks trained on a range of unsharp masks, which spans the masks
above, a mask of radius 12, a Laplacian edge enhancement and a 3x3 median
filter). The rule, per
change: either the answers hold (accuracy within 0.02 and ROC AUC within
0.01 of the plain copy's, of pneumonia or not; of viral or bacterial for a
network of the types) and at most 3 % are flagged as outliers, or at least
90 % are flagged. A change
that breaks it is either silently wrong (answers move, few flagged) or a
false alarm (answers hold, many flagged). For a three-class network the
bacterial-vs-viral ROC AUC is printed too (P(viral) / (P(bacterial) +
P(viral)), on the X-rays with pneumonia). Each class's recall is printed
too: a change that moves normal X-rays to pneumonia can raise the accuracy
of a mix with few normal ones, and the outlier model's own rule
(``_noise.answers_hold``) asks each recall to hold: whether the answers
hold by that rule, at any mix of the classes, is printed and kept too
(``holds_at_any_mix``). So is what each change loses of accuracy and ROC
AUC against the plain copy, as a 95 % paired bootstrap interval over the
X-rays (``drop_intervals``): a verdict whose interval holds the rule's
bound rests on too few X-rays to tell. And how far each change moves the
answers of each class: the median, over its X-rays, of the change in
log-odds of the positive class (pneumonia; viral for a network of the
types) against the plain copy (``logit_shifts``); a
network whose ranking holds can still move every answer of a class
toward the threshold. And what a site's own adaptation does to each
copy (``adapted``): the class shares estimated by ``PriorShiftAdapter``'s
EM on the copy's X-rays themselves, its outliers left out, and the copy's
accuracy and recalls with its answers moved to them, as ``sklearn-pneumo
adapt`` would move them for a site that sends X-rays so changed, and
whether the site warning fires on them, and whether their scores are no
mixture of the plain X-rays' per-class scores (the adapter's
``site_unlike_source_``; the model's score reference, or one counted on
the plain copy for a model without it): either way ``adapt`` then keeps
the model's answers unless told otherwise.

    python benchmarks/bench_silent_failure.py \\
        --train-dir ../shared/data/chest_xray_224/train --out silent.json

``--test-time-augmentation`` scores the shipped networks with their
test-time views (``load_pretrained(test_time_augmentation=True)``).
``--model FILE`` scores a binary model saved with ``save_model`` instead of
the shipped one (a candidate of ``train_pretrained.py --candidate``), on the
hold-out of its own fit; with ``--classes normal-bacterial-viral``, a type
network instead of the shipped one (of ``train_pretrained.py
--fine-tune-types``), on the same X-rays as the shipped one.
"""

import argparse
import json
from pathlib import Path

import numpy as np
from _validation import aspect_swapped, cropped, fit_holdout, site_copies
from bench_prior_shift import (
    positive,
    sick,
    site_warning,
    unseen_model,
    unseen_xrays,
)
from skimage.exposure import (
    adjust_sigmoid,
    equalize_adapthist,
    equalize_hist,
    rescale_intensity,
)
from skimage.filters import gaussian, laplace, median, unsharp_mask
from sklearn.metrics import roc_auc_score

from sklearn_pneumo import PriorShiftAdapter, load_model
from sklearn_pneumo._decision import log_odds
from sklearn_pneumo._label_shift_check import label_shift_check, score_reference
from sklearn_pneumo._noise import answers_hold
from sklearn_pneumo._prior_shift import (
    PRIOR_STRENGTH,
    calibrated,
    em_priors,
    flagged_beyond,
    flagged_rate,
    shift_priors,
    source_priors,
    source_reference,
)
from sklearn_pneumo._site_warning import review_cut
from sklearn_pneumo._walk import final_step
from sklearn_pneumo.datasets import load_image_folder


def _processed(process, image, **options):
    return np.clip(process(image, **options), 0, 1).astype(np.float32)


def _noisy(sigma, seed):
    def change(image, _):
        noise = np.random.default_rng(seed).normal(0, sigma, image.shape)
        return np.clip(image + noise, 0, 1).astype(np.float32)

    return change


EXTRA_CHANGES = {
    "noise_0.04": _noisy(0.04, 2),
    "noise_0.05": _noisy(0.05, 1),
    "noise_0.08": _noisy(0.08, 3),
    "sharpened": lambda image, _: _processed(unsharp_mask, image, radius=2, amount=1),
    "blurred": lambda image, _: gaussian(image, sigma=1).astype(np.float32),
    # Framings that no training here draws (the binary network's further
    # training draws the other class's at 0.1): the other class's, cut by
    # half and by one and a half times as much, and every X-ray framed
    # tighter alike, at the top and bottom or at the sides.
    "framing_0.05": lambda image, label: aspect_swapped([image], [label], 0.05)[0],
    "framing_0.15": lambda image, label: aspect_swapped([image], [label], 0.15)[0],
    "cropped_top_bottom": lambda image, _: cropped(image, 0.1, 0.0),
    "cropped_sides": lambda image, _: cropped(image, 0.0, 0.1),
    # Framings that no training here draws, the re-framings of
    # ``train_pretrained.py --fine-tune-types --framings`` (cuts of 0.03 to
    # 0.2 at both ends) included: the other class's cut by 0.25, and 0.15
    # cut at the top alone.
    "framing_0.25": lambda image, label: aspect_swapped([image], [label], 0.25)[0],
    "cropped_top_0.15": lambda image, _: image[round(0.15 * image.shape[0]) :],
    # Processing held back from every training, outlier fit and choice here,
    # which draw CLAHE of skimage's defaults and unsharp masks of radius 2
    # alone: CLAHE three times as strong (clip limit 0.03 against 0.01) or
    # on 4x4 tiles instead of 8x8, global histogram equalization, and
    # unsharp masks of other radii.
    "clahe_clip_0.03": lambda image, _: _processed(
        equalize_adapthist, image, clip_limit=0.03
    ),
    "clahe_tiles_4": lambda image, _: _processed(
        equalize_adapthist, image, kernel_size=image.shape[0] // 4
    ),
    "equalized": lambda image, _: _processed(equalize_hist, image),
    "sharpened_r1": lambda image, _: _processed(
        unsharp_mask, image, radius=1, amount=2
    ),
    "sharpened_r3": lambda image, _: _processed(
        unsharp_mask, image, radius=3, amount=0.5
    ),
    # Processing held back from the binary network's further training on a
    # range of contrast processing (``train_pretrained.py --fine-tune-contrast``,
    # which draws the three above): a linear window between the 2nd and 98th
    # percentiles, an S-shaped film curve, a wide unsharp mask enhancing
    # large-scale contrast, and CLAHE followed by sharpening.
    "windowed": lambda image, _: _processed(
        rescale_intensity,
        image,
        in_range=tuple(np.percentile(image, (2, 98))),
        out_range=(0.0, 1.0),
    ),
    "sigmoid": lambda image, _: _processed(adjust_sigmoid, image, gain=7),
    "local_contrast_r8": lambda image, _: _processed(
        unsharp_mask, image, radius=8, amount=0.7
    ),
    "clahe_sharpened": lambda image, _: _processed(
        unsharp_mask,
        _processed(equalize_adapthist, image, clip_limit=0.02),
        radius=1,
        amount=1,
    ),
    # Processing held back from the networks trained on a range of unsharp
    # masks (``CNNClassifier(sharpen=...)``: radii from 1/300 to 1/25 of the
    # side, so the masks above of radius 1, 2, 3 and 8 at 224 px lie in it):
    # a mask wider than the range, edges enhanced by a Laplacian kernel
    # instead of a Gaussian's, and a 3x3 median filter.
    "sharpened_r12": lambda image, _: _processed(
        unsharp_mask, image, radius=12, amount=0.5
    ),
    "laplacian": lambda image, _: _processed(
        lambda image: image + 0.5 * laplace(image, ksize=3), image
    ),
    "median_3": lambda image, _: _processed(median, image, footprint=np.ones((3, 3))),
}


TYPE_AUC = "bacterial_vs_viral_roc_auc"


def type_auc(labels, proba, names):
    """Bacterial-vs-viral ROC AUC on the X-rays with pneumonia."""
    ill = np.isin(labels.astype(str), ["bacterial", "viral"])
    bacterial, viral = names.index("bacterial"), names.index("viral")
    p = proba[ill, viral] / (proba[ill, bacterial] + proba[ill, viral])
    return float(roc_auc_score(labels[ill].astype(str) == "viral", p))


def drop_intervals(y_sick, p_plain, p_changed, n_resamples=1000, seed=0):
    """95 % paired bootstrap intervals of the accuracy and ROC AUC lost to a change.

    The same X-rays are resampled for both copies, so the interval is of
    the change's effect, not of the sample's; a verdict whose interval
    holds the rule's bound (0.02, 0.01) rests on too few X-rays to tell.
    """
    rng = np.random.default_rng(seed)
    right_plain = (p_plain >= 0.5) == y_sick
    right_changed = (p_changed >= 0.5) == y_sick
    drops = {"accuracy": [], "roc_auc": []}
    for _ in range(n_resamples):
        rows = rng.integers(0, len(y_sick), len(y_sick))
        if y_sick[rows].all() or not y_sick[rows].any():
            continue
        drops["accuracy"].append(right_plain[rows].mean() - right_changed[rows].mean())
        drops["roc_auc"].append(
            roc_auc_score(y_sick[rows], p_plain[rows])
            - roc_auc_score(y_sick[rows], p_changed[rows])
        )
    return {
        f"{key}_drop_interval": [
            round(float(q), 4) for q in np.quantile(values, [0.025, 0.975])
        ]
        for key, values in drops.items()
    }


def logit_shifts(y_sick, proba_plain, proba_changed, names):
    """Median change in log-odds of the positive class, per class.

    ``proba_plain`` and ``proba_changed`` are two-column probabilities;
    ``names`` the negative and positive class names. Log-odds as the
    package's ``decision_function`` gives them (``_decision.log_odds``).

    >>> y = np.array([False, True])
    >>> plain, changed = np.array([[0.8, 0.2], [0.2, 0.8]]), np.full((2, 2), 0.5)
    >>> logit_shifts(y, plain, changed, ("a", "b"))
    {'a': 1.386, 'b': -1.386}
    """
    shift = log_odds(proba_changed) - log_odds(proba_plain)
    return {
        names[0]: round(float(np.median(shift[~y_sick])), 3),
        names[1]: round(float(np.median(shift[y_sick])), 3),
    }


def adapted(model, assessed, y_sick, names, reference):
    """A copy's figures once its answers are moved to the class shares that
    ``PriorShiftAdapter`` estimates on its X-rays (outliers left out), as
    the adapter moves them: the estimated share of the positive class, the
    accuracy and each class's recall; whether the site warning fires on
    them, and the p-value of their scores against a mixture of
    ``reference``'s classes (``label_shift_check``), and whether more are
    flagged than the model's ``flagged_rate`` allows, with whether the
    adapter keeps the model's answers so (``kept``: any of the three fires,
    as with ``on_uncertain_site="keep"``). None where the adapter refuses the copy:
    fewer than its ``min_samples`` X-rays are left once outliers are out."""
    proba, outlier = np.asarray(assessed.proba), np.asarray(assessed.outlier)
    uncertainty = np.asarray(assessed.uncertainty, dtype=np.float64)
    if (~outlier).sum() < PriorShiftAdapter(model).min_samples:
        return None
    shares = source_priors(model)
    calibration = getattr(final_step(model), "source_calibration_", None)
    site = calibrated(proba[~outlier], calibration)
    priors = em_priors(site, shares, strength=PRIOR_STRENGTH)
    moved = shift_priors(proba, shares, priors, calibration)
    right = (sick(moved, names) >= 0.5) == y_sick
    warning = site_warning(uncertainty[~outlier], review_cut(model))
    p_value = label_shift_check(site, reference, random_state=0).p_value
    flagged = flagged_beyond(outlier, flagged_rate(model))
    return {
        "share": float(sick(priors[None], names)[0]),
        "accuracy": float(right.mean()),
        "recalls": [float(right[~y_sick].mean()), float(right[y_sick].mean())],
        "site_warning": warning,
        "label_shift_p_value": p_value,
        "flagged_beyond_rate": flagged,
        "kept": bool(warning or p_value < 0.01 or flagged),
    }


def plain_reference(model, plain_proba, y_sick):
    """The model's score reference, or one counted on the plain copy."""
    reference = source_reference(model)
    if reference is not None:
        return reference
    calibration = getattr(final_step(model), "source_calibration_", None)
    return score_reference(calibrated(plain_proba, calibration), y_sick)


def adapted_text(row, names):
    """What :func:`adapted` found for a copy, as the printed line ends."""
    if "adapted" not in row:
        return ""
    if row["adapted"] is None:
        return "; adapt refuses it (too few X-rays not flagged)"
    figures = row["adapted"]
    recalls = ", ".join(f"{n} {r:.3f}" for n, r in zip(names, figures["recalls"]))
    return (
        f"; adapted: share {figures['share']:.2f}, accuracy "
        f"{figures['accuracy']:.3f} ({recalls}), site warning "
        f"{figures['site_warning']}, shares alone p = "
        f"{figures.get('label_shift_p_value', float('nan')):.3f}, flagged beyond "
        f"its rate {figures.get('flagged_beyond_rate')}"
        + ("; adapt keeps the model's answers" if figures.get("kept") else "")
    )


def verdict(plain, changed):
    holds = (
        changed["accuracy"] >= plain["accuracy"] - 0.02
        and changed["roc_auc"] >= plain["roc_auc"] - 0.01
    )
    if holds and changed["flagged"] <= 0.03:
        return "holds"
    if changed["flagged"] >= 0.9:
        return "flagged"
    return "false alarm" if holds else "SILENTLY WRONG"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--classes", nargs="+", default=["normal-pneumonia"])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--model", type=Path, help="a saved binary model to score")
    parser.add_argument(
        "--test-time-augmentation",
        action="store_true",
        help="score the shipped networks with their test-time views",
    )
    args = parser.parse_args()
    report = {}
    for classes in args.classes:
        if args.model is not None and classes != "normal-pneumonia":
            model = load_model(args.model)[1:]  # the site copies are decoded images
            paths, labels, _ = unseen_xrays(classes, args.train_dir, model)
        elif args.model is not None:
            model = load_model(args.model)
            all_paths, y, groups = load_image_folder(args.train_dir, return_groups=True)
            _, held_out = fit_holdout(model[-1], y, groups)
            paths, labels = all_paths[held_out], y[held_out]
            model = model[1:]
        else:
            model = unseen_model(
                classes,
                input="images",
                test_time_augmentation=args.test_time_augmentation or None,
            )
            paths, labels, _ = unseen_xrays(classes, args.train_dir, model)
        names = [str(c) for c in model.classes_]
        y_sick = positive(labels, names)
        # For a network of the types alone: bacterial and viral.
        negative_name, positive_name = (
            ("normal", "pneumonia")
            if "normal" in names or names == ["0", "1"]
            else tuple(names)
        )
        copies = site_copies(paths, labels)
        for name, change in EXTRA_CHANGES.items():
            copies[name] = [
                change(image, label) for image, label in zip(copies["plain"], labels)
            ]
        figures, two_class, reference = {}, {}, None
        for name, images in copies.items():  # "plain" first
            assessed = model.assess(images)
            if reference is None and len(names) == 2:
                reference = plain_reference(model, assessed.proba, y_sick)
            p = sick(np.asarray(assessed.proba), names)
            two_class[name] = np.column_stack([1 - p, p])
            right = (p >= 0.5) == y_sick
            figures[name] = {
                "accuracy": float(right.mean()),
                f"{negative_name}_recall": float(right[~y_sick].mean()),
                f"{positive_name}_recall": float(right[y_sick].mean()),
                "roc_auc": float(roc_auc_score(y_sick, p)),
                "flagged": float(np.mean(assessed.outlier)),
            }
            if len(names) == 2:
                figures[name]["adapted"] = adapted(
                    model, assessed, y_sick, names, reference
                )
            if "viral" in names and "normal" in names:  # the types' own question
                figures[name][TYPE_AUC] = type_auc(
                    labels, np.asarray(assessed.proba), names
                )
        for name, row in figures.items():
            row["verdict"] = verdict(figures["plain"], row)
            row |= drop_intervals(
                y_sick, two_class["plain"][:, 1], two_class[name][:, 1]
            )
            row["median_logit_shift"] = logit_shifts(
                y_sick,
                two_class["plain"],
                two_class[name],
                (negative_name, positive_name),
            )
            # The outlier model's own rule: each recall within 0.02, ROC AUC
            # within 0.01.
            row["holds_at_any_mix"] = answers_hold(
                two_class["plain"], two_class[name], y_sick
            )
            print(
                f"{classes} {name:<16} accuracy {row['accuracy']:.3f} ("
                f"{negative_name} {row[negative_name + '_recall']:.3f}, "
                f"{positive_name} {row[positive_name + '_recall']:.3f})"
                f" ROC AUC {row['roc_auc']:.3f} flagged {row['flagged']:.1%}: "
                f"{row['verdict']}"
                + " (lost: accuracy {:.3f} to {:.3f}, ROC AUC {:.3f} to {:.3f})".format(
                    *row["accuracy_drop_interval"], *row["roc_auc_drop_interval"]
                )
                + ("" if row["holds_at_any_mix"] else " (moves at another mix)")
                + "; median log-odds shift "
                + ", ".join(
                    f"{name} {shift:+.2f}"
                    for name, shift in row["median_logit_shift"].items()
                )
                + (
                    f"; bacterial vs viral ROC AUC {row[TYPE_AUC]:.3f}"
                    if TYPE_AUC in row
                    else ""
                )
                + adapted_text(row, (negative_name, positive_name))
            )
        report[classes] = {"xrays": len(paths), "copies": figures}
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
