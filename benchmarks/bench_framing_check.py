"""Could a flag see a cut framing? A detector of cut X-rays, measured.

The silent-failure benchmark's framings move the networks' answers while
their outlier models, which read features and noise, flag almost none of
them: a cut X-ray is an ordinary X-ray. This trains the simplest check
that looks for the cut itself, and asks whether it could flag the cuts
that break a network's answers without flagging those it reads.

Training-folder X-rays (224 px) split by patient into a detector part
(two thirds), a threshold part and an evaluation part. On the detector
part, each X-ray as it is and three times cut at random (at both sides,
at the top and bottom, at the top alone or at the bottom alone, by 0 to
0.3 of the width or height at each cut end; cuts between 0.05 and 0.12
left out), decoded by the package's loader and shrunk to 32x32 as
``GrayscaleResize`` stretches it; a
gradient-boosted classifier (scikit-learn's
``HistGradientBoostingClassifier``) of its pixels learns cut (0.12 or
more) from not (0.05 or less). Two thresholds: the one that flags
``--rate`` of the threshold part's X-rays as they are (the outlier models'
rate, 0.005), and the one that flags 3 % of them cut by 0.1 at each side,
a framing both shipped networks read (the most a flag may take of a copy
whose answers hold). Reported at each: the share of the evaluation part's
X-rays flagged as they are and cut as each of the benchmark's framings
cuts them.

    python benchmarks/bench_framing_check.py \\
        --train-dir ../shared/data/chest_xray_224/train --out framing_check.json
"""

import argparse
import json
from pathlib import Path

import numpy as np
from _validation import decoded_xrays
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold

from sklearn_pneumo._grayscale import resize_like_skimage
from sklearn_pneumo.datasets import load_image_folder

SIZE = 32
#: Cuts as (top, bottom, left, right) shares, named as the silent-failure
#: benchmark's copies cut (``framing`` cuts normal X-rays at the top and
#: bottom and pneumonia ones at the sides, so it is two rows here).
CUTS = {
    "plain": (0, 0, 0, 0),
    "sides 0.05": (0, 0, 0.05, 0.05),
    "sides 0.1 (cropped_sides)": (0, 0, 0.1, 0.1),
    "sides 0.15": (0, 0, 0.15, 0.15),
    "sides 0.25": (0, 0, 0.25, 0.25),
    "top and bottom 0.05": (0.05, 0.05, 0, 0),
    "top and bottom 0.1 (cropped_top_bottom)": (0.1, 0.1, 0, 0),
    "top and bottom 0.15": (0.15, 0.15, 0, 0),
    "top 0.15 (cropped_top_0.15)": (0.15, 0, 0, 0),
}


def cut_pixels(image, top, bottom, left, right):
    """``image`` less the given shares at each end, shrunk to SIZE x SIZE."""
    height, width = image.shape
    kept = image[
        round(height * top) : height - round(height * bottom),
        round(width * left) : width - round(width * right),
    ]
    return resize_like_skimage(np.ascontiguousarray(kept), (SIZE, SIZE)).ravel()


def random_cut(rng):
    """Cut shares at (top, bottom, left, right), and the share cut at an end."""
    share = rng.uniform(0.0, 0.3)
    ends = [(0, 0, 1, 1), (1, 1, 0, 0), (1, 0, 0, 0), (0, 1, 0, 0)][rng.integers(4)]
    return tuple(share * end for end in ends), share


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=0.005)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths, _, groups = load_image_folder(args.train_dir, return_groups=True)
    images = decoded_xrays(paths)
    folds = list(
        GroupKFold(6, shuffle=True, random_state=0).split(paths, groups=groups)
    )
    held_out = np.concatenate([folds[i][1] for i in range(2)])
    detector_part = np.setdiff1d(np.arange(len(paths)), held_out)
    threshold_part, evaluation_part = folds[0][1], folds[1][1]
    rng = np.random.default_rng(args.random_state)
    pixels, is_cut = [], []
    for i in detector_part:
        pixels.append(cut_pixels(images[i], *CUTS["plain"]))
        is_cut.append(0)
        for _ in range(3):
            cuts, share = random_cut(rng)
            if 0.05 < share < 0.12:
                continue
            pixels.append(cut_pixels(images[i], *cuts))
            is_cut.append(int(share >= 0.12))
    detector = HistGradientBoostingClassifier(
        max_iter=300, random_state=args.random_state
    ).fit(np.array(pixels), np.array(is_cut))

    def scores(rows, cuts):
        return detector.predict_proba(
            np.array([cut_pixels(images[i], *cuts) for i in rows])
        )[:, 1]

    held = "sides 0.1 (cropped_sides)"
    thresholds = {
        "plain": float(
            np.quantile(scores(threshold_part, CUTS["plain"]), 1 - args.rate)
        ),
        # Both networks read this framing: the most the rule lets a flag take.
        held: float(np.quantile(scores(threshold_part, CUTS[held]), 0.97)),
    }
    report = {
        "settings": {**vars(args), "train_dir": str(args.train_dir), "out": None},
        "detector_xrays": int(len(detector_part)),
        "evaluation_xrays": int(len(evaluation_part)),
        "thresholds": thresholds,
        "flagged": {},
    }
    print(
        f"{'':<42} {'at ' + str(args.rate) + ' of plain':>17} {'at 3 % of ' + held:>36}"
    )
    for name, cuts in CUTS.items():
        score = scores(evaluation_part, cuts)
        report["flagged"][name] = flagged = {
            at: float((score > threshold).mean())
            for at, threshold in thresholds.items()
        }
        print(f"{name:<42} {flagged['plain']:17.1%} {flagged[held]:36.1%}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
