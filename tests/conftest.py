import os
import random
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Real X-rays shared beside the project (tests only; the package ships its own).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def xray_dir():
    folder = SHARED_DATA / "chest_xray_sample"
    if not folder.is_dir():
        pytest.skip(f"real X-ray sample not found at {folder}")
    return folder


@pytest.fixture(scope="session")
def xray_paths(xray_dir):
    from sklearn_pneumo.datasets import load_image_folder

    return load_image_folder(xray_dir)


@pytest.fixture(scope="session")
def mnist():
    """A small balanced subset of the real PneumoniaMNIST train split."""
    path = SHARED_DATA / "pneumoniamnist_28_trainval.npz"
    if not path.is_file():
        pytest.skip(f"PneumoniaMNIST not found at {path}")
    arrays = np.load(path)
    images, labels = arrays["train_images"], arrays["train_labels"].ravel()
    rng = np.random.default_rng(0)
    rows = np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), 60, replace=False) for c in (0, 1)]
    )
    rng.shuffle(rows)
    return images[rows], labels[rows].astype(int)
