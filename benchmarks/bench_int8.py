"""The shipped model's 8-bit ONNX form against its float form, in one run.

Each form (``load_pretrained(runtime="onnx")`` and ``runtime="onnx-int8"``)
scores, timed in turn ``--repeat`` times (medians reported):

- ``network``: its network alone on decoded, resized X-rays, in batches of
  64 (one view each): X-rays per second;
- ``predict_files``: the CSV of ``--n`` X-ray files, decoding included,
  with the model's five test-time views and its outlier flags;

and decoding and resizing the files alone, the bound no network reaches.

And the answers on the files: the largest probability difference and the
share of equal labels. The ratio int8 / float of each rate is printed.

    python benchmarks/bench_int8.py \\
        --train-dir ../shared/data/chest_xray_224/train --n 1024 --repeat 3
"""

import argparse
import json
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
from _harness import timed

from sklearn_pneumo import load_pretrained, predict_files
from sklearn_pneumo.datasets import load_image_folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths, _ = load_image_folder(args.train_dir)
    paths = np.random.default_rng(0).choice(paths, args.n, replace=False)
    forms = {name: load_pretrained(runtime=name) for name in ("onnx", "onnx-int8")}
    rows = np.asarray(forms["onnx"]._rows(paths)[0], dtype=np.float32)
    images = rows.reshape(-1, 150, 150, 1)
    decoding = timed(partial(forms["onnx"]._rows, paths), args.repeat)
    report = {"decode_and_resize_xrays_per_s": round(len(paths) / decoding, 1)}
    print("decode and resize only", report["decode_and_resize_xrays_per_s"])
    proba = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, scorer in forms.items():
            forward = partial(scorer.networks[0].forward, images, False)
            seconds = timed(forward, args.repeat)
            csv = Path(folder) / f"{name}.csv"
            score = partial(predict_files, scorer, paths, csv, overwrite=True)
            files = timed(score, args.repeat)
            proba[name] = scorer.predict_proba(paths)
            report[name] = {
                "network_xrays_per_s": round(len(images) / seconds, 1),
                "predict_files_xrays_per_s": round(len(paths) / files, 1),
            }
            print(name, report[name])
    for key in ("network_xrays_per_s", "predict_files_xrays_per_s"):
        ratio = report["onnx-int8"][key] / report["onnx"][key]
        report[f"ratio_{key}"] = round(ratio, 2)
        print(f"int8 / float, {key}: {ratio:.2f}x")
    report["max_proba_difference"] = float(
        np.abs(proba["onnx-int8"] - proba["onnx"]).max()
    )
    report["same_label"] = float(
        np.mean(proba["onnx-int8"].argmax(1) == proba["onnx"].argmax(1))
    )
    print(
        f"largest probability difference {report['max_proba_difference']:.4f}, "
        f"same label {report['same_label']:.2%}"
    )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
