"""Save and load fitted models in a format that runs no code when loaded."""

import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np
import skops.io as sio
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from scikeras.utils.transformers import ClassifierLabelEncoder, TargetReshaper
from sklearn.base import BaseEstimator
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.metrics._scorer import _MultimetricScorer, _PassthroughScorer, _Scorer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils import Bunch

from ._classifier import CNNClassifier, rows_to_images
from ._grayscale import GrayscaleResize
from ._loader import ImageLoader
from ._network import build_cnn

FORMAT = "sklearn_pneumo.model"
VERSION = 1
_MANIFEST = "manifest.json"
_ESTIMATOR = "estimator.skops"


def _qualified_name(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


#: Types a model of this package holds that skops does not trust by itself:
#: the pipeline's own, what a fitted GridSearchCV keeps (splitter, scorer), and
#: the Bunch of an ensemble's named members.
TRUSTED_TYPES = sorted(
    _qualified_name(obj)
    for obj in (
        CNNClassifier,
        GrayscaleResize,
        ImageLoader,
        Pipeline,
        RandomOverSampler,
        RandomUnderSampler,
        ClassifierLabelEncoder,
        TargetReshaper,
        build_cnn,
        rows_to_images,
        np.dtype,
        KFold,
        StratifiedKFold,
        _PassthroughScorer,
        _Scorer,
        _MultimetricScorer,
        Bunch,
    )
) + sorted(
    # The metric functions behind scikit-learn's named scorers ("roc_auc"...).
    {
        _qualified_name(get_scorer(name)._score_func)
        for name in get_scorer_names()
        if hasattr(get_scorer(name), "_score_func")
    }
)


def _find_networks(obj, path=()):
    """Yield (path, CNNClassifier) for every fitted network inside ``obj``."""
    if isinstance(obj, CNNClassifier) and "model_" in vars(obj):
        yield path, obj
    elif isinstance(obj, BaseEstimator):
        for name, value in vars(obj).items():
            yield from _find_networks(value, (*path, name))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _find_networks(value, (*path, i))


def _detach(cnn):
    """Take the network and the callbacks out of a classifier, for skops."""
    state = {
        name: vars(cnn).pop(name)
        for name in ("model_", "callbacks", "_fit_callbacks", "_predict_callbacks")
        if name in vars(cnn)
    }
    cnn.callbacks = None
    return state


def _resolve(obj, path):
    for step in path:
        obj = obj[step] if isinstance(step, int) else vars(obj)[step]
    return obj


def save_model(model, path):
    """Save a fitted model to one file that :func:`load_model` reads safely.

    The scikit-learn and imbalanced-learn parts are stored with skops, each
    Keras network in Keras' ``.keras`` format, all in one zip archive. Unlike
    pickle or joblib, loading it runs no code from the file. Keras callbacks
    are code, so they are left out, with a warning: the loaded model has
    ``callbacks=None``.

    Parameters
    ----------
    model : estimator
        A fitted :class:`CNNClassifier`, a pipeline holding one (as from
        :func:`make_pneumo_pipeline`, with any sampler and image size), or a
        fitted search such as ``GridSearchCV`` or its ``best_estimator_``.
    path : str or os.PathLike
        The file to write.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sklearn_pneumo import CNNClassifier, save_model, load_model
    >>> X = np.random.default_rng(0).random((20, 64), dtype=np.float32)
    >>> clf = CNNClassifier(epochs=1, model__filters=2).fit(X, [0, 1] * 10)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pneumo")
    >>> save_model(clf, path)
    >>> np.array_equal(load_model(path).predict_proba(X), clf.predict_proba(X))
    True
    """
    networks = list(_find_networks(model))
    if not networks:
        raise ValueError("The model holds no fitted CNNClassifier; fit it first.")
    if any(cnn.callbacks for _, cnn in networks):
        warnings.warn(
            "Keras callbacks are not saved (they are code); the loaded model "
            "predicts identically and has callbacks=None.",
            UserWarning,
            stacklevel=2,
        )
    detached = [_detach(cnn) for _, cnn in networks]
    try:
        estimator_bytes = sio.dumps(model)
    finally:
        for (_, cnn), state in zip(networks, detached):
            vars(cnn).update(state)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "networks": [list(network_path) for network_path, _ in networks],
    }
    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_MANIFEST, json.dumps(manifest))
            archive.writestr(_ESTIMATOR, estimator_bytes)
            for i, state in enumerate(detached):
                network_file = Path(folder) / f"network_{i}.keras"
                state["model_"].save(network_file)
                archive.write(network_file, network_file.name)


