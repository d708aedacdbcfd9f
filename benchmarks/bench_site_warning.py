"""The report's site warning: which site changes it sees, from how many X-rays.

``review_report(..., review_share=...)`` (``sklearn-pneumo report
--pretrained``) warns when more of a folder's answers lie above the
model's review cut of uncertainty than of the X-rays it was validated on
(``pretrained_record()["review"]["share_above"]``), by a one-sided
binomial test at 1 %. This scores the shipped binary model on the X-rays
of its fit's hold-out, as they are (``plain``) and changed by every entry
of ``_validation.SITE_CHANGES``, and on the 16 later samples (from their
files), and prints for each: accuracy, the share flagged as outliers, the
share of the X-rays read (not flagged) above the cut, and how often the
page would warn for a site of 50, 100 or 200 of them (``--draws`` draws
without replacement; all of them, once). A warning on a copy whose answers
hold is a false alarm; none on a copy whose answers move is a miss.

Then what ``PriorShiftAdapter`` does on each copy, by default and always
adapting: sites of 200 X-rays of the copy, half with pneumonia and at the
hold-out's own mix (``--draws`` / 2 of each), each split in two halves,
one adapting for the other (EM from the model's source shares and
calibration, at the default prior strength, outliers left out), then the
other way round. Printed: how many halves the site warning fires on, whose
answers the adapter keeps by default (``on_uncertain_site="keep"``), and
the mean change of accuracy against the model's, adapting always
(``"adapt"``) and by default.

    python benchmarks/bench_site_warning.py \\
        --train-dir ../shared/data/chest_xray_224/train --out warning.json
"""

import argparse
import inspect
import json
from pathlib import Path

import numpy as np
from _validation import site_copies
from bench_prior_shift import site_warning, unseen_xrays

from sklearn_pneumo import PriorShiftAdapter, load_pretrained, pretrained_record
from sklearn_pneumo._prior_shift import (
    PRIOR_STRENGTH,
    calibrated,
    em_priors,
    shift_priors,
)
from sklearn_pneumo._site_warning import more_uncertain
from sklearn_pneumo.datasets import load_chest_xray_sample

#: Sizes of the sites drawn from each copy.
SITE_SIZES = (50, 100, 200)

#: X-rays of each site the adapter is tried on.
SITE_SIZE = 200

#: Fewest X-rays read that the adapter estimates from; it refuses fewer.
MIN_SAMPLES = inspect.signature(PriorShiftAdapter).parameters["min_samples"].default


def warnings_of(uncertainty, review, draws, seed=0):
    """The test on all of ``uncertainty``, and how often sites of each size warn."""
    rng = np.random.default_rng(seed)
    cut, share = review["uncertainty"], review["share_above"]
    whole = more_uncertain(uncertainty, cut, share)
    rates = {
        size: float(
            np.mean(
                [
                    more_uncertain(
                        rng.choice(uncertainty, size, replace=False), cut, share
                    ).more
                    for _ in range(draws)
                ]
            )
        )
        for size in SITE_SIZES
        if size <= len(uncertainty)
    }
    return {
        "read": whole.n,
        "above": whole.above,
        "share_above": whole.above / whole.n if whole.n else float("nan"),
        "p_value": float(whole.p_value),
        "warns": bool(whole.more),
        "warns_per_site_size": rates,
    }


