"""GridSearchCV over epochs x filters (2 x 2, cv=3), with and without memory=.

Counts the images ImageLoader decodes: with the pipeline cache each training
fold is decoded once, not once per candidate (test folds are decoded at each
scoring either way). Real X-ray JPEGs, repeated to --n files.

    python benchmarks/bench_gridsearch.py --n 96 --out gridsearch.json
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _xrays import SAMPLE_XRAYS, repeat_files
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_pneumo import ImageLoader, make_pneumo_pipeline
from sklearn_pneumo.datasets import load_image_folder

GRID = {"cnn__epochs": [1, 2], "cnn__model__filters": [8, 16]}


def count_decodes():
    """Make ImageLoader.transform count the images it decodes."""
    counter = {"images": 0}
    transform = ImageLoader.transform

    def counting(self, X):
        counter["images"] += len(X)
        return transform(self, X)

    ImageLoader.transform = counting
    return counter


def search(paths, y, image_size, memory, counter):
    counter["images"] = 0
    pipe = make_pneumo_pipeline(image_size, memory=memory, random_state=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    start = time.perf_counter()
    GridSearchCV(pipe, GRID, cv=cv, scoring="roc_auc").fit(paths, y)
    return {"seconds": time.perf_counter() - start, "decoded": counter["images"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SAMPLE_XRAYS)
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    sources, labels = load_image_folder(args.source)
    counter = count_decodes()
    size = (args.image_size, args.image_size)
    with tempfile.TemporaryDirectory() as folder:
        paths = repeat_files(sources, args.n, folder)
        y = np.resize(labels, args.n)
        results = {"without cache": search(paths, y, size, None, counter)}
        with tempfile.TemporaryDirectory() as cache:
            results["with memory="] = search(paths, y, size, cache, counter)
    print(f"{'':<16}{'seconds':>9}{'images decoded':>16}")
    for name, r in results.items():
        print(f"{name:<16}{r['seconds']:>9.1f}{r['decoded']:>16}")
    ratio = results["without cache"]["seconds"] / results["with memory="]["seconds"]
    print(
        f"speed-up from caching: {ratio:.2f}x; {args.n} images, "
        f"{args.n * 2 // 3} per training fold, 4 candidates, 3 folds"
    )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
