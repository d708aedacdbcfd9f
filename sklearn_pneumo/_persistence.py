"""Save and load fitted models in a format that runs no code when loaded."""

import hashlib
import io
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
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.model_selection import FixedThresholdClassifier, KFold, StratifiedKFold
from sklearn.utils import Bunch

from ._classifier import CNNClassifier, rows_to_images
from ._ensemble import PneumoEnsemble
from ._feature_gaussians import FeatureGaussians
from ._grayscale import GrayscaleResize
from ._loader import ImageLoader
from ._model_file import ModelFileError, check_image_size
from ._network import build_cnn
from ._onnx import holds_archives
from ._pipeline import PneumoPipeline
from ._prior_shift import PriorShiftAdapter
from ._two_stage import TwoStageClassifier
from ._upstream import (
    CALIBRATION_TYPES,
    SCIKERAS_CALLBACK_LISTS,
    SCORER_TYPES,
    score_function,
)
from ._version import __version__
from ._walk import walk_classifiers
from ._writing import atomic_write

FORMAT = "sklearn_pneumo.model"
#: Format written and read.
VERSION = 2
_MANIFEST = "manifest.json"
_ESTIMATOR = "estimator.skops"
#: Default bound on what a model file may inflate to, all members and the
#: archives inside them (skops, .keras) together. The paper's network is 4 MB.
MAX_SIZE = 1 << 30
#: Bound on the entries of any archive in a model file.
_MAX_MEMBERS = 10_000
#: Bound on the manifest, which is read before anything is checked.
_MAX_MANIFEST_SIZE = 1 << 20


def _qualified_name(obj):
    return f"{obj.__module__}.{obj.__qualname__}"


#: Types a model of this package holds that skops does not trust by itself:
#: the pipeline's own, what a fitted GridSearchCV keeps (splitter, scorer),
#: the Bunch of an ensemble's named members, and a model calibrated by
#: ``CalibratedClassifierCV(FrozenEstimator(model))`` (sigmoid or temperature).
TRUSTED_TYPES = sorted(
    _qualified_name(obj)
    for obj in (
        CNNClassifier,
        GrayscaleResize,
        ImageLoader,
        Pipeline,
        PneumoPipeline,
        PneumoEnsemble,
        PriorShiftAdapter,
        TwoStageClassifier,
        FeatureGaussians,
        RandomOverSampler,
        RandomUnderSampler,
        ClassifierLabelEncoder,
        TargetReshaper,
        build_cnn,
        rows_to_images,
        np.dtype,
        KFold,
        StratifiedKFold,
        *SCORER_TYPES,
        Bunch,
        CalibratedClassifierCV,
        FixedThresholdClassifier,
        FrozenEstimator,
        *CALIBRATION_TYPES,
    )
) + sorted(
    # The metric functions behind scikit-learn's named scorers ("roc_auc"...).
    {
        _qualified_name(score_function(get_scorer(name)))
        for name in get_scorer_names()
        if score_function(get_scorer(name)) is not None
    }
)


def _find_networks(obj):
    """Yield (path, CNNClassifier) for every fitted network inside ``obj``.

    A network reachable by several paths is yielded once, at the first.
    """
    seen = set()
    for path, cnn in walk_classifiers(obj):
        if "model_" in vars(cnn) and id(cnn) not in seen:
            seen.add(id(cnn))
            yield path, cnn


def _detach(cnn):
    """Take the network and the callbacks out of a classifier, for skops."""
    state = {
        name: vars(cnn).pop(name)
        for name in ("model_", "callbacks", *SCIKERAS_CALLBACK_LISTS)
        if name in vars(cnn)
    }
    cnn.callbacks = None
    return state


def _resolve(obj, path):
    for step in path:
        obj = obj[step] if isinstance(step, int) else vars(obj)[step]
    return obj


def _keras_major():
    return int(keras.__version__.split(".")[0])


def _without_optimizer(network):
    """An uncompiled copy of ``network`` with the same weights."""
    copy = keras.models.clone_model(network)
    copy.set_weights(network.get_weights())
    return copy


