"""Training speed: CNNClassifier.fit against a raw Keras model.fit, same run.

The paper's network at 150x150 trains on the same float32 arrays (real X-rays
preprocessed by GrayscaleResize, repeated to --n images) for --epochs epochs;
a callback times each epoch and the first one (graph tracing) is dropped.
Variants: raw Keras with default settings; CNNClassifier with default
settings (the wrapper's overhead); both with XLA (``jit_compile=True``); raw
Keras and CNNClassifier (``model__dtype_policy``) with the
``mixed_bfloat16`` policy. Each variant is repeated --repeat times, in turn,
and the median is reported.

    python benchmarks/bench_training.py --n 512 --epochs 4 --out training.json
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import keras
import numpy as np
from _xrays import SAMPLE_XRAYS


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def raw_keras(X, y, epochs, jit_compile="auto", policy="float32"):
    from sklearn_pneumo import build_cnn

    keras.mixed_precision.set_dtype_policy(policy)
    try:
        model = build_cnn()
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=jit_compile,
        )
        timer = EpochTimer()
        model.fit(
            X.reshape(-1, 150, 150, 1),
            y,
            epochs=epochs,
            batch_size=32,
            verbose=0,
            callbacks=[timer],
        )
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    return timer.seconds


def wrapper(X, y, epochs, jit_compile="auto", **params):
    from sklearn_pneumo import CNNClassifier

    timer = EpochTimer()
    CNNClassifier(
        epochs=epochs, callbacks=[timer], jit_compile=jit_compile, **params
    ).fit(X, y)
    return timer.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SAMPLE_XRAYS)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from sklearn_pneumo import make_pneumo_pipeline
    from sklearn_pneumo.datasets import load_image_folder

    paths, labels = load_image_folder(args.source)
    rows = make_pneumo_pipeline()[:2].transform(paths)
    X = np.resize(rows, (args.n, rows.shape[1])).astype(np.float32)
    y = np.resize(labels, args.n)
    variants = {
        "keras default": lambda: raw_keras(X, y, args.epochs),
        "CNNClassifier default": lambda: wrapper(X, y, args.epochs),
        "keras jit_compile=True": lambda: raw_keras(X, y, args.epochs, True),
        "CNNClassifier jit_compile=True": lambda: wrapper(X, y, args.epochs, True),
        "keras mixed_bfloat16": lambda: raw_keras(
            X, y, args.epochs, policy="mixed_bfloat16"
        ),
        "CNNClassifier mixed_bfloat16": lambda: wrapper(
            X, y, args.epochs, model__dtype_policy="mixed_bfloat16"
        ),
    }
    epoch_seconds = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, run in variants.items():
            epoch_seconds[name] += run()[1:]
    base = args.n / statistics.median(epoch_seconds["keras default"])
    results = {}
    print(f"{'variant':<32}{'images/s':>10}{'x keras':>9}")
    for name, seconds in epoch_seconds.items():
        rate = args.n / statistics.median(seconds)
        results[name] = {"images_per_s": rate, "ratio_to_keras": rate / base}
        print(f"{name:<32}{rate:>10.1f}{rate / base:>9.2f}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
