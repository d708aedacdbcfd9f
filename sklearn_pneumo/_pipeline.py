"""The whole chain, from image files to the CNN, as one imbalanced-learn Pipeline."""

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


def make_pneumo_pipeline(
    image_size=(150, 150),
    sampler="over",
    *,
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
    sampler : {"over", "under"}, imblearn sampler or None, default="over"
        Balances the classes of the training set: ``RandomOverSampler``,
        ``RandomUnderSampler``, any sampler with ``fit_resample``, or no
        resampling.
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