def save_model(model, path, *, optimizer=True):
    """Save a fitted model to one file that :func:`load_model` reads safely.

    The scikit-learn and imbalanced-learn parts are stored with skops, each
    Keras network in Keras' ``.keras`` format, all in one zip archive whose
    manifest holds a SHA-256 checksum of every member. Unlike pickle or
    joblib, loading it runs no code from the file. Keras callbacks are code,
    so they are left out, with a warning: the loaded model has
    ``callbacks=None``.

    Saving is atomic: the archive is written to a temporary file in the same
    folder, then renamed over ``path``. If saving fails (a network that
    cannot be saved, a full disk, an interrupt), a file already at ``path``
    is left intact and no temporary file remains.

    Parameters
    ----------
    model : estimator
        A fitted :class:`CNNClassifier`, a pipeline holding one (as from
        :func:`make_pneumo_pipeline`, with any sampler and image size), or a
        fitted search such as ``GridSearchCV`` or its ``best_estimator_``.
    path : str or os.PathLike
        The file to write.
    optimizer : bool, default=True
        Keep each network's optimizer state. ``False`` leaves it out (about
        60 % of the paper's network file, Adam's two moments per weight):
        the loaded model predicts the same; training it further
        (``warm_start``) starts its optimizer afresh.

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
    if not networks and holds_archives(model):
        raise ValueError(
            "save_model writes Keras networks, and this model scores ONNX "
            "archives: export_onnx writes an adapted archive, and the "
            "three-class answer's ONNX form (two archives composed) has no "
            "file of its own, so save its Keras form instead"
        )
    if not networks:
        raise ValueError("The model holds no fitted CNNClassifier; fit it first.")
    classifiers = list({id(cnn): cnn for _, cnn in walk_classifiers(model)}.values())
    if any(cnn.callbacks for cnn in classifiers):
        warnings.warn(
            "Keras callbacks are not saved (they are code); the loaded model "
            "predicts identically and has callbacks=None.",
            UserWarning,
            stacklevel=2,
        )
    detached = [_detach(cnn) for cnn in classifiers]
    try:
        members = {_ESTIMATOR: sio.dumps(model)}
    finally:
        for cnn, state in zip(classifiers, detached):
            vars(cnn).update(state)
    detached = [state for cnn, state in zip(classifiers, detached) if "model_" in state]
    with tempfile.TemporaryDirectory() as folder:
        for i, state in enumerate(detached):
            network_file = Path(folder) / f"network_{i}.keras"
            network = state["model_"]
            (network if optimizer else _without_optimizer(network)).save(network_file)
            members[network_file.name] = network_file.read_bytes()
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "keras_version": keras.__version__,
        "networks": [list(network_path) for network_path, _ in networks],
        "sha256": {
            name: hashlib.sha256(data).hexdigest() for name, data in members.items()
        },
    }
    with (
        atomic_write(path) as file,
        zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        archive.writestr(_MANIFEST, json.dumps(manifest))
        for name, data in members.items():
            archive.writestr(name, data)


def _refuse(path, reason):
    return ModelFileError(f"{path} is not a loadable sklearn_pneumo model: {reason}")


def _check_archive_size(archive, what, budget, path):
    """Refuse an archive whose entries declare more bytes than ``budget``.

    Reads only the central directory: zipfile never inflates a member beyond
    its declared size (a member that would is a CRC error).
    """
    members = archive.infolist()
    if len(members) > _MAX_MEMBERS:
        raise _refuse(
            path, f"{what} has {len(members)} entries (at most {_MAX_MEMBERS})"
        )
    total = sum(member.file_size for member in members)
    if total > budget:
        raise _refuse(
            path,
            f"{what} inflates to {total:,} bytes, over the limit of {budget:,} "
            "(a decompression bomb?). Pass a larger max_size= for a file you "
            "trust.",
        )
    return budget - total


def _is_path_step(step):
    return isinstance(step, str) or (
        isinstance(step, int) and not isinstance(step, bool) and step >= 0
    )


def _check_manifest(manifest, path):
    """Validate the manifest against its schema; return the names of its members."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(path, "unknown format")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _refuse(path, f"invalid format version {version!r}")
    if version != VERSION:
        raise _refuse(
            path,
            f"it is in format version {version}, and this sklearn-pneumo "
            f"({__version__}) reads version {VERSION}: load it with the "
            "sklearn-pneumo that saved it",
        )
    networks = manifest.get("networks")
    if not (
        isinstance(networks, list)
        and networks
        and all(
            isinstance(network, list) and all(map(_is_path_step, network))
            for network in networks
        )
    ):
        raise _refuse(path, "manifest field 'networks' is not a list of paths")
    expected = {_MANIFEST, _ESTIMATOR} | {
        f"network_{i}.keras" for i in range(len(networks))
    }
    fields = {"format", "version", "networks", "keras_version", "sha256"}
    checksums, keras_version = manifest.get("sha256"), manifest.get("keras_version")
    if not (
        isinstance(checksums, dict)
        and set(checksums) == expected - {_MANIFEST}
        and all(isinstance(value, str) for value in checksums.values())
    ):
        raise _refuse(path, "manifest field 'sha256' does not list every member")
    if not isinstance(keras_version, str):
        raise _refuse(path, "manifest field 'keras_version' is not a string")
    major = keras_version.split(".")[0]
    if major != str(_keras_major()):
        raise _refuse(
            path,
            f"it was saved with Keras {keras_version}, and this environment "
            f"has Keras {keras.__version__}: load it with Keras {major}.x",
        )
    if set(manifest) != fields:
        raise _refuse(
            path, f"manifest fields {sorted(manifest)}, expected {sorted(fields)}"
        )
    return expected


