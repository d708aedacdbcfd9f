"""Which steps of a pipeline run at prediction: every one but samplers."""

from ._grayscale import GrayscaleResize
from ._loader import ImageLoadError
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


def transform_naming_failures(steps, chunk, *, borders=False):
    """``chunk`` through ``steps``; an :class:`ImageLoadError` names what failed.

    A step after the loader that refuses one decoded file (a ``ValueError``)
    is retried file by file, so that the error names the file. With
    ``borders``, returns ``(rows, trimmed)``: ``trimmed`` is the
    :meth:`GrayscaleResize.border_trimmed` of the images a border-trimming
    step saw (None without one). The steps' parameters are validated first:
    a broken step raises once, as itself, and is never blamed on a file.
    """
    for step in steps:
        if hasattr(step, "_parameter_constraints"):
            validate_estimator_params(step)
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


def with_border_trimmed(assessed, trimmed):
    """``assessed`` (an ``assess`` Bunch) with ``border_trimmed`` where known."""
    if trimmed is not None:
        assessed["border_trimmed"] = trimmed
    return assessed
