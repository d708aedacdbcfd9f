"""The validation part of the training folder, its shifted copies, and models.

Shared by ``bench_accuracy.py``, ``bench_trust.py`` and ``train_pretrained.py``.
"""

import io

import numpy as np
from imblearn.pipeline import Pipeline
from PIL import Image
from skimage.exposure import equalize_adapthist
from skimage.transform import rotate
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch

from sklearn_pneumo import (
    ImageLoader,
    fitted_networks,
    load_model,
    make_pneumo_ensemble,
)
from sklearn_pneumo._grayscale import to_gray, to_unit_float
from sklearn_pneumo._holdout import holdout_indices
from sklearn_pneumo.datasets import load_image_folder

#: Validation copies that shift framing, exposure or orientation; the
#: ranking takes the worst of them and the plain one.
SHIFTED = ("val_aspect", "val_gamma_0.8", "val_gamma_1.25", "val_rotated_5")


def patient_split(train_dir, seed, label_from=None):
    """Training and validation parts of a folder, each patient on one side.

    ``label_from`` labels the files as ``load_image_folder`` does (the
    split is stratified by those labels).
    """
    paths, y, groups = load_image_folder(
        train_dir, label_from=label_from, return_groups=True
    )
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
    train, val = next(folds.split(paths, y, groups))
    splits = {"train": (paths[train], y[train]), "val": (paths[val], y[val])}
    return splits, groups[train]


def aspect_swapped(images, y, cut=0.1):
    """Validation X-rays cropped to the other class's aspect ratio.

    In the public dataset normal X-rays are about 1.2 times as wide as high
    and pneumonia X-rays about 1.5 times, so after the stretch to a square
    the width of the chest tells the classes apart; an X-ray machine or
    collimation that frames differently breaks that shortcut. Here each
    normal X-ray (label 0) loses ``cut`` of its height at the top and at the
    bottom (at 0.1 its ratio grows by 1.25, like a pneumonia X-ray) and each
    other X-ray ``cut`` of its width at each side (like a normal one). Only
    natural crops, nothing is padded. A network that reads the disease keeps
    its figures; one that reads the shape loses them.
    """
    return [
        cropped(image, cut, 0.0) if label == 0 else cropped(image, 0.0, cut)
        for image, label in zip(images, y)
    ]


def cropped(image, top, side):
    """``image`` less ``top`` of its height at the top and at the bottom, and
    ``side`` of its width at each side."""
    height, width = image.shape[:2]
    rows, columns = round(height * top), round(width * side)
    return image[rows : height - rows, columns : width - columns]


def shifted_copies(paths, y):
    """Decoded validation X-rays, framed, exposed and turned differently.

    ``val_aspect`` (``aspect_swapped``), the gamma curves 0.8 (brighter) and
    1.25 (darker) on the [0, 1] intensities, and a rotation by 5 degrees
    (black corners, as a scanner or an image editor leaves them).
    """
    images = [to_unit_float(image) for image in ImageLoader().transform(paths)]
    return {
        "val_aspect": aspect_swapped(images, y),
        "val_gamma_0.8": [image**0.8 for image in images],
        "val_gamma_1.25": [image**1.25 for image in images],
        "val_rotated_5": [
            rotate(image, 5, mode="constant", cval=0.0).astype(np.float32)
            for image in images
        ],
    }


def refit_outlier_models(pipe, paths, y, groups, variants):
    """``fit_outliers`` for each network of ``pipe``, ``outlier_variants=variants``.

    ``pipe``'s first two steps (``load``, ``resize``) prepare the X-rays.
    """
    for cnn in fitted_networks(pipe):
        cnn.set_params(outlier_variants=variants)
        fit_outliers(pipe[:2], cnn, paths, y, groups)


def fit_holdout(cnn, y, groups):
    """``(train, held_out)`` indices as ``cnn``'s fit split them.

    The hold-out of its ``validation_split``, by patient, with its seed.
    """
    labels = np.searchsorted(cnn.classes_, y)
    return holdout_indices(labels, cnn.validation_split, cnn.random_state, groups)