def _refuse(path, reason):
    return ValueError(f"{path} is not a loadable sklearn_pneumo model: {reason}")


def _read_manifest(archive, path):
    try:
        manifest = json.loads(archive.read(_MANIFEST))
    except (KeyError, ValueError) as error:
        raise _refuse(path, f"missing or invalid {_MANIFEST} ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(path, "unknown format")
    if manifest.get("version") != VERSION:
        raise _refuse(path, f"format version {manifest.get('version')!r} unsupported")
    expected = {_MANIFEST, _ESTIMATOR} | {
        f"network_{i}.keras" for i in range(len(manifest["networks"]))
    }
    if set(archive.namelist()) != expected:
        unexpected = sorted(set(archive.namelist()) ^ expected)
        raise _refuse(path, f"unexpected or missing members {unexpected}")
    return manifest


def _load_estimator(data, trusted, path):
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as error:  # skops raises many types on malformed input
        raise _refuse(path, f"{_ESTIMATOR} is not a skops file ({error})") from None
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES) - set(trusted or ()))
    if refused:
        raise _refuse(
            path,
            f"it holds types that are not trusted: {refused}. Pass "
            "trusted=[...] with those you have checked.",
        )
    return sio.loads(data, trusted=untrusted)


def _load_network(archive, index, folder, safe_mode, path):
    name = f"network_{index}.keras"
    network_file = Path(archive.extract(name, folder))
    try:
        return keras.saving.load_model(network_file, safe_mode=safe_mode)
    except Exception as error:  # Keras raises many types on malformed input
        hint = (
            " It holds code (a Lambda layer): pass safe_mode=False only for a "
            "file you trust."
            if "safe_mode" in str(error)
            else ""
        )
        raise _refuse(
            path, f"{name} cannot be loaded safely ({error}).{hint}"
        ) from None


def load_model(path, *, trusted=None, safe_mode=True):
    """Load a model written by :func:`save_model`, running no code from the file.

    Parameters
    ----------
    path : str or os.PathLike
    trusted : list of str or None, default=None
        Extra fully qualified type names to accept, for models holding types
        beyond this package's pipeline (for example another imblearn
        sampler). Everything else unknown is refused.
    safe_mode : bool, default=True
        Keras' safe mode: refuse networks that hold code (``Lambda`` layers).
        Set False only for files you trust.

    Returns
    -------
    estimator

    Raises
    ------
    ValueError
        If the file is not such a model, holds untrusted types or, in safe
        mode, code.
    """
    if not zipfile.is_zipfile(path):
        raise _refuse(path, "not a zip archive (a pickle or joblib file?)")
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as folder:
        manifest = _read_manifest(archive, path)
        model = _load_estimator(archive.read(_ESTIMATOR), trusted, path)
        for i, network_path in enumerate(manifest["networks"]):
            try:
                cnn = _resolve(model, network_path)
            except (KeyError, IndexError, TypeError):
                cnn = None
            if not isinstance(cnn, CNNClassifier):
                raise _refuse(path, f"no CNNClassifier at {network_path}")
            cnn.model_ = _load_network(archive, i, folder, safe_mode, path)
            cnn._fit_callbacks, cnn._predict_callbacks = [], []
    return model
