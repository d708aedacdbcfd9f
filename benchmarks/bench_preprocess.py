"""Speed, peak memory and fidelity of ImageLoader -> GrayscaleResize on real X-rays.

Compares, in the same run, the package's preprocessing with the paper's recipe
(``cv2.imread`` -> ``skimage.transform.resize(img, (150, 150, 3),
mode="constant", anti_aliasing=True)`` -> ``rgb2gray``, one image at a time) on
full-size chest X-ray JPEGs repeated to N files. Each measurement runs in a
fresh process, so peak RSS is its own. The paper's recipe is timed on
``--paper-n`` files (it runs at a few images per second). For ours, the
wall time per image of decoding (the limit: what the pipeline would reach if
resizing were free) and of resizing are printed apart; ms are wall time
divided by images, so with several threads they are below one core's cost.

    pip install ".[bench]"
    python benchmarks/bench_preprocess.py --n 256 2048 --out preprocess.json
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import in_fresh_process, peak_rss_mb
from _xrays import SAMPLE_XRAYS, repeat_files

SIZE = (150, 150)


def _paper(paths):
    import cv2
    from skimage.color import rgb2gray
    from skimage.transform import resize

    rows = []
    for path in paths:
        image = cv2.imread(str(path))
        image = resize(image, (*SIZE, 3), mode="constant", anti_aliasing=True)
        rows.append(rgb2gray(image).ravel())
    return np.array(rows, dtype=np.float32)


def _package(paths, n_jobs, stages):
    from sklearn_pneumo import GrayscaleResize, ImageLoader

    start = time.perf_counter()
    images = ImageLoader(decode_size=SIZE, n_jobs=n_jobs).transform(paths)
    stages["decode_seconds"] = time.perf_counter() - start
    rows = GrayscaleResize(size=SIZE, n_jobs=n_jobs).transform(images)
    stages["resize_seconds"] = time.perf_counter() - start - stages["decode_seconds"]
    return rows


def _measure(method, paths, n_jobs):
    import cv2  # noqa: F401

    import sklearn_pneumo  # noqa: F401  (imports are not part of the measurement)

    before = peak_rss_mb()
    stages = {}
    start = time.perf_counter()
    X = _paper(paths) if method == "paper" else _package(paths, n_jobs, stages)
    seconds = time.perf_counter() - start
    return {
        **stages,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_growth_mb": peak_rss_mb() - before,
        "X": X[:16],
    }


def measure(method, paths, n_jobs=None):
    """Run one measurement in a fresh process."""
    result = in_fresh_process(_measure, method, paths, n_jobs)
    result["images_per_s"] = len(paths) / result["seconds"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SAMPLE_XRAYS)
    parser.add_argument("--n", type=int, nargs="+", default=[256, 2048])
    parser.add_argument("--paper-n", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--n-jobs",
        type=lambda value: value if value == "auto" else int(value),
        nargs="+",
        default=["auto", 1],
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    sources = sorted(args.source.rglob("*.jpeg"))
    with tempfile.TemporaryDirectory() as folder:
        files = repeat_files(sources, max(args.n + [args.paper_n]), folder)

        paper = [measure("paper", files[: args.paper_n]) for _ in range(args.repeat)]
        paper_rate = statistics.median(r["images_per_s"] for r in paper)
        reference = paper[0]["X"]
        results = {
            "paper": {
                "n": args.paper_n,
                "images_per_s": paper_rate,
                "peak_rss_mb": paper[0]["peak_rss_mb"],
            }
        }
        print(
            f"{'method':<24}{'n':>6}{'images/s':>10}{'x paper':>9}"
            f"{'peak RSS MB':>13}{'growth MB':>11}{'mean |diff|':>13}{'max |diff|':>12}"
            f"{'decode ms':>11}{'resize ms':>11}{'decode-only/s':>15}"
        )
        print(
            f"{'paper (cv2+skimage)':<24}{args.paper_n:>6}{paper_rate:>10.1f}"
            f"{1.0:>9.1f}{paper[0]['peak_rss_mb']:>13.0f}"
            f"{paper[0]['peak_rss_growth_mb']:>11.0f}"
        )
        for n_jobs in args.n_jobs:
            for n in args.n:
                runs = [
                    measure("package", files[:n], n_jobs) for _ in range(args.repeat)
                ]
                rate = statistics.median(r["images_per_s"] for r in runs)
                decode = statistics.median(r["decode_seconds"] for r in runs)
                resize = statistics.median(r["resize_seconds"] for r in runs)
                rows = min(len(reference), len(runs[0]["X"]))
                diff = np.abs(runs[0]["X"][:rows] - reference[:rows])
                name = f"sklearn_pneumo n_jobs={n_jobs}"
                results[f"{name} n={n}"] = {
                    "n": n,
                    "n_jobs": n_jobs,
                    "images_per_s": rate,
                    "speedup": rate / paper_rate,
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                    "peak_rss_growth_mb": max(r["peak_rss_growth_mb"] for r in runs),
                    "mean_abs_diff": float(diff.mean()),
                    "max_abs_diff": float(diff.max()),
                    "decode_ms_per_image": 1000 * decode / n,
                    "resize_ms_per_image": 1000 * resize / n,
                    "decode_only_images_per_s": n / decode,
                }
                r = results[f"{name} n={n}"]
                print(
                    f"{name:<24}{n:>6}{rate:>10.1f}{r['speedup']:>9.1f}"
                    f"{r['peak_rss_mb']:>13.0f}{r['peak_rss_growth_mb']:>11.0f}"
                    f"{r['mean_abs_diff']:>13.4f}{r['max_abs_diff']:>12.4f}"
                    f"{r['decode_ms_per_image']:>11.2f}{r['resize_ms_per_image']:>11.2f}"
                    f"{r['decode_only_images_per_s']:>15.0f}"
                )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