def _read_manifest(archive, path):
    try:
        info = archive.getinfo(_MANIFEST)
    except KeyError:
        raise _refuse(path, f"missing {_MANIFEST}") from None
    if info.file_size > _MAX_MANIFEST_SIZE:
        raise _refuse(path, f"{_MANIFEST} is {info.file_size:,} bytes")
    try:
        manifest = json.loads(archive.read(info))
    except ValueError as error:  # invalid JSON or UTF-8
        raise _refuse(path, f"invalid {_MANIFEST} ({error})") from None
    expected = _check_manifest(manifest, path)
    if sorted(archive.namelist()) != sorted(expected):
        unexpected = sorted(set(archive.namelist()) ^ expected)
        raise _refuse(path, f"unexpected, missing or repeated members {unexpected}")
    return manifest


def _read_member(archive, name, manifest, path):
    data = archive.read(name)
    expected = manifest.get("sha256", {}).get(name)
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise _refuse(path, f"{name} does not match its checksum (corrupted?)")
    return data


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
    try:
        return sio.loads(data, trusted=untrusted)
    except Exception as error:  # skops raises many types on malformed input
        raise _refuse(path, f"{_ESTIMATOR} cannot be loaded ({error})") from None


def _load_network(network_file, name, safe_mode, path):
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


def _inner_budget(data, name, budget, path):
    """Check the archive inside a member (skops and .keras files are zips)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            return _check_archive_size(inner, name, budget, path)
    except zipfile.BadZipFile as error:
        raise _refuse(path, f"{name} is not an archive ({error})") from None


def _load(path, archive, folder, trusted, safe_mode, max_size):
    budget = _check_archive_size(archive, "the archive", max_size, path)
    manifest = _read_manifest(archive, path)
    data = _read_member(archive, _ESTIMATOR, manifest, path)
    budget = _inner_budget(data, _ESTIMATOR, budget, path)
    networks = []
    for i in range(len(manifest["networks"])):
        name = f"network_{i}.keras"
        network_data = _read_member(archive, name, manifest, path)
        budget = _inner_budget(network_data, name, budget, path)
        networks.append((name, network_data))
    model = _load_estimator(data, trusted, path)
    for (name, network_data), network_path in zip(networks, manifest["networks"]):
        try:
            cnn = _resolve(model, network_path)
        except (KeyError, IndexError, TypeError):
            cnn = None
        if not isinstance(cnn, CNNClassifier):
            raise _refuse(path, f"no CNNClassifier at {network_path}")
        reason = check_image_size(
            getattr(cnn, "image_size_", None), f"the image_size_ of {network_path}"
        )
        if reason is not None:
            raise _refuse(path, reason)
        network_file = Path(folder) / name
        network_file.write_bytes(network_data)
        cnn.model_ = _load_network(network_file, name, safe_mode, path)
        if tuple(cnn.model_.input_shape[1:3]) != tuple(cnn.image_size_):
            raise _refuse(
                path,
                f"{name} takes images of {cnn.model_.input_shape[1:3]}, and its "
                f"classifier's image_size_ is {cnn.image_size_}",
            )
        for name in SCIKERAS_CALLBACK_LISTS:
            setattr(cnn, name, [])
    return model


def load_model(path, *, trusted=None, safe_mode=True, max_size=MAX_SIZE):
    """Load a model written by :func:`save_model`, running no code from the file.

    What is checked before anything is used: the archive's entries, and
    those of the skops and ``.keras`` archives inside it, may inflate to at
    most ``max_size`` bytes together (read from their headers, so a
    decompression bomb is refused at once); the manifest must follow its
    schema, its format version must be one this version reads, the file must
    have been saved with the same major Keras version, and every member must
    match its SHA-256 checksum (a flipped bit or a truncated file is refused).
    Then only trusted types are rebuilt, and Keras' safe mode refuses code.

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
    max_size : int, default=1 GiB
        Most bytes the file may inflate to, all archives in it together.

    Returns
    -------
    estimator

    Raises
    ------
    ValueError
        For every file that is not such a model, is corrupted, too large,
        from another format or Keras version, holds untrusted types or, in
        safe mode, code. The message names the file and the reason.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"Model file {str(path)!r} does not exist.")
    try:
        with (
            zipfile.ZipFile(path) as archive,
            tempfile.TemporaryDirectory() as folder,
        ):
            return _load(path, archive, folder, trusted, safe_mode, max_size)
    except ModelFileError:
        raise
    except zipfile.BadZipFile as error:
        raise _refuse(
            path, f"not a valid zip archive, or a damaged one ({error})"
        ) from None
    except Exception as error:  # a damaged archive surfaces as many types
        raise _refuse(
            path, f"damaged archive ({type(error).__name__}: {error})"
        ) from None
