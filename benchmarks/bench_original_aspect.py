"""How each training X-ray was framed, and whether the later drift is framing.

The 224-px training folder stretched every X-ray to a square, so its files
no longer say how wide each X-ray was. PneumoniaMNIST holds the same
X-rays center-cropped to a square of their shorter side and shrunk to
28x28, so the two forms together do: an X-ray ``a`` times as wide as high
kept its central ``1 / a`` of the width in PneumoniaMNIST, and that part
of the stretched file, shrunk to 28x28, matches its PneumoniaMNIST image. For
each file the aspect ratio (width over height, 0.8 to 2.39) whose central
part best matches a PneumoniaMNIST image (Pearson correlation of the
pixels; every 0.04 against all 5,232 images, then every 0.01 against the
best one) is its original framing.

The method is checked first on the 16 bundled full-size samples, whose
aspect ratios are known: each is given both forms (stretched to 224x224
and saved as JPEG at quality 75; center-cropped and shrunk to 28x28 with
another filter), and its aspect ratio found among the PneumoniaMNIST
images and these 16 (``sample_check``: the largest error).

Reported: how well the files match (median correlation, how many below
0.95, and whether the matched images' labels agree); the aspect ratio by
class, and by series of files and period (the later patients of
``bench_later_patients.py``); how well the aspect ratio alone tells
pneumonia (ROC AUC), the shortcut the stretch to a square offers, and viral
from bacterial pneumonia, the type network's task. Then,
for each ``--seeds``, a network fitted as ``bench_later_patients.py`` fits
it (its split and settings, ``--image-size``, ``--epochs``), and with
``--shipped`` the shipped binary model on its fit's hold-out: the normal
X-rays it calls pneumonia against those it calls normal (their aspect
ratios' medians, Mann-Whitney p), each class's recall by aspect band, and
Spearman's rho of aspect ratio and P(pneumonia) within each class. If the
later normal X-rays called pneumonia were framed as pneumonia X-rays are,
the later drift would be the framing shortcut.

    python benchmarks/bench_original_aspect.py \\
        --train-dir ../shared/data/chest_xray_224/train \\
        --mnist ../shared/data/pneumoniamnist_28_trainval.npz \\
        --seeds 0 2 --shipped --out original_aspect.json
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _validation import fit_holdout
from bench_later_patients import (
    configured_pipe,
    later_patients,
    later_split,
    series_and_number,
)
from PIL import Image
from scipy.stats import mannwhitneyu, spearmanr
from sklearn.metrics import roc_auc_score

from sklearn_pneumo import load_pretrained
from sklearn_pneumo.datasets import load_chest_xray_sample, load_image_folder

ASPECTS = np.round(np.arange(0.8, 2.4, 0.01), 2)
#: Aspect bands (width over height) for the recalls: normal X-rays of the
#: folder are mostly below 1.3, pneumonia ones mostly above 1.4.
BANDS = ((0.0, 1.3), (1.3, 1.4), (1.4, 9.0))


def central_square(image, aspect):
    """The part of a stretched X-ray that a center crop of the original kept,
    shrunk to 28x28, as a flat float vector."""
    height, width = image.shape
    if aspect >= 1:
        kept = round(width / aspect)
        start = (width - kept) // 2
        part = image[:, start : start + kept]
    else:
        kept = round(height * aspect)
        start = (height - kept) // 2
        part = image[start : start + kept]
    small = Image.fromarray(part).resize((28, 28), Image.BICUBIC)
    return np.asarray(small, dtype=np.float32).ravel()


def standardized(rows):
    """Rows centred and scaled to unit length: dot products are correlations."""
    rows = rows - rows.mean(axis=-1, keepdims=True)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def original_aspects(paths, mnist):
    """Each file's aspect ratio, match correlation and matched MNIST row."""
    targets = standardized(mnist.reshape(len(mnist), -1).astype(np.float32))
    aspect, match, row = np.empty(len(paths)), np.empty(len(paths)), []
    for i, path in enumerate(paths):
        image = np.asarray(Image.open(path).convert("L"))
        views = standardized(np.stack([central_square(image, a) for a in ASPECTS]))
        # Every fourth aspect ratio against every image, then all against the best.
        best = int((views[::4] @ targets.T).max(axis=0).argmax())
        correlations = views @ targets[best]
        aspect[i], match[i] = ASPECTS[correlations.argmax()], correlations.max()
        row.append(best)
    return aspect, match, np.array(row)


def sample_check(mnist):
    """The largest error of :func:`original_aspects` on the 16 samples.

    Each full-size sample is stretched to 224x224 (bilinear, JPEG at
    quality 75) and center-cropped to a square of its shorter side and
    shrunk to 28x28 (Lanczos), as the two public forms were made; its
    aspect ratio is then found among ``mnist`` and the 16 crops.
    """
    paths, _ = load_chest_xray_sample()
    true, crops, files = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for i, path in enumerate(paths):
            image = Image.open(path).convert("L")
            width, height = image.size
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            square = image.crop((left, top, left + side, top + side))
            crops.append(np.asarray(square.resize((28, 28), Image.LANCZOS)))
            files.append(Path(folder) / f"{i}.jpeg")
            stretched = image.resize((224, 224), Image.BILINEAR)
            stretched.save(files[-1], quality=75)
            true.append(width / height)
        found, match, row = original_aspects(files, np.concatenate([mnist, crops]))
    return {
        "largest_error": round(float(np.abs(found - np.array(true)).max()), 3),
        "own_crop_found": bool((row == len(mnist) + np.arange(len(paths))).all()),
        "median_correlation": round(float(np.median(match)), 4),
    }


