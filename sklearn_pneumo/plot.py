"""Figures of the data, the training and the network's attention (matplotlib).

Needs the optional ``plot`` extra: ``pip install 'sklearn-pneumo[plot]'``.
Every function draws on new axes unless given ``ax``/``axes`` and returns
the matplotlib ``Figure``. For the confusion matrix and the ROC curve, use
scikit-learn's ``ConfusionMatrixDisplay.from_estimator`` and
``RocCurveDisplay.from_estimator`` on a fitted pipeline: they work as is.
"""

import os

import numpy as np

from ._class_names import class_display_names
from ._grayscale import to_gray, to_unit_float
from ._loader import decode_images

__all__ = [
    "plot_class_counts",
    "plot_gradcam",
    "plot_intensity_histogram",
    "plot_sample_grid",
    "plot_training_history",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "Plotting needs matplotlib, an optional dependency: "
            "pip install 'sklearn-pneumo[plot]'"
        ) from error
    return plt


def _subplots(n_axes, axes, ncols=None, size=3.0):
    """``n_axes`` new axes in a grid, or the flattened ``axes`` given."""
    plt = _pyplot()
    if axes is not None:
        axes = np.ravel(axes)
        if axes.size < n_axes:
            raise ValueError(f"Need {n_axes} axes, got {axes.size}.")
        return axes[0].figure, axes
    ncols = min(n_axes, ncols or n_axes)
    nrows = -(-n_axes // ncols)
    figure, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * ncols, size * nrows),
        squeeze=False,
        layout="constrained",
    )
    for extra in axes.ravel()[n_axes:]:
        extra.set_axis_off()
    return figure, axes.ravel()


def _gray_images(images):
    """Images (arrays, or paths to decode) as 2-D grayscale in [0, 1]."""
    if len(images) and isinstance(images[0], (str, os.PathLike)):
        images = decode_images(images)
    return [to_gray(to_unit_float(np.asarray(image))) for image in images]


