"""bfloat16 inference of the shipped model: its speed, first block in float32 or not.

Under ``cnn__inference_dtype_policy="mixed_bfloat16"`` the layers before
the network's first pooling (``first_block``) compute in float32, since
the outlier model's narrowest features read them. On ``--n`` training
X-rays, already decoded and resized, the shipped network alone scores one
view of each in batches, timed in turn ``--repeat`` times (medians):

- ``float32``: every layer in float32, as the shipped model's policy
  (``"float32"``) scores it (it was trained in mixed bfloat16);
- ``bfloat16, first block float32``: the copy that ``mixed_bfloat16`` uses;
- ``bfloat16, all``: every layer but the output in bfloat16 (how it was
  scored before the first block was kept in float32);

each without and with the outlier model's features. Then ``predict_files``
of the same files (decoding, five views, flags) under each policy. Only
meaningful on a CPU with bfloat16 instructions (``lscpu``: ``avx512_bf16``
or ``amx_bf16``); elsewhere bfloat16 is several times slower.

    python benchmarks/bench_bf16.py \\
        --train-dir ../shared/data/chest_xray_224/train --n 512 --repeat 5
"""

import argparse
import io
import json
import statistics
import time
from pathlib import Path

import numpy as np

from sklearn_pneumo import load_pretrained, predict_files
from sklearn_pneumo._feature_gaussians import feature_network, first_block
from sklearn_pneumo._network import with_dtype_policy
from sklearn_pneumo.datasets import load_image_folder


def interleaved(functions, repeat):
    """Median seconds of each function, called in turn ``repeat`` times."""
    seconds = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in seconds.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths, _ = load_image_folder(args.train_dir)
    paths = np.random.default_rng(0).choice(paths, args.n, replace=False)
    model = load_pretrained()
    cnn = model[-1]
    images = np.asarray(model[:-1].transform(paths), np.float32)
    images = images.reshape(-1, *cnn.image_size_, 1)
    trained = cnn.model_
    networks = {
        "float32": with_dtype_policy(trained, "float32"),
        "bfloat16, first block float32": with_dtype_policy(
            trained, "mixed_bfloat16", float32=first_block(trained)
        ),
        "bfloat16, all": with_dtype_policy(trained, "mixed_bfloat16"),
    }
    networks |= {
        f"{name}, features": feature_network(n) for name, n in networks.items()
    }
    batch = cnn._predict_batch_size()

    def scorer(network):
        def score():
            for start in range(0, len(images), batch):
                network.predict_on_batch(images[start : start + batch])

        return score

    for network in networks.values():
        scorer(network)()  # traced once before timing
    times = interleaved({n: scorer(net) for n, net in networks.items()}, args.repeat)
    report = {f"network {n}": round(len(images) / t, 1) for n, t in times.items()}
    policy = cnn.inference_dtype_policy

    def files(dtype_policy):
        def score():
            model.set_params(cnn__inference_dtype_policy=dtype_policy)
            predict_files(model, paths, io.StringIO())

        return score

    times = interleaved(
        {"float32": files(policy), "bfloat16": files("mixed_bfloat16")},
        max(args.repeat // 2, 1),
    )
    model.set_params(cnn__inference_dtype_policy=policy)
    report |= {f"predict_files {n}": round(len(paths) / t, 1) for n, t in times.items()}
    for name, rate in report.items():
        print(f"{name:50s} {rate:7.1f} X-rays/s")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
