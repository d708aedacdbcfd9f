"""End-to-end predict_proba from JPEG paths: throughput and one-image latency.

A pipeline from :func:`make_pneumo_pipeline` (paper's network at 150x150) is
fitted briefly on the sample X-rays, then scores N full-size JPEG paths (the
sample repeated) in one call, and single images one call at a time.

    python benchmarks/bench_predict.py --n 2048 --out predict.json
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _xrays import SAMPLE_XRAYS, repeat_files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SAMPLE_XRAYS)
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from sklearn_pneumo import make_pneumo_pipeline
    from sklearn_pneumo.datasets import load_image_folder

    paths, y = load_image_folder(args.source)
    pipe = make_pneumo_pipeline(n_jobs=args.n_jobs, epochs=1, random_state=0)
    pipe.fit(paths, y)
    pipe.set_params(cnn__predict__batch_size=256)
    with tempfile.TemporaryDirectory() as folder:
        files = repeat_files(paths, args.n, folder)
        pipe.predict_proba(files[:32])  # warm-up: graph tracing
        batch = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            pipe.predict_proba(files)
            batch.append(time.perf_counter() - start)
        single = []
        for path in files[:20]:
            start = time.perf_counter()
            pipe.predict_proba([path])
            single.append(time.perf_counter() - start)
    result = {
        "n": args.n,
        "n_jobs": args.n_jobs,
        "images_per_s": args.n / statistics.median(batch),
        "single_image_latency_ms": 1000 * statistics.median(single),
    }
    print(
        f"predict_proba on {args.n} JPEG paths at 150x150: "
        f"{result['images_per_s']:.0f} images/s (median of {args.repeat})"
    )
    print(f"one image: {result['single_image_latency_ms']:.0f} ms (median of 20)")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
