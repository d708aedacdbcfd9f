"""End-to-end scoring of JPEG paths against raw Keras predict, same run.

A pipeline from :func:`make_pneumo_pipeline` (the paper's network at
150x150) is fitted briefly on the sample X-rays. Then, timed in turn
--repeat times (medians reported):

- ``keras predict``: the baseline, Keras ``model.predict`` (float32, default
  batch size) on the N images already decoded and preprocessed;
- ``serial``: the loader and resize steps, then the classifier, one after
  the other (how the pipeline scored before decoding overlapped scoring);
- ``predict_proba``: the pipeline with default settings;
- ``predict_proba bfloat16``: with ``cnn__inference_dtype_policy="mixed_bfloat16"``;
- ``assess``: the probabilities with outlier scores and flags, from the
  same forward pass (what ``predict_files`` writes);
- ``predict_files``: default settings, writing the CSV (with the outlier
  columns);
- the shipped model (``load_pretrained``) with ``predict_files``, as it
  ships (five test-time views per network) and one of its networks
  scoring each image once; with ``--previous FILE``, a former shipped model
  too, in the same run;
- the same in ONNX Runtime (``export_onnx``, ``load_onnx``,
  ``load_pretrained(runtime="onnx")``): one network on the decoded arrays,
  ``predict_files`` of the fitted pipeline, of the shipped model and of one
  of its networks with one view, and the shipped model on decoded arrays;
- the shipped model without test-time views
  (``test_time_augmentation=False``), in Keras and in ONNX Runtime;
- ``decode and resize only``: the loader and resize steps alone, the part
  of every path that no network speeds up.

And the latency of one image per call (median of 20).

    python benchmarks/bench_predict.py --n 2048 --repeat 3 --out predict.json
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import timed
from _xrays import SAMPLE_XRAYS, repeat_files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SAMPLE_XRAYS)
    parser.add_argument("--n", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--previous", type=Path, help="a former shipped model file, timed beside"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from sklearn_pneumo import (
        export_onnx,
        load_model,
        load_onnx,
        load_pretrained,
        make_pneumo_pipeline,
        predict_files,
    )
    from sklearn_pneumo.datasets import load_image_folder

    paths, y = load_image_folder(args.source)
    pipe = make_pneumo_pipeline(epochs=1, random_state=0).fit(paths, y)
    bf16 = make_pneumo_pipeline(epochs=1, random_state=0).fit(paths, y)
    bf16.set_params(cnn__inference_dtype_policy="mixed_bfloat16")
    network = pipe["cnn"].model_
    shipped = load_pretrained()
    single_view = load_pretrained(test_time_augmentation=False)
    if single_view.steps[-1][0] == "ensemble":  # its first network, one view
        single_view.steps[-1] = ("cnn", single_view[-1].estimators_[0][-1])
        single_view[-1].set_params(test_time_augmentation=False)
    previous = load_model(args.previous) if args.previous else None
    shipped_onnx = load_pretrained(runtime="onnx")
    shipped_onnx_rows = load_pretrained(runtime="onnx")
    shipped_onnx_rows.steps = []  # takes the decoded, resized rows
    single_onnx = load_pretrained(runtime="onnx", test_time_augmentation=False)
    no_views = load_pretrained(test_time_augmentation=False)
    no_views_onnx = load_pretrained(runtime="onnx", test_time_augmentation=False)
    single_onnx.networks = single_onnx.networks[:1]
    with tempfile.TemporaryDirectory() as folder:
        files = repeat_files(paths, args.n, folder)
        rows = pipe[:2].transform(files)
        images = rows.reshape(-1, 150, 150, 1)
        export_onnx(pipe, Path(folder) / "pipe.onnx.zip")
        onnx_pipe = load_onnx(Path(folder) / "pipe.onnx.zip")
        onnx_network = onnx_pipe.networks[0]
        for model in (pipe, bf16, shipped, single_view, no_views, previous):
            if model is None:
                continue
            model.predict_proba(files[:300])  # warm-up: graph tracing
            model.assess(files[:300])
        network.predict(images[:64], verbose=0)
        csv = Path(folder) / "scores.csv"
        variants = {
            "keras predict (decoded arrays)": lambda: network.predict(
                images, verbose=0
            ),
            "serial: decode, then score": lambda: pipe[-1].predict_proba(
                pipe[:2].transform(files)
            ),
            "predict_proba": lambda: pipe.predict_proba(files),
            "predict_proba bfloat16": lambda: bf16.predict_proba(files),
            "assess (with outlier scores)": lambda: pipe.assess(files),
            "predict_files": lambda: predict_files(pipe, files, csv),
            "predict_files bfloat16": lambda: predict_files(bf16, files, csv),
            "shipped model, predict_files": lambda: predict_files(shipped, files, csv),
            "one shipped network, one view": lambda: predict_files(
                single_view, files, csv
            ),
            "onnx runtime (decoded arrays)": lambda: onnx_network.forward(
                images, features=False
            ),
            "onnx predict_files": lambda: predict_files(onnx_pipe, files, csv),
            "shipped model, onnx predict_files": lambda: predict_files(
                shipped_onnx, files, csv
            ),
            "shipped model, onnx (decoded arrays)": lambda: shipped_onnx_rows.assess(
                rows
            ),
            "one shipped network, one view, onnx": lambda: predict_files(
                single_onnx, files, csv
            ),
            "shipped model, no views": lambda: predict_files(no_views, files, csv),
            "shipped model, no views, onnx": lambda: predict_files(
                no_views_onnx, files, csv
            ),
            "decode and resize only": lambda: pipe[:2].transform(files),
        }
        if previous is not None:
            variants["previous shipped model, predict_files"] = lambda: predict_files(
                previous, files, csv
            )
        seconds = {name: [] for name in variants}
        for _ in range(args.repeat):
            for name, run in variants.items():
                seconds[name].append(timed(run, 1))
        single = {}
        for name, model in {"float32": pipe, "bfloat16": bf16}.items():
            latencies = []
            for path in files[:20]:
                start = time.perf_counter()
                model.predict_proba([path])
                latencies.append(time.perf_counter() - start)
            single[name] = 1000 * statistics.median(latencies)
        difference = np.abs(
            bf16.predict_proba(files[:16]) - pipe.predict_proba(files[:16])
        )
        onnx_difference = np.abs(
            onnx_pipe.predict_proba(files) - pipe.predict_proba(files)
        ).max()
    base = args.n / statistics.median(seconds["keras predict (decoded arrays)"])
    results = {"n": args.n, "variants": {}, "single_image_latency_ms": single}
    print(f"{args.n} full-size JPEG paths at 150x150 (medians of {args.repeat})")
    print(f"{'variant':<34}{'images/s':>10}{'x keras':>9}")
    outlier_cost = statistics.median(seconds["assess (with outlier scores)"])
    results["outlier_score_cost"] = (
        outlier_cost / statistics.median(seconds["predict_proba"]) - 1
    )
    for name, times in seconds.items():
        rate = args.n / statistics.median(times)
        results["variants"][name] = {
            "images_per_s": rate,
            "ratio_to_keras": rate / base,
        }
        print(f"{name:<34}{rate:>10.1f}{rate / base:>9.2f}")
    print(
        "outlier scores add "
        f"{100 * results['outlier_score_cost']:.1f} % to predict_proba's time"
    )
    print(
        f"one image per call: {single['float32']:.1f} ms float32, "
        f"{single['bfloat16']:.1f} ms bfloat16 (median of 20)"
    )
    print(
        "(this briefly trained network: bfloat16 - float32 up to "
        f"{difference.max():.4f})"
    )
    print(f"onnx - keras probabilities: up to {onnx_difference:.1e}")
    results["onnx_max_difference"] = float(onnx_difference)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
