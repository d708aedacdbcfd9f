"""Domain-adversarial training on a site's unlabeled X-rays: does it re-rank?

The later-patients split of ``bench_later_patients.py`` (its latest
``--later`` share of each series' patients as a later period, the earlier
ones split by patient into a training part and a same-period validation
part). Batch-norm statistics, entropy minimization, calibration and prior
shift leave the ranking of the later ``NORMAL2-IM`` normal X-rays as it is.
Domain-adversarial training (DANN; Ganin et al., "Domain-adversarial
training of neural networks", JMLR 17, 2016) changes the features
themselves: beside the class head, a domain head on the network's last
hidden layer learns to tell the training part from one half of the later
patients (unlabeled), and its gradient reaches the network reversed and
scaled by ``lambda`` (raised from 0 as ``2 / (1 + exp(-10 p)) - 1`` of
training progress ``p``), so the network learns features that hold on both.

Each arm is the shipped configuration's network (``build_cnn`` with the
``tuned`` preset's layers and the shipped augmentation) fitted at
``--image-size`` by one training loop, Adam at 1e-3, balanced class weights,
``--epochs`` over the training part, in batches of 64 of it (and, but for
``source only``, 64 of the later half beside them in one batch, so the
batch norms see both):

- ``source only``: the training part alone (one fit scores both halves);
- ``lambda 0``: the later half in the batches, no domain gradient;
- ``lambda L`` for each ``--lambdas``: the domain gradient, scaled by L.

Each arm adapted to one later half scores the other, then the halves swap.
Reported: ROC AUC of the same-period part and of the later part, the
later part's accuracy at 0.5, and its normal recall (and of its
``NORMAL2-IM`` X-rays) and pneumonia recall at the threshold that calls
95 % of the same-period normal X-rays normal, the operating point at
which ``bench_later_patients.py`` compares networks; and, as a ranking at
the high-sensitivity end, the later normal recall at the threshold that
calls 97 % of the later pneumonia X-rays pneumonia.

    python benchmarks/bench_domain_adversarial.py \\
        --train-dir ../shared/data/chest_xray_224/train --out dann.json
"""

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from bench_later_patients import later_split, series_and_number
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.utils.class_weight import compute_class_weight

from sklearn_pneumo import build_cnn, make_pneumo_pipeline
from sklearn_pneumo.datasets import load_image_folder

#: The ``tuned`` preset's layers with the shipped network's augmentation.
NETWORK = {
    "batch_norm": True,
    "batch_norm_momentum": 0.9,
    "dropout": 0.3,
    "rotation": 0.03,
    "shift": 0.05,
    "zoom": 0.1,
    "stretch": 0.25,
    "contrast": 0.2,
    "brightness": 0.1,
}
BATCH = 64


@tf.custom_gradient
def reversed_gradient(features, scale):
    def backward(upstream):
        return -scale * upstream, tf.zeros_like(scale)

    return tf.identity(features), backward


