"""Small real data sets shipped with the package."""

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

from .._class_names import TARGET_NAMES
from ._folder import load_image_folder

_DATA = resources.files("sklearn_pneumo.datasets") / "data"

_PNEUMONIAMNIST_DESCR = """\
PneumoniaMNIST (MedMNIST v2): pediatric chest X-rays of Kermany et al. 2018,
center-cropped and resized to 28x28 grayscale (uint8). The official train split
(4,708 images: 1,214 normal, 3,494 pneumonia) and validation split (524 images:
135 normal, 389 pneumonia). Labels: 0 normal, 1 pneumonia. CC BY 4.0.
Yang et al., "MedMNIST v2", Scientific Data 10, 2023; Kermany, Goldbaum et
al., Cell 172(5), 2018.
"""


def load_pneumoniamnist(split="train", *, return_X_y=False):
    """Load the bundled PneumoniaMNIST train or validation split.

    Parameters
    ----------
    split : {"train", "val"}, default="train"
    return_X_y : bool, default=False
        Return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``images`` (n, 28, 28) uint8, ``target`` (n,) int with 0 normal and
        1 pneumonia, ``target_names`` (``TARGET_NAMES``, the names every
        loader uses: ``NORMAL``, ``PNEUMONIA``) and ``DESCR``.
    (images, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from sklearn_pneumo.datasets import load_pneumoniamnist
    >>> images, y = load_pneumoniamnist("val", return_X_y=True)
    >>> images.shape, int(y.sum())
    ((524, 28, 28), 389)
    """
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}.")
    with (_DATA / "pneumoniamnist_28_trainval.npz").open("rb") as file:
        arrays = np.load(file)
        images = arrays[f"{split}_images"]
        target = arrays[f"{split}_labels"].ravel().astype(np.int64)
    if return_X_y:
        return images, target
    return Bunch(
        images=images,
        target=target,
        target_names=np.array(TARGET_NAMES),
        DESCR=_PNEUMONIAMNIST_DESCR,
    )


def load_chest_xray_sample():
    """Paths and labels of 16 bundled full-size chest X-ray JPEGs.

    The public dataset's whole validation folder (Kermany et al. 2018,
    CC BY 4.0): 8 NORMAL (1240-1776 px wide) and 8 PNEUMONIA (968-1664 px
    wide) original files, in the paper's folder layout: to try
    :class:`~sklearn_pneumo.ImageLoader` on real full-size files. None of
    them is in the public ``train/`` folder.

    Returns
    -------
    paths : ndarray of str of shape (16,)
    y : ndarray of int of shape (16,)

    Examples
    --------
    >>> from sklearn_pneumo.datasets import load_chest_xray_sample
    >>> paths, y = load_chest_xray_sample()
    >>> y.tolist() == [0] * 8 + [1] * 8
    True
    """
    with resources.as_file(_DATA / "chest_xray_sample") as root:
        return load_image_folder(root)


def load_chest_xray_224(*, return_groups=False):
    """Paths and labels of 200 bundled chest X-ray JPEGs at 224x224.

    100 NORMAL and 100 PNEUMONIA files of the public dataset's ``train/``
    folder (Kermany et al. 2018, CC BY 4.0), stretched to 224x224 and saved as
    JPEG, under their original names, whole patients at a time (156 patients,
    some with several images). Enough to run cross-validation and small grid
    searches on real files.

    Parameters
    ----------
    return_groups : bool, default=False
        Also return the patient of each file, for grouped cross-validation.

    Returns
    -------
    paths : ndarray of str of shape (200,)
    y : ndarray of int of shape (200,)
    groups : ndarray of str of shape (200,)
        Only if ``return_groups`` is True.

    Examples
    --------
    >>> from sklearn_pneumo.datasets import load_chest_xray_224
    >>> paths, y, groups = load_chest_xray_224(return_groups=True)
    >>> len(paths), int(y.sum()), len(set(groups))
    (200, 100, 156)
    """
    with resources.as_file(_DATA / "chest_xray_224") as root:
        return load_image_folder(root, return_groups=return_groups)
