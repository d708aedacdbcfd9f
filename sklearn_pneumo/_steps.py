"""Which steps of a pipeline run at prediction: every one but samplers."""

from concurrent.futures import ThreadPoolExecutor
from functools import partial

from tqdm.auto import tqdm

from ._grayscale import GrayscaleResize
from ._loader import ImageLoader, ImageLoadError, apply_to_readable, check_paths
from ._upstream import validate_estimator_params


def prediction_steps(pipeline):
    """The steps before the final one that transform at prediction time.

    Samplers (steps with ``fit_resample``) act only in fit, and ``None`` or
    ``"passthrough"`` do nothing, as in imbalanced-learn's ``Pipeline``.
    Works on scikit-learn and imbalanced-learn pipelines; anything without
    ``steps`` has none.

    Examples
    --------
    >>> from imblearn.over_sampling import RandomOverSampler
    >>> from imblearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> pipe = make_pipeline(
    ...     StandardScaler(), RandomOverSampler(), LogisticRegression()
    ... )
    >>> [type(step).__name__ for step in prediction_steps(pipe)]
    ['StandardScaler']
    """
    return [
        step
        for _, step in getattr(pipeline, "steps", [(None, None)])[:-1]
        if step is not None
        and not (isinstance(step, str) and step == "passthrough")
        and not hasattr(step, "fit_resample")
    ]


def transform_for_prediction(pipeline, X):
    """``X`` through :func:`prediction_steps`, ready for the final step.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> pipe = make_pipeline(FunctionTransformer(np.negative), LogisticRegression())
    >>> transform_for_prediction(pipe, np.ones((1, 2)))
    array([[-1., -1.]])
    """
    for step in prediction_steps(pipeline):
        X = step.transform(X)
    return X


def trims_borders(steps):
    """Whether one of ``steps`` is a :class:`GrayscaleResize` that trims borders.

    ``steps`` are estimators or ``(name, estimator)`` pairs. Such a model's
    ``assess`` reports ``border_trimmed``.

    Examples
    --------
    >>> from sklearn_pneumo import GrayscaleResize
    >>> trims_borders([("resize", GrayscaleResize(border="trim"))])
    True
    """
    steps = [step[1] if isinstance(step, tuple) else step for step in steps]
    return any(isinstance(s, GrayscaleResize) and s.border == "trim" for s in steps)


def _validate_parameters(steps):
    """Validate each step's parameters: a broken step raises as itself."""
    for step in steps:
        if hasattr(step, "_parameter_constraints"):
            validate_estimator_params(step)


def transform_naming_failures(steps, chunk, *, borders=False):
    """``chunk`` through ``steps``; an :class:`ImageLoadError` names what failed.

    A step after the loader that refuses one decoded file (a ``ValueError``)
    is retried file by file, so that the error names the file. With
    ``borders``, returns ``(rows, trimmed)``: ``trimmed`` is the
    :meth:`GrayscaleResize.border_trimmed` of the images a border-trimming
    step saw (None without one). The steps' parameters are validated first:
    a broken step raises once, as itself, and is never blamed on a file.
    """
    _validate_parameters(steps)
    try:
        data, trimmed = chunk, None
        for step in steps:
            if borders and trims_borders([step]):
                data, trimmed = step._rows_and_border_trimmed(data)
            else:
                data = step.transform(data)
        return (data, trimmed) if borders else data
    except ImageLoadError:
        raise
    except ValueError as error:
        if not all(isinstance(path, str) for path in chunk):
            raise
        if len(chunk) == 1:
            raise ImageLoadError(
                [(chunk[0], f"{type(error).__name__}: {error}")]
            ) from error
        failures = []
        for path in chunk:
            try:
                transform_naming_failures(steps, [path])
            except ImageLoadError as one:
                failures += one.failures
        if not failures:
            raise
        raise ImageLoadError(failures) from error


def transform_readable(steps, chunk, *, borders=False):
    """``(prepared, failures)``: the usable inputs of ``chunk`` through ``steps``.

    As :func:`~sklearn_pneumo._loader.apply_to_readable` of
    :func:`transform_naming_failures`, but a first :class:`ImageLoader`
    step decodes each file once: the files it can read go on to the other
    steps without being decoded again. ``prepared`` is None when no input
    can be used; ``failures`` lists ``(path, reason)`` for each other input.

    Examples
    --------
    >>> from sklearn_pneumo import GrayscaleResize, ImageLoader
    >>> from sklearn_pneumo.datasets import load_chest_xray_sample
    >>> paths, _ = load_chest_xray_sample()
    >>> steps = [ImageLoader(), GrayscaleResize(size=(20, 20))]
    >>> rows, failures = transform_readable(steps, [paths[0], "missing.jpeg"])
    >>> rows.shape, failures
    ((1, 400), [('missing.jpeg', 'file not found')])
    """
    prepare = partial(transform_naming_failures, steps, borders=borders)
    if not steps or not isinstance(steps[0], ImageLoader):
        return apply_to_readable(prepare, chunk)
    _validate_parameters(steps)
    images, failures = steps[0]._readable(chunk)
    if not images:
        return None, failures
    try:
        return transform_naming_failures(steps[1:], images, borders=borders), failures
    except ValueError:
        # A later step refused a decoded image: decode again, to name its file.
        failing = {path for path, _ in failures}
        readable = [path for path in check_paths(chunk) if path not in failing]
        prepared, refused = apply_to_readable(prepare, readable)
        return prepared, failures + refused


def iter_overlapped(steps, score, chunks, *, borders, keep_going, progress=False):
    """Yield ``(chunk, result, failures)``, decoding the next chunk meanwhile.

    Each chunk goes through ``steps`` (:func:`transform_readable`) in a
    thread while ``score`` runs on the rows of the chunk before, so decoding
    hides behind the network. With ``borders``, ``score`` takes ``(rows,
    trimmed)``. With ``keep_going``, a chunk with failures is scored on its
    other inputs; otherwise nothing is scored after the first failure
    (``result`` is None), but every chunk is still read, to name every
    failing input. ``progress`` shows one bar over all chunks.
    """
    transform = partial(transform_readable, steps, borders=borders)
    failed = False
    with (
        ThreadPoolExecutor(max_workers=1) as executor,
        tqdm(
            total=sum(len(chunk) for chunk in chunks),
            desc="Decoding images",
            disable=not progress,
        ) as bar,
    ):
        ahead = executor.submit(transform, chunks[0]) if chunks else None
        for i, chunk in enumerate(chunks):
            rows, failures = ahead.result()
            if i + 1 < len(chunks):
                ahead = executor.submit(transform, chunks[i + 1])
            bar.update(len(chunk))
            failed = failed or bool(failures)
            scored = rows is not None and (keep_going or not failed)
            yield chunk, score(rows) if scored else None, failures


def with_border_trimmed(assessed, trimmed):
    """``assessed`` (an ``assess`` Bunch) with ``border_trimmed`` where known."""
    if trimmed is not None:
        assessed["border_trimmed"] = trimmed
    return assessed
