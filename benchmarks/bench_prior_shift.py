"""Adapting to a site's share of pneumonia: accuracy and calibration before and after.

Each shipped model is scored once on X-rays of the training folder it was
not fitted on (the binary model: the hold-out of its fit; the type network
of the three-class model, on its own: the validation part of
``bench_multiclass.py``'s split, its pneumonia X-rays alone when the
network tells the types only, whose sites then vary the share of viral
pneumonia), with
``assess`` (probabilities and outlier flags). Those X-rays are split in two
by patient: one half measures the source shares and calibration (as
``measure_source_priors`` does with labels), the other plays sites. For every share
of pneumonia from 0.2 to 0.8, ``--repeats`` sites of ``--site-size``
X-rays are drawn from it (without replacement within a site), each split
in two halves: ``PriorShiftAdapter``'s EM estimates the shares on one half
(outliers left out), and the other half is scored before and after. Then
the halves swap roles. Reported per share: the medians over sites of
accuracy, balanced accuracy and expected calibration error (of pneumonia
or not; 10 bins) before and after, and of the estimated share; and the
mean change of accuracy (a median over halves of 40 X-rays moves in steps
of 0.025). Beside them, the same figures after with the model's own
probabilities reweighed (``PriorShiftAdapter(probabilities="model")``)
instead of those calibrated on the source half. ``--prior-strength S ...``
compares ``PriorShiftAdapter``'s
``prior_strength`` values on the same sites (default: the adapter's own,
``PRIOR_STRENGTH``; 0 is plain EM). And how many halves the model is less
sure of than of its validation X-rays (the site warning, against the
model's review cut: ``site_uncertain_``), where the adapter keeps the
model's answers (``on_uncertain_site="keep"``), and how many halves' scores
are no mixture of the source half's per-class scores (``site_unlike_source_``:
``label_shift_check`` against the source half's ``score_reference``) or
hold more outliers than the model's ``flagged_rate`` allows
(``site_flagged_``; counted with the former), where it keeps them too,
with the mean change of accuracy so (the type network on its own has no
review cut, so only the last two checks apply to it).

The sites above are all drawn from one patient half, so their false
alarms are not independent: one split of the patients decides most of
them. How often the mixture check fires on sites that differ by their
shares alone is therefore also measured over ``--splits`` random splits
of the patients in two (``false_alarms``): each split's first half gives
the reference (counted by patient, as the shipped models' are, and, to
compare, by X-ray), a site of ``--false-alarm-size`` X-rays is drawn from
the other (in the shares they fall in: a mixture too, and larger than a
site at a share of 0.8 can be), and the share of p-values below 0.01 and
0.05 is reported (200 bootstrap draws each).

    python benchmarks/bench_prior_shift.py \\
        --train-dir ../shared/data/chest_xray_224/train --out prior_shift.json \\
        --prior-strength 0 10 20 40 80
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _validation import fit_holdout, patient_split
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedGroupKFold

from sklearn_pneumo import expected_calibration_error, load_pretrained
from sklearn_pneumo._label_shift_check import label_shift_check, score_reference
from sklearn_pneumo._prior_shift import (
    PRIOR_STRENGTH,
    calibrated,
    em_priors,
    flagged_beyond,
    flagged_rate,
    shift_priors,
    source_state,
)
from sklearn_pneumo._site_warning import more_uncertain, review_cut
from sklearn_pneumo.datasets import load_image_folder, pneumonia_type

SHARES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)

#: Where each figure of a site's result sits, and its name in the report.
WHEN = ((0, "before"), (1, "after"), (3, "model_shifted"))


def unseen_xrays(classes, train_dir, model=None):
    """Paths, labels and patients of training-folder X-rays the model never fit.

    For three classes, the validation part of ``bench_multiclass.py``'s
    split; its pneumonia X-rays alone when ``model`` (``unseen_model``'s)
    tells the types of pneumonia only.
    """
    if classes == "normal-pneumonia":
        paths, y, groups = load_image_folder(train_dir, return_groups=True)
        _, held_out = fit_holdout(load_pretrained()[-1], y, groups)
        return paths[held_out], y[held_out], groups[held_out]
    paths, labels, groups = load_image_folder(
        train_dir, label_from=pneumonia_type, labels="name", return_groups=True
    )
    splits, _ = patient_split(train_dir, 0, pneumonia_type)
    val = np.isin(paths, splits["val"][0])
    if model is not None and "normal" not in model.classes_:
        val &= labels != "normal"
    return paths[val], labels[val], groups[val]


def unseen_model(classes, **options):
    """The shipped network that never fit ``unseen_xrays(classes)``.

    For three classes, the type network alone: the composed answer's
    binary stage was trained on every file of the folder.
    """
    model = load_pretrained(classes, **options)
    return model if classes == "normal-pneumonia" else model.pneumonia_type_


def positive(labels, classes):
    """Which ``labels`` are of the positive class of ``classes`` (their names).

    Pneumonia (not "normal", or 1); for a network of the types alone, the
    last type (viral).
    """
    labels = np.asarray(labels).astype(str)
    if "normal" in classes:
        return labels != "normal"
    return labels == classes[-1]


def sick(proba, classes):
    """P(positive): of the last class, or one minus that of "normal"."""
    normal = list(classes).index("normal") if "normal" in classes else 0
    return 1 - proba[:, normal]


def scored(y_sick, proba, classes):
    p = sick(proba, classes)
    return {
        "accuracy": float(((p >= 0.5) == y_sick).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(y_sick, p >= 0.5)),
        "ece": float(expected_calibration_error(y_sick, p, n_bins=10)),
    }


def site_warning(uncertainty, cut):
    """Whether the site warning fires on a half's ``uncertainty`` (no cut: never)."""
    return cut[0] is not None and bool(more_uncertain(uncertainty, *cut).more)


def site_figures(
    proba,
    outlier,
    y_sick,
    source,
    classes,
    share,
    rng,
    size,
    strengths,
    uncertainty,
    cut,
    reference,
    rate,
):
    """Figures of one drawn site, each half adapting for the other.

    ``source`` is ``(source_priors, source_calibration)``, ``cut`` the
    model's ``review_cut``, ``reference`` the source half's
    ``score_reference``, ``rate`` the model's ``flagged_rate``; one result
    per half and prior strength.
    """
    ill, well = np.flatnonzero(y_sick), np.flatnonzero(~y_sick)
    n_ill = round(share * size)
    site = np.concatenate(
        [rng.choice(ill, n_ill, replace=False), rng.choice(well, size - n_ill, False)]
    )
    rng.shuffle(site)
    halves = np.array_split(site, 2)
    results = []
    for adapt, score in (halves, halves[::-1]):
        shares, calibration = source
        before = scored(y_sick[score], proba[score], classes)
        site = calibrated(proba[adapt][~outlier[adapt]], calibration)
        unlike = label_shift_check(site, reference, random_state=0).p_value < 0.01
        unlike |= flagged_beyond(outlier[adapt], rate)  # kept too
        for strength in strengths:
            priors = em_priors(site, shares, strength=strength)
            adapted = shift_priors(proba[score], shares, priors, calibration)
            after = scored(y_sick[score], adapted, classes)
            # The model's own probabilities moved by the same shares.
            model_shifted = scored(
                y_sick[score], shift_priors(proba[score], shares, priors), classes
            )
            estimate = float(sick(priors[None], classes)[0])
            uncertain = site_warning(uncertainty[adapt][~outlier[adapt]], cut)
            results.append(
                (strength, before, after, estimate, model_shifted, uncertain, unlike)
            )
    return results


def false_alarms(proba, outlier, labels, y_sick, groups, splits, size):
    """How often the mixture check fires on sites of other patients.

    Per split of the patients in two: the first half's reference, counted
    by patient and by X-ray, against a site of ``size`` X-rays drawn from
    the other half (outliers left out). The share of p-values below 0.01
    and 0.05 of each.
    """
    p_values = {"by_patient": [], "by_x_ray": []}
    for split in range(splits):
        rng = np.random.default_rng(split)
        source, site = next(
            StratifiedGroupKFold(2, shuffle=True, random_state=split).split(
                proba, y_sick, groups
            )
        )
        calibration = source_state(proba[source], labels[source])[1]
        drawn = rng.choice(site, min(size, len(site)), replace=False)
        drawn = drawn[~outlier[drawn]]
        scores = calibrated(proba[drawn], calibration)
        for counted, patients in (("by_patient", groups[source]), ("by_x_ray", None)):
            reference = score_reference(
                calibrated(proba[source], calibration), labels[source], patients
            )
            check = label_shift_check(
                scores, reference, n_resamples=200, random_state=split
            )
            p_values[counted].append(check.p_value)
    return {
        counted: {
            f"below_{alpha}": float(np.mean(np.less(values, alpha)))
            for alpha in (0.01, 0.05)
        }
        for counted, values in p_values.items()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--site-size", type=int, default=200)
    parser.add_argument(
        "--prior-strength",
        type=float,
        nargs="+",
        default=[PRIOR_STRENGTH],
        help="PriorShiftAdapter's prior_strength values to compare",
    )
    parser.add_argument("--splits", type=int, default=300)
    parser.add_argument("--false-alarm-size", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = {"settings": vars(args) | {"train_dir": str(args.train_dir)}}
    report["settings"].pop("out")
    for classes in ("normal-pneumonia", "normal-bacterial-viral"):
        model = unseen_model(classes)
        paths, labels, groups = unseen_xrays(classes, args.train_dir, model)
        start = time.perf_counter()
        assessed = model.assess(paths)
        seconds = time.perf_counter() - start
        names = [str(c) for c in model.classes_]
        y_sick = positive(labels, names)
        proba, outlier = np.asarray(assessed.proba, float), assessed.outlier
        cut = review_cut(model)
        uncertainty = np.asarray(assessed.uncertainty, float)
        source_half, site_half = next(
            StratifiedGroupKFold(2, shuffle=True, random_state=0).split(
                paths, y_sick, groups
            )
        )
        labels_index = np.searchsorted(names, labels.astype(str))
        source = source_state(proba[source_half], labels_index[source_half])
        reference = score_reference(
            calibrated(proba[source_half], source[1]),
            labels_index[source_half],
            groups[source_half],
        )
        rng = np.random.default_rng(0)
        # As large as the rarer class allows at a share of 0.8 either way.
        rarer = min(y_sick[site_half].sum(), (~y_sick[site_half]).sum())
        size = min(args.site_size, int(rarer / max(SHARES)))
        rows = {str(strength): {} for strength in args.prior_strength}
        for share in SHARES:
            runs = [
                result
                for _ in range(args.repeats)
                for result in site_figures(
                    proba[site_half],
                    outlier[site_half],
                    y_sick[site_half],
                    source,
                    names,
                    share,
                    rng,
                    size,
                    args.prior_strength,
                    uncertainty[site_half],
                    cut,
                    reference,
                    flagged_rate(model),
                )
            ]
            for strength in args.prior_strength:
                kept = [r[1:] for r in runs if r[0] == strength]
                row = rows[str(strength)][str(share)] = {
                    "estimated_share": float(np.median([r[2] for r in kept])),
                    "accuracy_change_mean": float(
                        np.mean([r[1]["accuracy"] - r[0]["accuracy"] for r in kept])
                    ),
                    **{
                        f"{metric}_{when}": float(
                            np.median([r[i][metric] for r in kept])
                        )
                        for i, when in WHEN
                        for metric in ("accuracy", "balanced_accuracy", "ece")
                    },
                    "accuracy_change_mean_model_shifted": float(
                        np.mean([r[3]["accuracy"] - r[0]["accuracy"] for r in kept])
                    ),
                    # The adapter's default: the model's answers where either
                    # check fires.
                    "uncertain_halves": int(sum(r[4] for r in kept)),
                    "unlike_or_flagged_halves": int(sum(r[5] for r in kept)),
                    "accuracy_change_mean_default": float(
                        np.mean(
                            [
                                0.0
                                if r[4] or r[5]
                                else r[1]["accuracy"] - r[0]["accuracy"]
                                for r in kept
                            ]
                        )
                    ),
                }
                print(
                    f"{classes} strength {strength:g} share {share}: estimated "
                    f"{row['estimated_share']:.3f}; "
                    + ", ".join(
                        f"{metric} {row[metric + '_before']:.3f} -> "
                        f"{row[metric + '_after']:.3f}"
                        for metric in ("accuracy", "balanced_accuracy", "ece")
                    )
                    + f" (accuracy's mean change {row['accuracy_change_mean']:+.4f})"
                    + "; model's own probabilities shifted: "
                    + ", ".join(
                        f"{metric} {row[metric + '_model_shifted']:.3f}"
                        for metric in ("accuracy", "balanced_accuracy", "ece")
                    )
                    + f" ({row['accuracy_change_mean_model_shifted']:+.4f})"
                    + f"; {row['uncertain_halves']} of {len(kept)} halves less sure"
                    + f", {row['unlike_or_flagged_halves']} unlike the source"
                    + " or flagged beyond its rate"
                    + f" ({row['accuracy_change_mean_default']:+.4f} keeping them)"
                )
        alarms = false_alarms(
            proba,
            outlier,
            labels_index,
            y_sick,
            groups,
            args.splits,
            args.false_alarm_size,
        )
        print(f"{classes} false alarms over {args.splits} patient splits: {alarms}")
        report[classes] = {
            "false_alarms": alarms,
            "xrays": len(paths),
            "positive": names[-1] if "normal" not in names else "pneumonia",
            "site_size": size,
            "flagged": float(outlier.mean()),
            "source_shares": dict(zip(names, map(float, source[0]))),
            "assess_seconds": round(seconds, 1),
            "by_prior_strength": rows,
        }
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
