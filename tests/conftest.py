import logging
import os
import random
import warnings
from pathlib import Path

import numpy as np
import pytest

from sklearn_pneumo import _upstream

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: The tiny network the tests train, a few seconds per fit. Modules add the
#: epochs, batch size and seed their test needs: ``{**TINY_NETWORK, ...}``.
TINY_NETWORK = {"model__filters": 4, "model__dense_units": 8}

#: CalibratedClassifierCV's methods that map log-odds, as a parametrization:
#: temperature scaling needs scikit-learn 1.8, and the package supports 1.7.
CALIBRATION_METHODS = [
    "sigmoid",
    pytest.param(
        "temperature",
        marks=pytest.mark.skipif(
            "temperature" not in _upstream.CALIBRATION_METHODS,
            reason="temperature scaling arrived in scikit-learn 1.8",
        ),
    ),
]


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def xray_dir():
    """The 16 real full-size X-ray JPEGs the package bundles, in class folders."""
    from sklearn_pneumo.datasets import load_chest_xray_sample

    paths, _ = load_chest_xray_sample()
    return Path(paths[0]).parents[1]


@pytest.fixture(scope="session")
def xray_paths(xray_dir):
    from sklearn_pneumo.datasets import load_image_folder

    return load_image_folder(xray_dir)


@pytest.fixture(scope="session")
def mnist():
    """A small balanced subset of the real PneumoniaMNIST train split (bundled)."""
    from sklearn_pneumo.datasets import load_pneumoniamnist

    images, labels = load_pneumoniamnist("train", return_X_y=True)
    rng = np.random.default_rng(0)
    rows = np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), 60, replace=False) for c in (0, 1)]
    )
    rng.shuffle(rows)
    return images[rows], labels[rows].astype(int)


@pytest.fixture(scope="session")
def xrays_224():
    """40 real 224x224 X-ray JPEGs (every fifth bundled one), both classes."""
    from sklearn_pneumo.datasets import load_chest_xray_224

    paths, y = load_chest_xray_224()
    return paths[::5], y[::5]


@pytest.fixture(scope="session")
def fitted_pipeline(xrays_224):
    """A tiny 16x16 pipeline fitted for an epoch on ``xrays_224``; shared: read-only."""
    from sklearn_pneumo import make_pneumo_pipeline

    # Two conv blocks: a small model file, which the file-attack tests load
    # hundreds of times.
    pipe = make_pneumo_pipeline(
        (16, 16),
        epochs=1,
        batch_size=32,
        random_state=0,
        model__conv_blocks=2,
        clahe=0.25,  # so saving, loading, ONNX and the CSV meet a CLAHE-trained one
        **TINY_NETWORK,
    )
    return pipe.fit(*xrays_224)


@pytest.fixture(scope="session")
def pretrained_loading():
    """The shipped model, loaded once, with every warning and TensorFlow log
    record met on loading. Shared: tests that change it restore it."""
    from sklearn_pneumo import load_pretrained

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    loggers = [logging.getLogger(name) for name in ("tensorflow", "keras", "absl")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = load_pretrained()
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    return model, caught, records


@pytest.fixture(scope="session")
def pretrained(pretrained_loading):
    """The shipped model as ``load_pretrained()`` gives it (shared, read-only)."""
    return pretrained_loading[0]


@pytest.fixture(scope="module")
def dask_client():
    """A Dask client of two worker processes of one thread, per test module."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
