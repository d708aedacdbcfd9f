"""Scoring files on a Dask cluster: X-rays per second per worker.

A ``LocalCluster`` of worker processes (one thread each) scores ``--n``
training X-ray files with ``predict_files(..., client=)``, for 1 and for 2
workers, with the shipped model's float and 8-bit ONNX forms (five views
per X-ray, outlier flags), against the same ``predict_files`` without a
cluster, in one run (medians of ``--repeat``). Each worker's ONNX Runtime
uses every core the worker sees: two workers on one machine share them.

    python benchmarks/bench_dask.py \\
        --train-dir ../shared/data/chest_xray_224/train --n 1024 --repeat 3
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from distributed import Client, LocalCluster

from sklearn_pneumo import load_pretrained, predict_files
from sklearn_pneumo.datasets import load_image_folder


def rate(model, paths, repeat, client=None):
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(repeat):
            start = time.perf_counter()
            out = Path(folder) / "rows.csv"
            predict_files(model, paths, out, overwrite=True, client=client)
            times.append(time.perf_counter() - start)
    return round(len(paths) / statistics.median(times), 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths, _ = load_image_folder(args.train_dir)
    paths = list(np.random.default_rng(0).choice(paths, args.n, replace=False))
    report = {"cores": len(os.sched_getaffinity(0)), "xrays": args.n}
    for runtime in ("onnx", "onnx-int8"):
        model = load_pretrained(runtime=runtime)
        report[f"{runtime} local"] = rate(model, paths, args.repeat)
        print(runtime, "local", report[f"{runtime} local"], "X-rays/s")
        for workers in (1, 2):
            with (
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                ) as cluster,
                Client(cluster) as client,
            ):
                key = f"{runtime} dask {workers} worker(s)"
                report[key] = rate(model, paths, args.repeat, client)
                print(key, report[key], "X-rays/s")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
