"""The whole chain, from image files to the CNN, as one imbalanced-learn Pipeline."""

import keras
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler

from ._classifier import CNNClassifier
from ._grayscale import GrayscaleResize
from ._loader import ImageLoader


def _make_sampler(sampler, random_state):
    if sampler == "over":
        return RandomOverSampler(random_state=random_state)
    if sampler == "under":
        return RandomUnderSampler(random_state=random_state)
    if sampler is None:
        return "passthrough"
    if hasattr(sampler, "fit_resample"):
        return sampler
    raise ValueError(
        f"sampler must be 'over', 'under', None or an imbalanced-learn sampler, "
        f"got {sampler!r}."
    )


def preset_settings(preset):
    """Sampler and classifier settings of a preset of :func:`make_pneumo_pipeline`.

    ``"paper"``: the thesis' settings (random over-sampling, 20 epochs, the
    plain network). ``"tuned"``: class weights instead of resampling, batch
    normalisation, dropout 0.3, training-time augmentation (rotation +/-11
    degrees, 5 % shifts, 10 % zoom and contrast; no flips), up to 40 epochs
    with early stopping on a stratified 10 % hold-out of the training data
    (best weights restored) and the learning rate halved on plateaus.

    Returns
    -------
    sampler : str or None
    classifier_params : dict
        Fresh callback objects on every call.

    Examples
    --------
    >>> sampler, params = preset_settings("tuned")
    >>> sampler, params["class_weight"], params["model__batch_norm"]
    (None, 'balanced', True)
    """
    if preset == "paper":
        return "over", {}
    if preset != "tuned":
        raise ValueError(f"preset must be 'paper' or 'tuned', got {preset!r}.")
    return None, {
        "epochs": 40,
        "class_weight": "balanced",
        "validation_split": 0.1,
        "callbacks": [
            keras.callbacks.EarlyStopping(patience=8, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=3),
        ],
        "model__batch_norm": True,
        "model__dropout": 0.3,
        "model__rotation": 0.03,
        "model__shift": 0.05,
        "model__zoom": 0.1,
        "model__contrast": 0.1,
    }


def make_pneumo_pipeline(
    image_size=(150, 150),
    sampler="auto",
    *,
    preset="paper",
    input="paths",
    memory=None,
    n_jobs=None,
    progress=False,
    random_state=None,
    **classifier_params,
):
    """Build the paper's pipeline: load, gray and resize, rebalance, classify.

    Steps, by name: ``load`` (:class:`ImageLoader`), ``resize``
    (:class:`GrayscaleResize`), ``sample`` (a random over- or under-sampler,
    applied only while fitting) and ``cnn`` (:class:`CNNClassifier`). The image
    size is given once and reaches every step. Every parameter can be
    grid-searched with the step prefix: ``cnn__epochs``,
    ``cnn__model__filters``, ``sample`` itself...

    Parameters
    ----------
    image_size : tuple of (int, int), default=(150, 150)
        ``(height, width)`` the images are resized to.
    sampler : {"auto", "over", "under"}, imblearn sampler or None, default="auto"
        Balances the classes of the training set: ``RandomOverSampler``,
        ``RandomUnderSampler``, any sampler with ``fit_resample``, or no
        resampling. "auto" takes the preset's: "over" for "paper", None
        (class weights instead) for "tuned".
    preset : {"paper", "tuned"}, default="paper"
        Starting settings, see :func:`preset_settings`. ``classifier_params``
        override them.
    input : {"paths", "images"}, default="paths"
        What ``X`` holds: image file paths (decoded by the ``load`` step), or
        already decoded images (the ``load`` step is ``"passthrough"``).
    memory : str, joblib.Memory or None, default=None
        Cache of the fitted transformers (scikit-learn's pipeline caching): a
        grid search then decodes and resizes each training fold once, not once
        per candidate.
    n_jobs : int or None, default=None
        Threads that decode and resize images.
    progress : bool, default=False
        Show a progress bar while decoding.
    random_state : int or None, default=None
        Seeds the sampler and the network.
    **classifier_params
        Passed to :class:`CNNClassifier` (``epochs``, ``batch_size``,
        ``model__filters``, ``callbacks``...).

    Returns
    -------
    imblearn.pipeline.Pipeline

    Examples
    --------
    >>> from sklearn_pneumo import make_pneumo_pipeline
    >>> pipe = make_pneumo_pipeline(image_size=(64, 64), epochs=5)
    >>> list(pipe.named_steps)
    ['load', 'resize', 'sample', 'cnn']
    >>> pipe.get_params()["cnn__image_size"]
    (64, 64)
    """
    image_size = tuple(image_size)
    preset_sampler, preset_params = preset_settings(preset)
    sampler = preset_sampler if sampler == "auto" else sampler
    classifier_params = {**preset_params, **classifier_params}
    if input not in ("paths", "images"):
        raise ValueError(f"input must be 'paths' or 'images', got {input!r}.")
    loader = (
        ImageLoader(decode_size=image_size, n_jobs=n_jobs, progress=progress)
        if input == "paths"
        else "passthrough"
    )
    return Pipeline(
        [
            ("load", loader),
            ("resize", GrayscaleResize(size=image_size, n_jobs=n_jobs)),
            ("sample", _make_sampler(sampler, random_state)),
            (
                "cnn",
                CNNClassifier(
                    image_size=image_size,
                    random_state=random_state,
                    **classifier_params,
                ),
            ),
        ],
        memory=memory,
    )
