"""Peak memory of scoring many full-size X-ray paths: predict_proba vs predict_files.

A pipeline at 150x150 (the paper's network, briefly fitted on the sample
X-rays and saved with ``save_model``) scores N paths (the sample JPEGs
repeated), each measurement in a fresh process. Both work in chunks (the
pipeline's ``predict_proba`` decodes the next 256 images while the network
scores the current ones; ``predict_files`` the next batch), so their peaks
are bounded by the chunk size, not by N.

    python benchmarks/bench_memory.py --n 1000 4000 10000 --out memory.json
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from _harness import in_fresh_process, peak_rss_mb
from _xrays import SAMPLE_XRAYS, repeat_files


def _score(method, model_file, files, batch_size):
    from sklearn_pneumo import load_model, predict_files

    model = load_model(model_file)
    model.predict_proba(files[:8])  # warm-up, so tracing is not counted
    before = peak_rss_mb()
    start = time.perf_counter()
    if method == "predict_proba":
        model.predict_proba(files)
    else:
        with tempfile.TemporaryDirectory() as folder:
            predict_files(model, files, Path(folder) / "out.csv", batch_size=batch_size)
    return {
        "seconds": time.perf_counter() - start,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def measure(method, model_file, files, batch_size):
    return in_fresh_process(_score, method, model_file, files, batch_size)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SAMPLE_XRAYS)
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 4000, 10000])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from sklearn_pneumo import make_pneumo_pipeline, save_model
    from sklearn_pneumo.datasets import load_image_folder

    paths, y = load_image_folder(args.source)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        model_file = Path(folder) / "model.pneumo"
        pipe = make_pneumo_pipeline(epochs=1, random_state=0).fit(paths, y)
        save_model(pipe, model_file)
        files = repeat_files(paths, max(args.n), folder)
        print(f"{'method':<16}{'n':>7}{'peak RSS MB':>13}{'growth MB':>11}{'s':>7}")
        for method in ("predict_proba", "predict_files"):
            for n in args.n:
                r = measure(method, model_file, files[:n], args.batch_size)
                r.update(
                    method=method, n=n, growth_mb=r["peak_rss_mb"] - r["rss_before_mb"]
                )
                results.append(r)
                print(
                    f"{method:<16}{n:>7}{r['peak_rss_mb']:>13.0f}"
                    f"{r['growth_mb']:>11.0f}{r['seconds']:>7.0f}"
                )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
