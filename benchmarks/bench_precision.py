"""How far bfloat16 inference moves the shipped model's probabilities.

The pretrained network (trained in mixed bfloat16) scores each data set
twice: as a float32 copy of the same weights
(``cnn__inference_dtype_policy="float32"``) and with ``"mixed_bfloat16"``.
Prints the largest and mean absolute difference of P(PNEUMONIA) and how
many predictions change at the model's threshold. Data: the bundled 16
sample X-rays and 200 training-folder JPEGs, and --train-dir if given.

    python benchmarks/bench_precision.py --train-dir ../shared/data/chest_xray_224/train
"""

import argparse
import json
from pathlib import Path

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from sklearn_pneumo import load_pretrained, pretrained_record
    from sklearn_pneumo.datasets import (
        load_chest_xray_224,
        load_chest_xray_sample,
        load_image_folder,
    )

    model = load_pretrained()
    threshold = pretrained_record()["threshold"]
    data = {
        "bundled sample (16)": load_chest_xray_sample()[0],
        "bundled 224 (200)": load_chest_xray_224()[0],
    }
    if args.train_dir:
        data[f"{args.train_dir.name} folder"] = load_image_folder(args.train_dir)[0]
    results = {}
    print(f"{'data':<24}{'files':>7}{'max |diff|':>12}{'mean |diff|':>13}{'flips':>7}")
    for name, paths in data.items():
        rows = model[:2].transform(paths)
        proba = {}
        for policy in ("float32", "mixed_bfloat16"):
            model.set_params(cnn__inference_dtype_policy=policy)
            proba[policy] = model[-1].predict_proba(rows)[:, 1]
        difference = np.abs(proba["mixed_bfloat16"] - proba["float32"])
        flips = int(
            np.sum(
                (proba["mixed_bfloat16"] >= threshold)
                != (proba["float32"] >= threshold)
            )
        )
        results[name] = {
            "files": len(paths),
            "max_abs_difference": float(difference.max()),
            "mean_abs_difference": float(difference.mean()),
            "prediction_flips": flips,
        }
        print(
            f"{name:<24}{len(paths):>7}{difference.max():>12.5f}{difference.mean():>13.6f}{flips:>7}"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