def quantiles(values):
    return {
        "xrays": int(len(values)),
        **{
            f"q{round(q * 100)}": round(float(np.quantile(values, q)), 3)
            for q in (0.1, 0.5, 0.9)
        },
    }


def errors_by_aspect(y, p, aspect):
    """Whether the normal X-rays called pneumonia were framed differently."""
    normal, called = y == 0, p >= 0.5
    wrong, right = aspect[normal & called], aspect[normal & ~called]
    result = {
        "normal_xrays": int(normal.sum()),
        "normal_called_pneumonia": int(wrong.size),
        "their_aspects": sorted(float(a) for a in wrong),
        "median_aspect_called_pneumonia": (
            float(np.median(wrong)) if wrong.size else None
        ),
        "median_aspect_called_normal": float(np.median(right)),
        "mann_whitney_p": (
            float(mannwhitneyu(wrong, right).pvalue) if wrong.size else None
        ),
        "spearman_normal": float(spearmanr(aspect[normal], p[normal])[0]),
        "spearman_pneumonia": float(spearmanr(aspect[~normal], p[~normal])[0]),
        "roc_auc": float(roc_auc_score(y, p)),
    }
    for low, high in BANDS:
        band = (aspect >= low) & (aspect < high)
        result[f"aspect {low}-{high}"] = {
            "normal": [int((band & normal).sum()), _share(~called[band & normal])],
            "pneumonia": [int((band & ~normal).sum()), _share(called[band & ~normal])],
        }
    return result


def _share(flags):
    return round(float(flags.mean()), 3) if flags.size else None


def print_errors(name, result):
    print(
        f"{name}: {result['normal_called_pneumonia']} of {result['normal_xrays']} "
        f"normal X-rays called pneumonia, median aspect "
        f"{result['median_aspect_called_pneumonia']} against "
        f"{result['median_aspect_called_normal']:.2f} for those called normal "
        f"(Mann-Whitney p {result['mann_whitney_p']}); rho(aspect, P) normal "
        f"{result['spearman_normal']:.3f}, pneumonia "
        f"{result['spearman_pneumonia']:.3f}; ROC AUC {result['roc_auc']:.4f}",
        flush=True,
    )
    for low, high in BANDS:
        band = result[f"aspect {low}-{high}"]
        print(
            f"    aspect {low}-{high}: normal recall {band['normal'][1]} of "
            f"{band['normal'][0]}, pneumonia recall {band['pneumonia'][1]} of "
            f"{band['pneumonia'][0]}",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--mnist", type=Path, required=True)
    parser.add_argument("--later", type=float, default=0.2)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 2])
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--shipped", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths, y, groups = load_image_folder(args.train_dir, return_groups=True)
    with np.load(args.mnist) as data:
        mnist = np.concatenate([data["train_images"], data["val_images"]])
        mnist_y = np.concatenate([data["train_labels"], data["val_labels"]]).ravel()
    report = {"sample_check": sample_check(mnist)}
    print(f"on the 16 samples: {report['sample_check']}", flush=True)
    start = time.perf_counter()
    aspect, match, row = original_aspects(paths, mnist)
    report |= {
        "match": {
            "seconds": round(time.perf_counter() - start, 1),
            "median_correlation": round(float(np.median(match)), 4),
            "below_0.95": int((match < 0.95).sum()),
            "labels_agree": float((mnist_y[row] == y).mean()),
            "mnist_rows_matched_twice": int(len(row) - len(np.unique(row))),
        },
        "aspect_roc_auc": round(float(roc_auc_score(y, aspect)), 4),
        "by_class": {
            name: quantiles(aspect[y == label])
            for label, name in enumerate(("normal", "pneumonia"))
        },
    }
    # The type network's task: could the framing tell viral from bacterial?
    viral = np.array(["virus" in Path(p).name for p in paths])
    report["by_type"] = {
        "bacterial": quantiles(aspect[(y == 1) & ~viral]),
        "viral": quantiles(aspect[viral]),
    }
    report["aspect_roc_auc_viral_vs_bacterial"] = round(
        float(roc_auc_score(viral[y == 1], aspect[y == 1])), 4
    )
    print(json.dumps(report, indent=1), flush=True)
    series = np.array([series_and_number(p)[0] for p in paths])
    later = later_patients(paths, args.later)
    report["by_series_and_period"] = {}
    for name in np.unique(series):
        for period, rows in (("earlier", ~later), ("later", later)):
            part = quantiles(aspect[(series == name) & rows])
            report["by_series_and_period"][f"{name}, {period}"] = part
            print(f"{name}, {period}: {part}", flush=True)
    for seed in args.seeds:
        train, same, later = later_split(paths, y, groups, args.later, seed)
        pipe = configured_pipe(args.image_size, args.epochs, seed)
        pipe.fit(paths[train], y[train], cnn__groups=groups[train])
        for name, rows in (("same_period", same), ("later", np.flatnonzero(later))):
            p = pipe.predict_proba(paths[rows])[:, 1]
            result = errors_by_aspect(y[rows], p, aspect[rows])
            report[f"seed {seed}, {name}"] = result
            print_errors(f"seed {seed}, {name}", result)
    if args.shipped:
        model = load_pretrained()
        _, held_out = fit_holdout(model[-1], y, groups)
        p = model.predict_proba(paths[held_out])[:, 1]
        result = errors_by_aspect(y[held_out], p, aspect[held_out])
        report["shipped, its fit's hold-out"] = result
        print_errors("shipped, its fit's hold-out", result)
    if args.out:
        report["files"] = {
            Path(path).name: [float(a), round(float(m), 4)]
            for path, a, m in zip(paths, aspect, match)
        }
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
