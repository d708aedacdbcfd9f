"""What the network saw and where it looked, for any model this package scores.

:func:`network_views` reads image files as a model's networks read them and
explains one class per file with a Grad-CAM heatmap: in TensorFlow for a
Keras model, in ONNX Runtime for an archive. It sees through the wrappers a
fitted model may sit in (a search, scikit-learn's calibration and threshold
wrappers, :class:`PriorShiftAdapter`), which change the answers, not the
networks; a :class:`TwoStageClassifier` explains ``normal`` with its
pneumonia model and a type of pneumonia with its type model.
"""

import numpy as np

from ._steps import prediction_steps, transform_naming_failures
from ._walk import final_step, scoring_model
from ._wrapped import inner_model


def _unwrapped(model):
    """The model that holds the networks of ``model``'s answers."""
    while True:
        model = scoring_model(model)
        inner = inner_model(model)
        if inner is None:
            return model
        model = inner


def _rows(model, paths):
    """``paths`` read and preprocessed as ``model``'s networks take them."""
    if hasattr(model, "networks"):  # an OnnxScorer
        return model._rows(paths)[0]
    steps = prediction_steps(model) if hasattr(model, "steps") else []
    return transform_naming_failures(steps, paths)


def has_heatmaps(model):
    """Whether :func:`network_views` gives heatmaps for ``model``, and if not, why.

    Returns
    -------
    (bool, str)
        The reason is empty when it does.
    """
    model = _unwrapped(model)
    if hasattr(model, "pneumonia_"):
        stages = [_unwrapped(model.pneumonia_), _unwrapped(model.pneumonia_type_)]
        answers = [has_heatmaps(stage) for stage in stages]
        return all(ok for ok, _ in answers), "; ".join(r for _, r in answers if r)
    if hasattr(model, "networks"):
        if hasattr(model, "heatmaps"):
            return True, ""
        return False, (
            "this ONNX archive holds no heatmap output (export the model again "
            "with this version's export_onnx)"
        )
    from ._walk import fitted_networks

    if fitted_networks(final_step(model)):
        return True, ""
    return False, f"{type(model).__name__} holds no network of this package"


def network_views(model, paths, labels=None, *, heatmaps=True):
    """The images ``model``'s networks see for ``paths``, and their heatmaps.

    Parameters
    ----------
    model : fitted model of this package
        One that takes image paths.
    paths : list of str
        Readable image files (an unreadable one raises
        :class:`ImageLoadError` naming it).
    labels : array-like of class labels, optional
        The class each heatmap explains, one per path, among
        ``model.classes_``; None explains each file's predicted class.
    heatmaps : bool, default=True
        Compute them; otherwise ``None`` is returned in their place.

    Returns
    -------
    images : ndarray of shape (n, height, width), float32
        In [0, 1], as the (first) network takes them.
    heatmaps : ndarray of shape (n, height, width), float32, or None
        Grad-CAM, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pneumo import make_pneumo_pipeline
    >>> from sklearn_pneumo._explain import network_views
    >>> X = np.random.default_rng(0).random((20, 16, 16), dtype=np.float32)
    >>> pipe = make_pneumo_pipeline((16, 16), input="images", epochs=1,
    ...                             model__filters=2, random_state=0)
    >>> images, maps = network_views(pipe.fit(X, [0, 1] * 10), X[:3])
    >>> images.shape, maps.shape
    ((3, 16, 16), (3, 16, 16))
    """
    model = _unwrapped(model)
    if labels is None and heatmaps:
        labels = model.predict(paths)
    if hasattr(model, "pneumonia_"):
        return _two_stage_views(model, paths, labels, heatmaps)
    rows = _rows(model, paths)
    size = _image_size(model)
    images = np.asarray(rows, dtype=np.float32).reshape(-1, *size)
    if not heatmaps:
        return images, None
    labels = np.asarray(labels, dtype=object)
    if hasattr(model, "networks"):
        return images, model._heatmaps_of_rows(rows, labels)
    from ._gradcam import gradcam_heatmaps

    return images, gradcam_heatmaps(final_step(model), rows, target=labels)


def _image_size(model):
    if hasattr(model, "networks"):
        return model.networks[0].image_size
    from ._walk import fitted_networks

    return fitted_networks(final_step(model))[0].image_size_


def _two_stage_views(model, paths, labels, heatmaps):
    """Normal explained by the pneumonia model, the types by the type model."""
    pneumonia = _unwrapped(model.pneumonia_)
    images, _ = network_views(pneumonia, paths, heatmaps=False)
    if not heatmaps:
        return images, None
    labels = np.asarray(labels, dtype=object)
    normal = labels == model.normal_class
    maps = np.zeros(images.shape, dtype=np.float32)
    if normal.any():
        chosen = [p for p, n in zip(paths, normal) if n]
        target = pneumonia.classes_[model.normal_column_]
        maps[normal] = network_views(
            pneumonia, chosen, [target] * len(chosen), heatmaps=True
        )[1]
    if (~normal).any():
        chosen = [p for p, n in zip(paths, normal) if not n]
        maps[~normal] = network_views(
            model.pneumonia_type_, chosen, labels[~normal], heatmaps=True
        )[1]
    return images, maps