def fit_outliers(preprocess, cnn, paths, y, groups):
    """Fit ``cnn``'s outlier model on ``paths`` as its ``fit`` would, in float32.

    As ``fit``: on the training part as the network learned from it (its
    ``reframe``, ``clahe`` and ``sharpen`` shares changed; with
    ``outlier_variants`` its site variants too), threshold and readable
    noise on the hold-out of its ``validation_split``.

    ``preprocess`` turns paths into its rows. The features are computed in
    float32, as ONNX Runtime computes them (a model exported with
    ``export_onnx``), and the network predicts in float32 from then on:
    Gaussians fitted on bfloat16 features misjudge float32 ones (the shipped
    model's flagged 11 of the 16 bundled samples).
    """
    cnn.set_params(inference_dtype_policy="float32")
    labels = np.searchsorted(cnn.classes_, y)
    rows = preprocess.transform(paths)
    images = cnn.feature_encoder_.transform(rows)
    train, held_out = fit_holdout(cnn, y, groups)
    # The training part as the network saw it.
    fitted = cnn._as_trained_on(images[train], labels[train], cnn.random_state)
    cnn._fit_outlier_model(fitted, labels[train], images[held_out], labels[held_out])


def joined_ensemble(pipes):
    """One ensemble pipeline from fitted single-network pipelines.

    The ``load`` and ``resize`` steps of the first; the members' other steps
    as ``VotingClassifier.fit`` leaves them: unfitted templates in
    ``estimators``, the fitted ones in ``estimators_``.
    """
    first = pipes[0]
    if len(pipes) == 1:
        return first
    ensemble = make_pneumo_ensemble(
        len(pipes), first["resize"].size, preset="tuned", sampler=None
    )
    ensemble.steps[:2] = first.steps[:2]
    voting = ensemble[-1]
    fitted = [Pipeline(pipe.steps[2:]) for pipe in pipes]
    voting.estimators = [
        (name, clone(member)) for (name, _), member in zip(voting.estimators, fitted)
    ]
    voting.estimators_ = fitted
    voting.named_estimators_ = Bunch(
        **{name: member for (name, _), member in zip(voting.estimators, fitted)}
    )
    voting.le_ = LabelEncoder().fit(first.classes_)
    voting.classes_ = voting.le_.classes_
    return ensemble


def join_members(files, paths, y, groups):
    """One ensemble pipeline from saved whole-folder pipelines of different seeds.

    A pipeline saved without an outlier model gets one, fitted on ``paths``.
    """
    pipes = []
    for file in files:
        pipe = load_model(file)
        if not hasattr(pipe, "assess"):
            fit_outliers(pipe[:-1], pipe[-1], paths, y, groups)
        pipes.append(pipe)
    return joined_ensemble(pipes)


def _jpeg(image, quality):
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(
        buffer, "JPEG", quality=quality
    )
    return np.asarray(Image.open(buffer), dtype=np.float32) / 255


def _half_size(image):
    height, width = image.shape
    small = Image.fromarray(image).resize((width // 2, height // 2), Image.BILINEAR)
    return np.asarray(small, dtype=np.float32)


def _padded(image, share, value):
    pad = round(max(image.shape) * share)
    return np.pad(image, pad, constant_values=value)


#: How another site's X-rays differ from the training folder's: each a
#: function of one gray image in [0, 1] (and its label, for the framing).
SITE_CHANGES = {
    "border_black_6": lambda image, _: _padded(image, 0.06, 0.0),
    "border_white_6": lambda image, _: _padded(image, 0.06, 1.0),
    "clahe": lambda image, _: equalize_adapthist(image).astype(np.float32),
    "mirrored": lambda image, _: image[:, ::-1],
    "framing": lambda image, label: aspect_swapped([image], [label])[0],
    "rotated_3": lambda image, _: rotate(image, 3).astype(np.float32),
    "rotated_5": lambda image, _: rotate(image, 5).astype(np.float32),
    "gamma_0.8": lambda image, _: image**0.8,
    "gamma_1.25": lambda image, _: image**1.25,
    "jpeg_25": lambda image, _: _jpeg(image, 25),
    "half_resolution": lambda image, _: _half_size(image),
    "noise_0.03": lambda image, _: np.clip(
        image + np.random.default_rng(0).normal(0, 0.03, image.shape), 0, 1
    ).astype(np.float32),
}


def decoded_xrays(paths):
    """The X-rays at ``paths`` as the package decodes them: gray, in [0, 1]."""
    return [to_gray(to_unit_float(image)) for image in ImageLoader().transform(paths)]


def site_copies(paths, y):
    """Decoded X-rays as they are (``plain``) and changed by each of SITE_CHANGES."""
    images = decoded_xrays(paths)
    copies = {"plain": images}
    for name, change in SITE_CHANGES.items():
        copies[name] = [change(image, label) for image, label in zip(images, y)]
    return copies
