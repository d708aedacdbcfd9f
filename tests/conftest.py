import os
import random
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