def adapting(assessed, y, source, review, draws, seed=0):
    """Mean change of accuracy of adapting, always and by default, per site share.

    ``source`` is ``(source_priors, source_calibration)``; ``y`` is True for
    pneumonia. Sites of :data:`SITE_SIZE` X-rays, half with pneumonia
    (``"0.5"``) or drawn as the X-rays come (``"as drawn"``). A half with
    fewer than :data:`MIN_SAMPLES` X-rays read is one the adapter refuses.
    """
    rng = np.random.default_rng(seed)
    proba = np.asarray(assessed.proba, dtype=float)
    outlier = np.asarray(assessed.outlier)
    uncertainty = np.asarray(assessed.uncertainty, dtype=float)
    ill, well = np.flatnonzero(y), np.flatnonzero(~y)
    results = {}
    for share in ("0.5", "as drawn"):
        warned, refused, always, default = 0, 0, [], []
        for _ in range(draws // 2):
            if share == "as drawn":
                site = rng.choice(len(y), SITE_SIZE, replace=False)
            else:
                half = SITE_SIZE // 2
                site = np.concatenate(
                    [rng.choice(ill, half, False), rng.choice(well, half, False)]
                )
                rng.shuffle(site)
            halves = np.array_split(site, 2)
            for fit, score in (halves, halves[::-1]):
                read = fit[~outlier[fit]]
                if len(read) < MIN_SAMPLES:
                    refused += 1
                    continue
                priors = em_priors(
                    calibrated(proba[read], source[1]),
                    source[0],
                    strength=PRIOR_STRENGTH,
                )
                shifted = shift_priors(proba[score], source[0], priors, source[1])
                before = np.mean((proba[score, 1] >= 0.5) == y[score])
                change = np.mean((shifted[:, 1] >= 0.5) == y[score]) - before
                unsure = site_warning(
                    uncertainty[read], (review["uncertainty"], review["share_above"])
                )
                warned += unsure
                always.append(change)
                default.append(0.0 if unsure else change)
        results[share] = {
            "halves": 2 * (draws // 2),
            "refused": refused,
            "warned": warned,
            "accuracy_change_adapting": float(np.mean(always)) if always else None,
            "accuracy_change_default": float(np.mean(default)) if always else None,
        }
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    review = pretrained_record()["review"]
    model = load_pretrained(runtime="onnx", input="images")
    paths, y, _ = unseen_xrays("normal-pneumonia", args.train_dir)
    parts = [(name, model, images, y) for name, images in site_copies(paths, y).items()]
    # The samples from their files, as the report reads them (full-size
    # JPEGs, decoded at a reduced size).
    parts.append(
        ("later samples", load_pretrained(runtime="onnx"), *load_chest_xray_sample())
    )
    report = {"review": review, "copies": {}}
    print(
        f"review cut {review['uncertainty']}, passed by "
        f"{review['share_above']:.1%} of the validation X-rays"
    )
    print(
        f"{'copy':<16} {'X-rays':>6} {'accuracy':>8} {'flagged':>8} "
        f"{'above cut':>9}  p        "
        + "  ".join(f"warns at {size}" for size in SITE_SIZES)
    )
    for name, scorer, inputs, labels in parts:
        assessed = scorer.assess(inputs)
        read = ~np.asarray(assessed.outlier)
        right = (assessed.proba[:, 1] >= 0.5) == (np.asarray(labels) == 1)
        row = {
            "xrays": len(inputs),
            "accuracy": float(right.mean()),
            "flagged": float(1 - read.mean()),
            **warnings_of(np.asarray(assessed.uncertainty)[read], review, args.draws),
        }
        report["copies"][name] = row
        print(
            f"{name:<16} {row['xrays']:>6} {row['accuracy']:>8.3f} "
            f"{row['flagged']:>8.1%} {row['share_above']:>9.1%}  "
            f"{row['p_value']:<8.2g} "
            + "  ".join(
                f"{row['warns_per_site_size'].get(size, float('nan')):>11.0%}"
                for size in SITE_SIZES
            )
            + ("  WARNS" if row["warns"] else ""),
            flush=True,
        )
        y = np.asarray(labels) == 1
        if min(y.sum(), (~y).sum()) >= SITE_SIZE // 2:
            source = (scorer.source_priors_, scorer.source_calibration_)
            row["adapting"] = adapting(assessed, y, source, review, args.draws)
            print(
                " " * 17
                + "; ".join(
                    f"sites {share}: every half refused (too few read)"
                    if r["refused"] == r["halves"]
                    else f"sites {share}: {r['warned']} of {r['halves']} halves "
                    f"warned, accuracy {r['accuracy_change_adapting']:+.4f} "
                    f"adapting, {r['accuracy_change_default']:+.4f} by default"
                    for share, r in row["adapting"].items()
                ),
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
