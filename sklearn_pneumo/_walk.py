"""Finding the networks inside a model: the one walker every module uses."""

from sklearn.base import BaseEstimator


def scoring_model(model):
    """What predicts for ``model``: a fitted search's ``best_estimator_``, else it.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> model = LogisticRegression()
    >>> scoring_model(model) is model
    True
    """
    return getattr(model, "best_estimator_", model)


def final_step(model):
    """The last step of ``scoring_model(model)`` (the model itself if no pipeline).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> type(final_step(make_pipeline(StandardScaler(), LogisticRegression())))
    <class 'sklearn.linear_model._logistic.LogisticRegression'>
    """
    model = scoring_model(model)
    steps = getattr(model, "steps", None)
    # (name, step) pairs; an OnnxScorer's steps are its preprocessing alone
    return steps[-1][1] if steps and isinstance(steps[-1], tuple) else model


def walk_objects(obj, path=()):
    """Yield ``(path, object)`` for ``obj`` and everything held inside it.

    Follows the attributes of estimators and of this package's own objects
    (an ONNX archive's networks), and the items of lists and tuples, fitted
    or not (an ensemble's ``estimators`` holds unfitted templates of its
    fitted ``estimators_``); ``path`` names the attributes and indices that
    lead there. Only those estimators and objects are yielded, not the
    lists or the values inside them. One reachable twice is yielded twice.
    """
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from walk_objects(value, (*path, i))
    elif isinstance(obj, BaseEstimator) or type(obj).__module__.startswith(
        f"{__package__}."
    ):
        yield path, obj
        for name, value in vars(obj).items():
            yield from walk_objects(value, (*path, name))


def walk_classifiers(obj):
    """Yield ``(path, CNNClassifier)`` for every classifier held inside ``obj``.

    As :func:`walk_objects` finds them, fitted or not.
    """
    from ._classifier import CNNClassifier

    for path, found in walk_objects(obj):
        if isinstance(found, CNNClassifier):
            yield path, found


def fitted_networks(model):
    """The fitted :class:`CNNClassifier` objects that predict for ``model``.

    A fitted classifier itself, the final step of a pipeline, the members of
    an ensemble (:func:`make_pneumo_ensemble`), or those of a fitted search's
    ``best_estimator_``: each once, in order. Unfitted templates (an
    ensemble's ``estimators``, a search's ``estimator``) are left out.

    Parameters
    ----------
    model : estimator
        Any model of this package, or one holding them.

    Returns
    -------
    list of CNNClassifier

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pneumo import make_pneumo_ensemble, fitted_networks
    >>> X = np.random.default_rng(0).random((20, 8, 8), dtype=np.float32)
    >>> pipe = make_pneumo_ensemble(
    ...     2, (8, 8), input="images", epochs=1, model__filters=2, random_state=0
    ... )
    >>> len(fitted_networks(pipe))
    0
    >>> [cnn.image_size_ for cnn in fitted_networks(pipe.fit(X, [0, 1] * 10))]
    [(8, 8), (8, 8)]
    """
    networks = {}
    for _, classifier in walk_classifiers(model):
        if classifier.__sklearn_is_fitted__():
            networks.setdefault(id(classifier), classifier)
    return list(networks.values())
