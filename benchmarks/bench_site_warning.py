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

    python benchmarks/bench_site_warning.py \\
        --train-dir ../shared/data/chest_xray_224/train --out warning.json
"""

import argparse
import json
from pathlib import Path

import numpy as np
from _validation import site_copies
from bench_prior_shift import unseen_xrays

from sklearn_pneumo import load_pretrained, pretrained_record
from sklearn_pneumo._site_warning import more_uncertain
from sklearn_pneumo.datasets import load_chest_xray_sample

#: Sizes of the sites drawn from each copy.
SITE_SIZES = (50, 100, 200)


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
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
