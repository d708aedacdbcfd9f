"""Memory over many fits: does a process that fits network after network grow?

A grid search or a cross-validation fits a new network for every candidate
and fold in one process. This fits ``CNNClassifier`` --fits times on the
same --n random 150x150 images (1 epoch each, the fitted classifier deleted
and garbage-collected after each) and reads the resident memory after every
fit, in a fresh process per variant, both in the same run:

- ``released``: as the package does it, TensorFlow's per-trace custom
  gradients are forgotten after each fit (``_upstream.released_custom_gradients``);
- ``kept``: the same with that step turned off, as a plain Keras ``fit``
  behaves.

The growth per fit is the median of the differences after the first two
fits (which allocate TensorFlow's caches once).

    python benchmarks/bench_fit_memory.py --fits 15 --out fit_memory.json
"""

import argparse
import json
import statistics
from contextlib import nullcontext
from pathlib import Path

from _harness import current_rss_mb, in_fresh_process


def _fit_many(variant, network, n, fits):
    import gc

    import numpy as np

    import sklearn_pneumo._upstream as upstream
    from sklearn_pneumo import CNNClassifier

    if variant == "kept":
        upstream.released_custom_gradients = nullcontext
    rng = np.random.default_rng(0)
    X = rng.random((n, 150 * 150), dtype=np.float32)
    y = np.tile([0, 1], n // 2)
    params = {} if network == "paper" else {"model__filters": 4}
    rss = []
    for _ in range(fits):
        clf = CNNClassifier(epochs=1, random_state=0, **params).fit(X, y)
        del clf
        gc.collect()
        rss.append(current_rss_mb())
    return rss


def measure(variant, network, n, fits):
    rss = in_fresh_process(_fit_many, variant, network, n, fits)
    steps = [b - a for a, b in zip(rss[2:], rss[3:])]
    return {
        "variant": variant,
        "network": network,
        "rss_mb": [round(r, 1) for r in rss],
        "growth_per_fit_mb": round(statistics.median(steps), 2),
        "growth_total_mb": round(rss[-1] - rss[0], 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=15)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--networks", nargs="+", default=["paper", "tiny"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    results = []
    print(f"{'network':<8}{'variant':<10}{'first MB':>10}{'last MB':>10}{'MB/fit':>8}")
    for network in args.networks:
        for variant in ("kept", "released"):
            result = measure(variant, network, args.n, args.fits)
            results.append(result)
            rss = result["rss_mb"]
            print(
                f"{network:<8}{variant:<10}{rss[0]:>10.0f}{rss[-1]:>10.0f}"
                f"{result['growth_per_fit_mb']:>8.2f}"
            )
    if args.out:
        args.out.write_text(
            json.dumps({"fits": args.fits, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
