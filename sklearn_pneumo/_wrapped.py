"""A model of this package inside scikit-learn's calibration and threshold wrappers.

``CalibratedClassifierCV``, ``FixedThresholdClassifier`` and
``TunedThresholdClassifierCV`` around a fitted model (frozen with
``FrozenEstimator``, as ``sklearn-pneumo calibrate`` makes them) change its
probabilities or its decisions, not what it knows of its inputs: its
typicality, outlier flags, uncertainty and trimmed borders still hold.
:func:`wrapped_assess` gives them with the wrapper's answers, so that a
calibrated or threshold-tuned model is still a model of this package.
"""

from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV


def wrapped_model(model):
    """The fitted model one wrapper holds, or None for any other model."""
    if isinstance(model, CalibratedClassifierCV):
        held = getattr(model, "calibrated_classifiers_", [])
        inner = held[0].estimator if len(held) == 1 else None  # frozen: one
    elif isinstance(model, (FixedThresholdClassifier, TunedThresholdClassifierCV)):
        inner = getattr(model, "estimator_", None)
    else:
        return None
    return inner.estimator if isinstance(inner, FrozenEstimator) else inner


def inner_model(model):
    """The fitted model whose networks answer inside ``model``, one wrapper down.

    A :class:`PriorShiftAdapter`'s model (out of its ``FrozenEstimator``),
    or the model a scikit-learn wrapper holds (:func:`wrapped_model`); None
    for any other model.
    """
    from ._prior_shift import PriorShiftAdapter

    if isinstance(model, PriorShiftAdapter):
        return model._model()
    return wrapped_model(model)


def assessing_model(model):
    """What gives ``model``'s flags: itself, the model inside its wrappers, or None.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> assessing_model(LogisticRegression()) is None
    True
    """
    while model is not None and not hasattr(model, "assess"):
        model = wrapped_model(model)
    return model


def wrapped_assess(model):
    """``assess`` for ``model``: its own, or its inner model's with its answers.

    For a wrapper, the returned function runs the inner model's ``assess``
    and the wrapper's ``predict_proba`` (two passes of the network; three
    with a threshold wrapper, whose ``predict`` also gives ``prediction``).
    None if no model inside has ``assess``.
    """
    inner = assessing_model(model)
    if inner is None:
        return None
    if inner is model:
        return model.assess
    thresholds = isinstance(
        model, (FixedThresholdClassifier, TunedThresholdClassifierCV)
    )

    def assess(X):
        assessed = inner.assess(X)
        assessed["proba"] = model.predict_proba(X)
        if thresholds:
            assessed["prediction"] = model.predict(X)
        return assessed

    return assess