def fitted(images, y, site, epochs, scale, seed):
    """The network fitted on ``images``, ``y`` and, unlabeled, ``site``.

    ``site`` None fits on the labelled images alone; ``scale`` is the
    largest weight of the reversed domain gradient (0: none).
    """
    keras.utils.set_random_seed(seed)
    network = build_cnn(input_shape=images.shape[1:], **NETWORK)
    dense = [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)]
    last_hidden = dense[-2]
    x = inputs = keras.Input(images.shape[1:])
    for layer in network.layers:
        x = layer(x)
        if layer is last_hidden:
            features = x
    hidden = keras.Model(inputs, [x, features])
    domain = keras.Sequential(
        [
            keras.Input((hidden.outputs[1].shape[-1],)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    optimizer = keras.optimizers.Adam(1e-3)
    weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    weights = tf.constant(weights, tf.float32)
    variables = hidden.trainable_variables
    if site is not None:
        variables += domain.trainable_variables
    crossentropy = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    @tf.function(autograph=False)  # Python branches on None, traced once each
    def step(labelled, labels, unlabelled, lam):
        n = tf.shape(labelled)[0]
        batch = labelled if unlabelled is None else tf.concat([labelled, unlabelled], 0)
        with tf.GradientTape() as tape:
            proba, features = hidden(batch, training=True)
            class_loss = tf.reduce_mean(
                tf.gather(weights, labels) * crossentropy(labels, proba[:n])
            )
            loss = class_loss
            if unlabelled is not None:
                logits = domain(reversed_gradient(features, lam), training=True)[:, 0]
                is_site = tf.concat([tf.zeros(n), tf.ones(tf.shape(unlabelled)[0])], 0)
                loss += tf.reduce_mean(
                    tf.nn.sigmoid_cross_entropy_with_logits(is_site, logits)
                )
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return class_loss

    rng = np.random.default_rng(seed)
    steps = len(images) // BATCH
    for epoch in range(epochs):
        order = rng.permutation(len(images))
        for i in range(steps):
            progress = (epoch * steps + i) / (epochs * steps)
            lam = scale * (2 / (1 + np.exp(-10 * progress)) - 1)
            rows = order[i * BATCH : (i + 1) * BATCH]
            unlabelled = None
            if site is not None:
                unlabelled = site[
                    rng.choice(len(site), BATCH, replace=len(site) < BATCH)
                ]
            loss = step(images[rows], y[rows], unlabelled, tf.constant(lam, tf.float32))
        print(f"  epoch {epoch + 1}: class loss {float(loss):.3f}", flush=True)
    return network


def p_sick(network, images):
    return network.predict(images, batch_size=256, verbose=0)[:, 1]


def scored(y_same, p_same, y_later, p_later, normal2):
    """The comparison figures of one arm."""
    threshold = np.quantile(p_same[y_same == 0], 0.95)
    normal = y_later == 0
    return {
        "same_period_roc_auc": float(roc_auc_score(y_same, p_same)),
        "later_roc_auc": float(roc_auc_score(y_later, p_later)),
        "later_normal_recall_at_0.95": float((p_later[normal] < threshold).mean()),
        "later_normal2_recall_at_0.95": float(
            (p_later[normal & normal2] < threshold).mean()
        ),
        "later_pneumonia_recall_at_0.95": float((p_later[~normal] >= threshold).mean()),
        # The ranking where it matters: the normal recall at the later
        # part's own threshold of 97 % pneumonia recall.
        "later_normal_recall_at_pneumonia_0.97": float(
            (p_later[normal] < np.quantile(p_later[~normal], 0.03)).mean()
        ),
        "later_accuracy_at_0.5": float(((p_later >= 0.5) == y_later).mean()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--later", type=float, default=0.2)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths, y, groups = load_image_folder(args.train_dir, return_groups=True)
    train, same, later = later_split(paths, y, groups, args.later, args.random_state)
    rows = np.flatnonzero(later)
    size = (args.image_size, args.image_size)
    prepare = make_pneumo_pipeline(size)[:2]
    images = prepare.fit_transform(paths).reshape(-1, *size, 1).astype(np.float32)
    normal2 = np.array([series_and_number(p)[0] == "NORMAL2-IM" for p in paths[rows]])
    halves = list(
        StratifiedGroupKFold(2, shuffle=True, random_state=args.random_state).split(
            rows, y[rows], groups[rows]
        )
    )
    report = {"settings": {**vars(args), "train_dir": str(args.train_dir), "out": None}}
    seed = args.random_state
    arms = [("source only", None)] + [
        (f"lambda {s:g}", s) for s in [0.0, *args.lambdas]
    ]
    for name, scale in arms:
        start = time.perf_counter()
        if scale is None:  # one fit, scored on each half
            network = fitted(images[train], y[train], None, args.epochs, 0.0, seed)
            p_all, p_same = p_sick(network, images[rows]), p_sick(network, images[same])
            answers = [(p_same, p_all[score]) for _, score in halves]
        else:
            answers = []
            for site_half, score_half in halves:
                site = images[rows[site_half]]
                network = fitted(
                    images[train], y[train], site, args.epochs, scale, seed
                )
                answers.append(
                    (
                        p_sick(network, images[same]),
                        p_sick(network, images[rows[score_half]]),
                    )
                )
        # Each fit's same-period answers set the threshold for its half.
        figures = [
            scored(y[same], p_same, y[rows][score], p_half, normal2[score])
            for (p_same, p_half), (_, score) in zip(answers, halves)
        ]
        report[name] = {
            key: float(np.mean([f[key] for f in figures])) for key in figures[0]
        } | {"seconds": round(time.perf_counter() - start, 1)}
        print(
            f"{name}: " + ", ".join(f"{k} {v:.3f}" for k, v in report[name].items()),
            flush=True,
        )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
