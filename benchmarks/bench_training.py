"""Training speed: CNNClassifier.fit against a raw Keras model.fit, same run.

Two networks at 150x150 train on the same float32 arrays (real X-rays
preprocessed by GrayscaleResize, repeated to --n images) for --epochs epochs;
a callback times each epoch and the first one (graph tracing) is dropped.

- ``paper``: the thesis' network. Baseline: Keras ``model.fit`` with default
  settings (float32, batch 32).
- ``tuned``: the ``tuned`` preset's network (batch normalisation, dropout,
  augmentation layers). Baseline: the same network with Keras'
  ``BatchNormalization`` in place of ``FusedBatchNormalization``, default
  Keras settings.

Ours: ``CNNClassifier`` with default settings, with the ``mixed_bfloat16``
policy (``model__dtype_policy``), and with that and ``batch_size=64``. Each
variant is repeated --repeat times, in turn, and the median epoch is
reported, with the fraction of the machine's measured matrix-multiply peak
(same dtype) that the network's FLOPs reach (forward + backward counted as 3x
the forward pass's multiply-adds).

    python benchmarks/bench_training.py --n 512 --epochs 3 --repeat 3 --out t.json
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import keras
import numpy as np
from _xrays import SAMPLE_XRAYS

TUNED_NETWORK = {
    "batch_norm": True,
    "dropout": 0.3,
    "rotation": 0.03,
    "shift": 0.05,
    "zoom": 0.1,
    "contrast": 0.1,
}


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def keras_batch_norm(model):
    """The same network with Keras' own BatchNormalization layers."""
    from sklearn_pneumo import FusedBatchNormalization

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, FusedBatchNormalization):
            return keras.layers.BatchNormalization.from_config(config)
        return layer.__class__.from_config(config)

    return keras.models.clone_model(model, clone_function=clone)


def raw_keras(X, y, epochs, network):
    from sklearn_pneumo import build_cnn

    model = keras_batch_norm(build_cnn(**network))
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
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
    return timer.seconds


def wrapper(X, y, epochs, network, **params):
    from sklearn_pneumo import CNNClassifier

    timer = EpochTimer()
    model_params = {f"model__{key}": value for key, value in network.items()}
    CNNClassifier(epochs=epochs, callbacks=[timer], **model_params, **params).fit(X, y)
    return timer.seconds


def forward_flops(model):
    """Multiply-adds x 2 of one image's forward pass (convolutions, dense)."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, out_channels = layer.output.shape
            kernel = layer.kernel.shape
            flops += 2 * height * width * out_channels * np.prod(kernel[:3])
        elif isinstance(layer, keras.layers.Dense):
            flops += 2 * np.prod(layer.kernel.shape)
    return int(flops)


def matmul_peak(dtype, size=2048, repeat=5):
    """Measured FLOP/s of a large square matrix product (the machine's roof)."""
    import tensorflow as tf

    a = tf.random.normal((size, size), dtype="float32")
    a = tf.cast(a, dtype)
    product = tf.function(lambda m: tf.matmul(m, m))
    product(a).numpy()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        product(a).numpy()
        seconds.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SAMPLE_XRAYS)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from sklearn_pneumo import build_cnn, make_pneumo_pipeline
    from sklearn_pneumo.datasets import load_image_folder

    paths, labels = load_image_folder(args.source)
    rows = make_pneumo_pipeline()[:2].transform(paths)
    X = np.resize(rows, (args.n, rows.shape[1])).astype(np.float32)
    y = np.resize(labels, args.n)
    bf16 = {"model__dtype_policy": "mixed_bfloat16"}
    variants = {}
    for name, network in {"paper": {}, "tuned": TUNED_NETWORK}.items():
        variants[name, "keras default"] = (
            "float32",
            lambda network=network: raw_keras(X, y, args.epochs, network),
        )
        for label, dtype, params in [
            ("CNNClassifier default", "float32", {}),
            ("CNNClassifier mixed_bfloat16", "bfloat16", bf16),
            (
                "CNNClassifier mixed_bfloat16 batch 64",
                "bfloat16",
                bf16 | {"batch_size": 64},
            ),
        ]:
            variants[name, label] = (
                dtype,
                lambda network=network, params=params: wrapper(
                    X, y, args.epochs, network, **params
                ),
            )
    epoch_seconds = {key: [] for key in variants}
    for _ in range(args.repeat):
        for key, (_, run) in variants.items():
            epoch_seconds[key] += run()[1:]

    flops = {
        name: 3 * forward_flops(build_cnn(**network))
        for name, network in {"paper": {}, "tuned": TUNED_NETWORK}.items()
    }
    peak = {dtype: matmul_peak(dtype) for dtype in ("float32", "bfloat16")}
    print(
        f"matmul peak: float32 {peak['float32'] / 1e9:.0f} GFLOP/s, "
        f"bfloat16 {peak['bfloat16'] / 1e9:.0f} GFLOP/s; training FLOPs per "
        f"image: paper {flops['paper'] / 1e9:.2f} G, tuned {flops['tuned'] / 1e9:.2f} G"
    )
    results = {"matmul_peak_flops": peak, "training_flops_per_image": flops}
    print(f"{'network':<8}{'variant':<40}{'images/s':>10}{'x keras':>9}{'% peak':>8}")
    for (name, label), seconds in epoch_seconds.items():
        rate = args.n / statistics.median(seconds)
        base = args.n / statistics.median(epoch_seconds[name, "keras default"])
        dtype = variants[name, label][0]
        share = rate * flops[name] / peak[dtype]
        results[f"{name}: {label}"] = {
            "images_per_s": rate,
            "ratio_to_keras": rate / base,
            "fraction_of_matmul_peak": share,
        }
        print(
            f"{name:<8}{label:<40}{rate:>10.1f}{rate / base:>9.2f}{100 * share:>7.0f}%"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