def plot_training_history(estimator, *, metrics=("loss", "accuracy"), axes=None):
    """Loss and metrics per epoch, on training and validation data.

    The figures the thesis drew with TensorBoard, from ``history_``. The
    validation curve appears when the classifier was fitted with
    ``validation_split`` (or ``validation_data``).

    Parameters
    ----------
    estimator : CNNClassifier or Pipeline ending in one
        Fitted.
    metrics : sequence of str, default=("loss", "accuracy")
        Keys of ``history_``, one axes each.
    axes : array of matplotlib Axes or None, default=None

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_pneumo import CNNClassifier
    >>> from sklearn_pneumo.plot import plot_training_history
    >>> X = np.random.default_rng(0).random((20, 64), dtype=np.float32)
    >>> clf = CNNClassifier(epochs=2, model__filters=4, random_state=0)
    >>> figure = plot_training_history(clf.fit(X, np.repeat([0, 1], 10)))
    >>> [ax.get_title() for ax in figure.axes]
    ['loss', 'accuracy']
    """
    from ._walk import fitted_networks

    networks = fitted_networks(estimator)
    if len(networks) != 1:
        raise ValueError(
            f"{type(estimator).__name__} holds {len(networks)} fitted networks; "
            "pass one of them (sklearn_pneumo.fitted_networks(model)[i])."
        )
    history = networks[0].history_
    missing = [m for m in metrics if m not in history]
    if missing:
        raise ValueError(f"history_ has no {missing}; it has {sorted(history)}.")
    figure, axes = _subplots(len(metrics), axes, size=4.0)
    for ax, metric in zip(axes, metrics):
        epochs = np.arange(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        ax.set(title=metric, xlabel="epoch")
        ax.legend()
    return figure


def plot_sample_grid(images, y, *, per_class=4, random_state=None, axes=None):
    """A grid of sample X-rays: one row per class.

    Parameters
    ----------
    images : sequence of ndarray or of paths
        Images in any shape :class:`~sklearn_pneumo.GrayscaleResize` takes,
        or image files to decode.
    y : array-like of shape (n_samples,)
        Class of each image.
    per_class : int, default=4
        Images drawn per class (fewer if a class has fewer).
    random_state : int, RandomState or None, default=None
        Which images are drawn.
    axes : array of matplotlib Axes or None, default=None
        ``n_classes * per_class`` axes, row by row.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_pneumo.datasets import load_chest_xray_sample
    >>> from sklearn_pneumo.plot import plot_sample_grid
    >>> paths, y = load_chest_xray_sample()
    >>> len(plot_sample_grid(paths, y, per_class=2, random_state=0).axes)
    4
    """
    y = np.asarray(y)
    if len(y) != len(images):
        raise ValueError(f"Got {len(images)} images but {len(y)} labels.")
    rng = np.random.default_rng(random_state)
    classes = np.unique(y)
    names = class_display_names(classes)
    figure, axes = _subplots(len(classes) * per_class, axes, ncols=per_class)
    for row, (label, name) in enumerate(zip(classes, names)):
        members = np.flatnonzero(y == label)
        chosen = rng.choice(members, min(per_class, members.size), replace=False)
        pictures = _gray_images([images[i] for i in chosen])
        for column in range(per_class):
            ax = axes[row * per_class + column]
            ax.set_axis_off()
            if column < len(pictures):
                ax.imshow(pictures[column], cmap="gray", vmin=0, vmax=1)
                ax.set_title(name)
    return figure


def plot_intensity_histogram(image, *, bins=64, axes=None):
    """One X-ray beside the histogram of its pixel intensities.

    Parameters
    ----------
    image : ndarray or path
        One image, or one image file to decode.
    bins : int, default=64
    axes : pair of matplotlib Axes or None, default=None

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_pneumo.datasets import load_chest_xray_sample
    >>> from sklearn_pneumo.plot import plot_intensity_histogram
    >>> paths, _ = load_chest_xray_sample()
    >>> plot_intensity_histogram(paths[0]).axes[1].get_xlabel()
    'intensity'
    """
    (gray,) = _gray_images([image])
    figure, (image_ax, hist_ax) = _subplots(2, axes, size=4.0)
    image_ax.imshow(gray, cmap="gray", vmin=0, vmax=1)
    image_ax.set_axis_off()
    hist_ax.hist(gray.ravel(), bins=bins, range=(0, 1), color="0.3")
    hist_ax.set(xlabel="intensity", ylabel="pixels", xlim=(0, 1))
    return figure


def plot_class_counts(y, *, ax=None):
    """Bar chart of images per class, labelled with the counts.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    ax : matplotlib Axes or None, default=None

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_pneumo.plot import plot_class_counts
    >>> figure = plot_class_counts(["NORMAL", "PNEUMONIA", "PNEUMONIA"])
    >>> [int(bar.get_height()) for bar in figure.axes[0].patches]
    [1, 2]
    """
    classes, counts = np.unique(np.asarray(y), return_counts=True)
    figure, (ax,) = _subplots(1, ax, size=4.0)
    bars = ax.bar(
        class_display_names(classes),
        counts,
        color=[f"C{i}" for i in (0, 3, 2, 1, 4)][: len(classes)]
        if len(classes) <= 5
        else None,
    )
    ax.bar_label(bars)
    ax.set(ylabel="images")
    return figure


def plot_gradcam(
    estimator,
    X,
    *,
    target=None,
    class_names=None,
    alpha=0.4,
    cmap="jet",
    ncols=4,
    axes=None,
):
    """Grad-CAM heatmaps drawn over the X-rays the network saw.

    Each panel shows the preprocessed image (what the network received) in
    gray, the heatmap of :func:`~sklearn_pneumo.gradcam_heatmaps` over it,
    and the predicted class with its probability as title
    (``PNEUMONIA 0.82``).

    Parameters
    ----------
    estimator : CNNClassifier or Pipeline ending in one
        Fitted.
    X : array-like
        Input of ``estimator.predict`` (paths for a pipeline that loads).
    target : class label or None, default=None
        Class explained; ``None``: each image's predicted class.
    class_names : sequence of str or None, default=None
        Name shown for each of ``classes_``, in order. ``None``: the labels
        themselves (names when the model was fitted on names, e.g. from
        ``load_image_folder(..., labels="name")``), and "NORMAL" /
        "PNEUMONIA" for the labels 0 / 1.
    alpha : float, default=0.4
        Opacity of the heatmap.
    cmap : str, default="jet"
    ncols : int, default=4
    axes : array of matplotlib Axes or None, default=None

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_pneumo import CNNClassifier
    >>> from sklearn_pneumo.plot import plot_gradcam
    >>> X = np.random.default_rng(0).random((20, 64), dtype=np.float32)
    >>> clf = CNNClassifier(epochs=1, model__filters=4, random_state=0)
    >>> figure = plot_gradcam(clf.fit(X, np.repeat([0, 1], 10)), X[:2])
    >>> all(ax.get_title().split()[0] in ("NORMAL", "PNEUMONIA") for ax in figure.axes)
    True
    """
    from ._gradcam import gradcam_heatmaps
    from ._steps import transform_for_prediction
    from ._walk import final_step, scoring_model

    heatmaps = gradcam_heatmaps(estimator, X, target=target)
    rows = transform_for_prediction(scoring_model(estimator), X)
    classifier = final_step(estimator)
    proba = classifier.predict_proba(rows)
    images = np.asarray(rows, dtype=np.float32).reshape(heatmaps.shape)
    names = class_display_names(classifier.classes_, class_names)
    figure, axes = _subplots(len(images), axes, ncols=ncols)
    for ax, image, heatmap, p in zip(axes, images, heatmaps, proba):
        ax.imshow(image, cmap="gray")
        ax.imshow(heatmap, cmap=cmap, alpha=alpha, vmin=0, vmax=1)
        best = int(np.argmax(p))
        ax.set_title(f"{names[best]} {p[best]:.2f}")
        ax.set_axis_off()
    return figure
