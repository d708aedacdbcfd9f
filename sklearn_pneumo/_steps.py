"""Which steps of a pipeline run at prediction: every one but samplers."""

from ._loader import ImageLoadError


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


def transform_naming_failures(steps, chunk):
    """``chunk`` through ``steps``; an :class:`ImageLoadError` names what failed.

    A step after the loader that refuses one decoded file (a ``ValueError``)
    is retried file by file, so that the error names the file.
    """
    try:
        for step in steps:
            chunk = step.transform(chunk)
        return chunk
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
