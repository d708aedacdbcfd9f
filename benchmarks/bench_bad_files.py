"""Scoring files of which some cannot be read: each file is decoded once.

A folder of an archive holds a corrupt or missing file now and then. Every
input still gets a row (``predict_files``), and each batch that holds one
is scored on its other files. This times, --repeat times (medians):

- preparing each batch of ``--batch-size`` files (decode, resize) with one
  unreadable file in it, as the batch runs did before (``retried``: the
  steps raise on the batch, then run again on its readable files, which are
  decoded again; ``apply_to_readable`` of ``transform_naming_failures``)
  and as they do now (``once``: ``transform_readable``, the readable files
  go on from the one decoding);
- ``predict_files`` of the shipped model, in Keras and in ONNX Runtime, on
  ``--n`` files with and without one unreadable file in each batch.

    python benchmarks/bench_bad_files.py --n 1024 --repeat 3 --out bad_files.json
"""

import argparse
import contextlib
import io
import json
import tempfile
from functools import partial
from pathlib import Path

from _harness import timed
from _xrays import SAMPLE_XRAYS, repeat_files

from sklearn_pneumo import load_pretrained, predict_files
from sklearn_pneumo._loader import apply_to_readable
from sklearn_pneumo._steps import (
    prediction_steps,
    transform_naming_failures,
    transform_readable,
)


def with_bad_files(paths, batch_size, folder):
    """``paths`` with the 8th file of each batch replaced by a corrupt one."""
    broken = Path(folder) / "broken.jpeg"
    broken.write_bytes(b"not a jpeg")
    bad = list(paths)
    for start in range(0, len(bad), batch_size):
        bad[min(start + 7, len(bad) - 1)] = str(broken)
    return bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SAMPLE_XRAYS)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sources = sorted(str(p) for p in args.source.rglob("*.jpeg"))
    report = {"settings": {k: str(v) for k, v in vars(args).items()}}
    with tempfile.TemporaryDirectory() as folder:
        clean = repeat_files(sources, args.n, folder)
        bad = with_bad_files(clean, args.batch_size, folder)
        batches = [
            bad[i : i + args.batch_size] for i in range(0, len(bad), args.batch_size)
        ]
        steps = prediction_steps(load_pretrained())

        def prepare(how):
            for batch in batches:
                if how == "retried":
                    apply_to_readable(
                        partial(transform_naming_failures, steps, borders=True), batch
                    )
                else:
                    transform_readable(steps, batch, borders=True)

        for how in ("retried", "once"):
            report[f"prepare_{how}_s"] = seconds = timed(partial(prepare, how), 3)
            print(f"prepare the batches, {how}: {seconds:.2f} s", flush=True)
        report["prepare_ratio"] = report["prepare_retried_s"] / report["prepare_once_s"]
        print(f"  retried / once: {report['prepare_ratio']:.2f}x", flush=True)

        for runtime in ("keras", "onnx"):
            model = load_pretrained(runtime=runtime)
            for name, paths in (("clean", clean), ("bad", bad)):

                def score(paths=paths, model=model):
                    with contextlib.redirect_stderr(io.StringIO()):
                        predict_files(
                            model, paths, io.StringIO(), batch_size=args.batch_size
                        )

                report[f"{runtime}_{name}_s"] = seconds = timed(score, args.repeat)
                print(
                    f"predict_files, {runtime}, {name}: {seconds:.2f} s "
                    f"({len(paths) / seconds:.1f} files/s)",
                    flush=True,
                )
            ratio = report[f"{runtime}_bad_s"] / report[f"{runtime}_clean_s"]
            report[f"{runtime}_bad_over_clean"] = ratio
            print(f"  {runtime}: with bad files / clean: {ratio:.3f}x", flush=True)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
