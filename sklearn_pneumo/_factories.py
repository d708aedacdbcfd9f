"""The factories: the paper's pipeline, its presets, and the ensemble."""

from numbers import Integral

import keras
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler

from ._classifier import CNNClassifier
from ._ensemble import PneumoEnsemble
from ._grayscale import GrayscaleResize
from ._loader import ImageLoader
from ._pipeline import PneumoPipeline
from ._upstream import HasMethods, Interval, StrOptions, validate_params


def _make_sampler(sampler, random_state):
    if sampler == "over":
        return RandomOverSampler(random_state=random_state)
    if sampler == "under":
        return RandomUnderSampler(random_state=random_state)
    # Anything else is None or a sampler: the factories validate ``sampler``.
    return "passthrough" if sampler is None else sampler


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
        # build_cnn's default, here so that get_params and searches show it.
        "model__batch_norm_momentum": 0.9,
        "model__dropout": 0.3,
        "model__rotation": 0.03,
        "model__shift": 0.05,
        "model__zoom": 0.1,
        "model__contrast": 0.1,
    }


#: The arguments both factories share, as scikit-learn validates them.
_FACTORY_CONSTRAINTS = {
    "image_size": [tuple, list],
    "sampler": [
        StrOptions({"auto", "over", "under"}),
        HasMethods("fit_resample"),
        None,
    ],
    "preset": [StrOptions({"paper", "tuned"})],
    "input": [StrOptions({"paths", "images"})],
    "memory": [str, HasMethods("cache"), None],
    "n_jobs": [Integral, StrOptions({"auto"}), None],
    "progress": ["boolean"],
    "random_state": [Interval(Integral, 0, None, closed="left"), None],
}


@validate_params(_FACTORY_CONSTRAINTS, prefer_skip_nested_validation=True)
def make_pneumo_pipeline(
    image_size=(150, 150),
    sampler="auto",
    *,
    preset="paper",
    input="paths",
    memory=None,
    n_jobs="auto",
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
    n_jobs : int, None or "auto", default="auto"
        Threads that decode and resize images: ``"auto"`` uses every core
        from 16 images on (see :class:`ImageLoader`).
    progress : bool, default=False
        Show a progress bar while decoding.
    random_state : int or None, default=None
        Seeds the sampler and the network.
    **classifier_params
        Passed to :class:`CNNClassifier` (``epochs``, ``batch_size``,
        ``model__filters``, ``callbacks``...).

    Returns
    -------
    PneumoPipeline
        An imblearn ``Pipeline`` whose ``resize__size`` sets the image size
        of every step, also after construction and in a grid search.

    Examples
    --------
    >>> from sklearn_pneumo import make_pneumo_pipeline
    >>> pipe = make_pneumo_pipeline(image_size=(64, 64), epochs=5)
    >>> list(pipe.named_steps)
    ['load', 'resize', 'sample', 'cnn']
    >>> pipe.get_params()["resize__size"], pipe.get_params()["load__decode_size"]
    ((64, 64), (64, 64))
    """
    image_size = tuple(image_size)
    return PneumoPipeline(
        _preprocessing(image_size, input, n_jobs, progress)
        + _rebalance_and_classify(sampler, preset, random_state, classifier_params),
        memory=memory,
    )


def _preprocessing(image_size, input, n_jobs, progress):
    """The ``load`` and ``resize`` steps."""
    loader = (
        ImageLoader(decode_size=image_size, n_jobs=n_jobs, progress=progress)
        if input == "paths"
        else "passthrough"
    )
    return [
        ("load", loader),
        ("resize", GrayscaleResize(size=image_size, n_jobs=n_jobs)),
    ]


def _rebalance_and_classify(sampler, preset, random_state, params):
    """The ``sample`` and ``cnn`` steps, with the preset's settings under ``params``."""
    preset_sampler, preset_params = preset_settings(preset)
    sampler = preset_sampler if sampler == "auto" else sampler
    classifier = CNNClassifier(random_state=random_state, **{**preset_params, **params})
    return [("sample", _make_sampler(sampler, random_state)), ("cnn", classifier)]


@validate_params(
    {"n_members": [Interval(Integral, 1, None, closed="left")], **_FACTORY_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def make_pneumo_ensemble(
    n_members=3,
    image_size=(150, 150),
    sampler="auto",
    *,
    preset="tuned",
    input="paths",
    memory=None,
    n_jobs="auto",
    progress=False,
    random_state=None,
    **classifier_params,
):
    """Average several networks trained from different seeds.

    The images are decoded and resized once; then a scikit-learn
    ``VotingClassifier`` with soft voting averages the probabilities of
    ``n_members`` (sampler, network) pipelines that differ only in their seed.
    On PneumoniaMNIST, three members of the ``tuned`` preset give the best
    validation ROC AUC and calibration of the configurations measured (the docs'
    benchmarks page).

    Parameters
    ----------
    n_members : int, default=3
        Number of networks.
    image_size, sampler, input, memory, n_jobs, progress, **classifier_params
        As in :func:`make_pneumo_pipeline`; every member gets the same.
    preset : {"paper", "tuned"}, default="tuned"
        As in :func:`make_pneumo_pipeline`.
    random_state : int or None, default=None
        Member ``i`` is seeded with ``random_state + i``; ``None`` leaves every
        member unseeded (they still differ).

    Returns
    -------
    PneumoPipeline
        Steps ``load``, ``resize`` and ``ensemble``, whose members are named
        ``member_0``, ``member_1``... Grid-search them as
        ``ensemble__member_0__cnn__epochs``.

    Examples
    --------
    >>> from sklearn_pneumo import make_pneumo_ensemble
    >>> pipe = make_pneumo_ensemble(2, (28, 28), input="images", random_state=0)
    >>> [name for name, _ in pipe.named_steps["ensemble"].estimators]
    ['member_0', 'member_1']
    >>> pipe.get_params()["ensemble__member_1__cnn__random_state"]
    1
    """
    image_size = tuple(image_size)
    members = [
        (
            f"member_{i}",
            Pipeline(
                _rebalance_and_classify(
                    sampler,
                    preset,
                    None if random_state is None else random_state + i,
                    classifier_params,
                )
            ),
        )
        for i in range(n_members)
    ]
    return PneumoPipeline(
        _preprocessing(image_size, input, n_jobs, progress)
        + [("ensemble", PneumoEnsemble(members, voting="soft"))],
        memory=memory,
    )
