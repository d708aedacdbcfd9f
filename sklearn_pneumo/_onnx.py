"""Models in ONNX: export a fitted model, score it with ONNX Runtime alone.

:func:`export_onnx` writes one zip archive: each network as an ONNX
inference graph (float32, augmentation layers removed, with the features
the outlier model reads as extra outputs), the outlier model's arrays, and
a manifest with the classes, the preprocessing steps' parameters, each
network's image size, test-time views, weight and threshold, the versions
that made it and a SHA-256 checksum of every member. :func:`load_onnx`
reads it back as an :class:`OnnxScorer`, which runs the pipeline's own
preprocessing steps (:class:`ImageLoader`, :class:`GrayscaleResize`), its
test-time views and outlier model, and the networks in ONNX Runtime: it
imports NumPy, Pillow, scikit-learn, scikit-image and ``onnxruntime``,
never TensorFlow. Loading runs no code from the file: the manifest is JSON,
the arrays are read without pickle, and the steps are rebuilt from their
parameters.
"""

import hashlib
import importlib.util
import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils.metaestimators import available_if

from ._decision import LogOddsMixin
from ._heatmaps import finished_heatmaps, scaled_by_peak
from ._model_file import ModelFileError
from ._onnx_archive import (
    FORMAT,
    INPUTS,
    MANIFEST,
    STEPS,
    VERSION,
    inference_session,
    read_archive,
    refused,
)
from ._prior_shift import flagged_rate, shift_priors, source_reference
from ._site_warning import review_cut, view_settings
from ._steps import (
    iter_overlapped,
    prediction_steps,
    transform_naming_failures,
    with_border_trimmed,
)
from ._typicality import TypicalityMixin, combine_members, summarize_views
from ._version import __version__
from ._views import score_views
from ._walk import final_step, scoring_model, walk_objects
from ._writing import atomic_write

#: Bound on what an archive may inflate to (the paper's network is 4 MB).
MAX_SIZE = 1 << 30


def _named_prediction_steps(model):
    """``(name, step)`` of the steps that transform at prediction time."""
    kept = {id(step) for step in prediction_steps(model)}
    return [(n, s) for n, s in getattr(model, "steps", [])[:-1] if id(s) in kept]


def _check_step(name, step):
    if type(step) not in STEPS.values():  # a subclass may transform otherwise
        raise ValueError(
            f"export_onnx cannot export step {name!r} ({type(step).__name__}): "
            "only ImageLoader and GrayscaleResize run before the network in an "
            "ONNX archive (samplers, which act only in fit, are left out). "
            "Apply the step to the inputs yourself, then export the rest."
        )
    return {"name": name, "type": type(step).__name__, "params": step.get_params()}


def _members(final, name):
    """``(name, CNNClassifier, weight, test_time_augmentation)`` per network.

    ``name`` is the final step's, or None for a model that is no pipeline.
    """
    from ._classifier import CNNClassifier
    from ._ensemble import PneumoEnsemble, _either

    if isinstance(final, CNNClassifier):
        return "network", [(name or "model", final, 1.0, final.test_time_augmentation)]
    if not isinstance(final, PneumoEnsemble):
        what = type(final).__name__
        raise ValueError(
            f"export_onnx cannot export step {name!r} ({what}): the final step "
            "must be a CNNClassifier or a PneumoEnsemble."
            if name is not None
            else f"export_onnx cannot export a {what}: the model must be a "
            "CNNClassifier, a PneumoEnsemble or a pipeline ending in one."
        )
    names = [n for n, m in final.estimators if m != "drop"]
    members = []
    for member_name, member, weight in zip(
        names, final.estimators_, final._member_weights()
    ):
        for step_name, step in _named_prediction_steps(member):
            raise ValueError(
                f"export_onnx cannot export step {step_name!r} of ensemble member "
                f"{member_name!r} ({type(step).__name__}): a member may hold "
                "samplers and its CNNClassifier only."
            )
        cnn = final_step(member)
        if not isinstance(cnn, CNNClassifier):
            raise ValueError(
                f"export_onnx cannot export ensemble member {member_name!r} "
                f"({type(cnn).__name__}): members must be CNNClassifier networks."
            )
        tta = _either(final.test_time_augmentation, cnn.test_time_augmentation)
        members.append((member_name, cnn, float(weight), tta))
    return "ensemble", members


def _network_graph(cnn, folder, index):
    """The ONNX bytes of ``cnn``'s network, and whether it outputs heatmaps.

    Its outputs: the class probabilities, the outlier model's features,
    then, where the network's head allows (:func:`gradcam_network`), every
    class's Grad-CAM map.
    """
    import keras

    from ._feature_gaussians import feature_network
    from ._gradcam import gradcam_network
    from ._network import inference_network

    inference = inference_network(cnn.model_)
    network = feature_network(inference)
    cams = gradcam_network(inference)
    if cams is not None:
        network = keras.Model(
            network.inputs[0], [*network.outputs, cams.outputs[0]], name=network.name
        )
    network(np.zeros((1, *cnn.image_size_, 1), dtype=np.float32))  # builds it
    file = Path(folder) / f"network_{index}.onnx"
    with warnings.catch_warnings():
        # Keras' tf2onnx bridge checks for np.object, which NumPy warns about.
        warnings.filterwarnings("ignore", "In the future `np.object`", FutureWarning)
        network.export(str(file), format="onnx", verbose=False)
    return file.read_bytes(), cams is not None


def _gaussian_arrays(gaussians):
    buffer = io.BytesIO()
    arrays = {}
    for depth, (means, precision, scale) in enumerate(
        zip(gaussians.means_, gaussians.precisions_, gaussians.scales_)
    ):
        arrays[f"means_{depth}"] = means
        arrays[f"precision_{depth}"] = precision
        arrays[f"scale_{depth}"] = np.asarray(scale)
    if getattr(gaussians, "noise_scale_", None) is not None:
        arrays["noise_scale"] = np.asarray(gaussians.noise_scale_)
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _without_prior_shift(model):
    """``model`` and its class-share adaptation (a manifest entry), if any."""
    from ._prior_shift import PriorShiftAdapter

    if not isinstance(model, PriorShiftAdapter):
        return model, None
    target, calibration = model._shift()
    shift = {
        "source": model.source_priors_.tolist(),
        "target": np.asarray(target).tolist(),
        "calibration": _listed(calibration),
    }
    return scoring_model(model._model()), shift


def _source_scores(model):
    """``model``'s score reference as a manifest entry, or None."""
    reference = source_reference(model)
    if reference is None:
        return None
    return {
        "edges": reference.edges.tolist(),
        "counts": reference.counts.astype(int).tolist(),
        "design_effects": reference.design_effects.tolist(),
    }


def _review(model):
    """``model``'s review cut as a manifest entry, or None."""
    cut, share = review_cut(model)
    if cut is None:
        return None
    return {"uncertainty": float(cut), "share_above": float(share)}


def _readapted_archive(scorer, prior_shift, review, path):
    """Write ``scorer``'s archive again with ``prior_shift``: no TensorFlow needed.

    The members are read back from the archive ``scorer`` was loaded from
    and must still match the checksums it was loaded with; its steps and
    test-time views are written as they are now (``intensity`` or
    ``test_time_augmentation`` set since, say), so that the archive answers
    as ``scorer`` does.
    """
    from ._ensemble import _either

    if scorer.path is None:
        raise ValueError("this OnnxScorer was not read from an archive")
    steps = [
        _check_step(entry["name"], step)
        for entry, step in zip(scorer.manifest["steps"], scorer.steps)
    ]
    views = [
        {
            **entry,
            "test_time_augmentation": bool(
                _either(scorer.test_time_augmentation, network.test_time_augmentation)
            ),
            "mirror_average": bool(network.mirror_average),
        }
        for entry, network in zip(scorer.manifest["members"], scorer.networks)
    ]
    manifest = {
        **scorer.manifest,
        "steps": steps,
        "members": views,
        "prior_shift": prior_shift,
        "review": review,
    }
    with zipfile.ZipFile(scorer.path) as source:
        members = {name: source.read(name) for name in manifest["sha256"]}
    for name, data in members.items():
        if hashlib.sha256(data).hexdigest() != manifest["sha256"][name]:
            raise refused(scorer.path, f"{name} changed since it was loaded")
    write_archive(path, manifest, members)


def _listed(array):
    return None if array is None else np.asarray(array, dtype=float).tolist()


def _versions():
    import keras
    import tensorflow as tf
    import tf2onnx

    return {
        "sklearn_pneumo": __version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "tf2onnx": tf2onnx.__version__,
    }


def export_onnx(model, path, *, quantize=None, calibration=None, holdout=None):
    """Write a fitted model of this package to an ONNX archive for :func:`load_onnx`.

    The archive (one zip file) holds each network as an ONNX inference
    graph: in float32 (a network that predicts in ``mixed_bfloat16`` moves
    by that rounding, about 1e-2 at most) and without its augmentation
    layers, which act only in training. Beside them: the preprocessing
    steps' parameters, the test-time views and weights of each network, the
    outlier model (its Gaussians and ``offset_``), the classes and the
    versions that made it, each member with its SHA-256 checksum. The file
    is written whole or not at all.

    Exporting needs TensorFlow and ``tf2onnx`` (``pip install
    "sklearn-pneumo[export]"``); scoring the archive needs neither.

    Parameters
    ----------
    model : fitted estimator
        A :class:`CNNClassifier`, a pipeline of :func:`make_pneumo_pipeline`
        or :func:`make_pneumo_ensemble` (the shipped model too), or a fitted
        search over one (its ``best_estimator_`` is exported), or a fitted
        :class:`PriorShiftAdapter` of any of these or of an
        :class:`OnnxScorer` (the archive then holds the class-share shift;
        an adapted archive is written again without TensorFlow).
    path : str or os.PathLike
        Where the archive goes (``.onnx.zip`` by convention).
    quantize : {None, "int8"}, default=None
        ``"int8"``: 8-bit networks (ONNX Runtime's static quantization in
        QOperator format, unsigned 8-bit activations calibrated on
        ``calibration``, signed weights per channel in a 7-bit range), the
        shipped model's about 1.5 times as fast from files on 2 cores with
        AVX-512 and VNNI, 1.3 with AVX2 alone (``benchmarks/bench_int8.py``).
        Written only if, on
        ``holdout``, ROC AUC is within 0.003 of the float networks' and at
        least 99 % of the labels agree, and of the outlier flags; otherwise
        a ValueError with the figures, and nothing is written. The manifest
        records it. The input's layout and the first block, which the
        outlier model's narrowest features read, stay in float32.
    calibration : inputs, optional
        With ``quantize``: X-rays the model takes (paths, images or rows),
        a few hundred of its training source, to set the activations'
        ranges.
    holdout : (inputs, labels), optional
        With ``quantize``: labelled X-rays the model was not fitted on.

    Returns
    -------
    Bunch or None
        With ``quantize``: what was measured on ``holdout`` (``roc_auc``,
        ``roc_auc_int8``, ``agreement``, ``outlier_agreement``) and the
        settings.

    Raises
    ------
    ValueError
        For a step that cannot run in the archive, named: a transformer other
        than :class:`ImageLoader` or :class:`GrayscaleResize` (samplers are
        fine: they act only in fit), or a final step that is not a network
        or an ensemble of networks.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_pneumo import CNNClassifier, export_onnx, load_onnx
    >>> X = np.random.default_rng(0).random((20, 8 * 8), dtype=np.float32)
    >>> clf = CNNClassifier(epochs=1, model__filters=2, random_state=0)
    >>> clf = clf.fit(X, [0, 1] * 10)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx.zip")
    >>> export_onnx(clf, path)
    >>> scorer = load_onnx(path)
    >>> bool(np.abs(scorer.predict_proba(X) - clf.predict_proba(X)).max() < 1e-4)
    True
    """
    review = _review(model)
    model, prior_shift = _without_prior_shift(scoring_model(model))
    if isinstance(model, OnnxScorer):
        return _readapted_archive(model, prior_shift, review, path)
    if holds_archives(model):
        raise ValueError(
            f"{type(model).__name__} scores several ONNX archives (the "
            "three-class answer's ONNX form composes two), and an archive "
            "holds one model: it has no archive of its own"
        )
    if importlib.util.find_spec("tf2onnx") is None:
        raise ImportError(
            "export_onnx needs tf2onnx: pip install 'sklearn-pneumo[export]'."
        )
    from ._tensorflow_log import import_tensorflow_quietly

    import_tensorflow_quietly()
    from ._walk import fitted_networks

    if not fitted_networks(model):
        raise ValueError(
            f"export_onnx needs a fitted model; {type(model).__name__} holds no "
            "fitted network."
        )
    steps = [_check_step(n, s) for n, s in _named_prediction_steps(model)]
    final_name = model.steps[-1][0] if hasattr(model, "steps") else None
    combine, members = _members(final_step(model), final_name)
    files, entries = {}, []
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, cnn, weight, tta) in enumerate(members):
            network = f"network_{index}.onnx"
            files[network], heatmap = _network_graph(cnn, folder, index)
            gaussians = None
            if "outlier_model_" in vars(cnn):
                gaussians = f"gaussians_{index}.npz"
                files[gaussians] = _gaussian_arrays(cnn.outlier_model_)
            entries.append(
                {
                    "name": name,
                    "network": network,
                    "image_size": list(cnn.image_size_),
                    "test_time_augmentation": bool(tta),
                    "mirror_average": bool(cnn.mirror_average),
                    "weight": weight,
                    "gaussians": gaussians,
                    "offset": getattr(cnn, "offset_", None),
                    "batch_size": int(cnn._predict_batch_size()),
                    "heatmap": heatmap,
                }
            )
    first = steps[0]["type"] if steps else None
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "input": INPUTS[first],
        "classes": np.asarray(model.classes_).tolist(),
        "steps": steps,
        "combine": combine,
        "members": entries,
        "source_priors": _listed(getattr(final_step(model), "source_priors_", None)),
        "source_calibration": _listed(
            getattr(final_step(model), "source_calibration_", None)
        ),
        "source_scores": _source_scores(model),
        "outlier_rate": flagged_rate(model),
        "prior_shift": prior_shift,
        "review": review,
        "versions": _versions(),
    }
    if quantize is None:
        write_archive(path, manifest, files)
        return None
    if quantize != "int8":
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}.")
    from ._quantize import write_quantized

    return write_quantized(path, manifest, files, calibration, holdout)


def write_archive(path, manifest, files):
    """Write ``manifest`` (with the checksums of ``files``) and ``files``, whole."""
    manifest = {
        **manifest,
        "sha256": {name: hashlib.sha256(d).hexdigest() for name, d in files.items()},
    }
    with (
        atomic_write(path, "wb") as handle,
        zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
        for name, data in files.items():
            archive.writestr(name, data)


class _Network:
    """One network of an archive: an ONNX Runtime session and its settings."""

    def __init__(self, session, entry, gaussians, graph):
        self.session = session
        self.graph = graph
        self.threads = None  # every core
        # Where the graph gives heatmaps, they are its last output.
        self.heatmap = entry.get("heatmap", False)
        outputs = [output.name for output in session.get_outputs()]
        self.outputs = outputs[:-1] if self.heatmap else outputs
        self.heatmap_output = outputs[-1] if self.heatmap else None
        self.name = entry["name"]
        self.image_size = tuple(entry["image_size"])
        self.test_time_augmentation = entry["test_time_augmentation"]
        self.mirror_average = entry.get("mirror_average", False)
        self.weight = entry["weight"]
        self.offset = entry["offset"]
        self.batch_size = entry["batch_size"]
        self.gaussians = gaussians
        self.input_name = session.get_inputs()[0].name

    def __getstate__(self):
        # A session does not pickle: its graph does, and makes it again (on
        # a Dask worker, say), when first used: a worker that sets its own
        # threads (``_distributed``) makes it once.
        state = {k: v for k, v in vars(self).items() if k != "_session"}
        return {**state, "threads": None}

    def __setstate__(self, state):
        vars(self).update(state)

    @property
    def session(self):
        if "_session" not in vars(self):
            self._session = inference_session(self.graph, self.threads)
        return self._session

    @session.setter
    def session(self, session):
        self._session = session

    def forward(self, images, features):
        """Probabilities of ``images`` and, with ``features``, their features."""
        images = np.ascontiguousarray(images)  # a cropped view is not
        outputs = [
            self.session.run(
                self.outputs, {self.input_name: images[i : i + self.batch_size]}
            )
            for i in range(0, len(images), self.batch_size)
        ]
        proba, *maps = [np.concatenate(column) for column in zip(*outputs)]
        return proba, maps if features else None

    def class_maps(self, rows):
        """Every class's Grad-CAM map of ``rows``: (n, height, width, classes)."""
        height, width = self.image_size
        images = np.ascontiguousarray(rows, dtype=np.float32)
        images = images.reshape(-1, height, width, 1)
        maps = [
            self.session.run([self.heatmap_output], {self.input_name: batch})[0]
            for batch in np.split(
                images, range(self.batch_size, len(images), self.batch_size)
            )
        ]
        return np.concatenate(maps)

    def scored_views(self, rows, *, test_time_augmentation, typicality, mirror_average):
        """As :meth:`CNNClassifier._scored_views`: (views, n, classes), typicality."""
        height, width = self.image_size
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != height * width:
            raise ValueError(
                f"network {self.name!r} takes rows of {height}x{width} = "
                f"{height * width} pixels, got an array of shape {rows.shape}."
            )
        return score_views(
            rows.reshape(-1, height, width, 1),
            self.forward,
            self.gaussians,
            test_time_augmentation=test_time_augmentation,
            typicality=typicality,
            mirror_average=mirror_average,
        )


def holds_archives(model):
    """Whether ``model`` scores with ONNX archives (:class:`OnnxScorer` inside it).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> holds_archives(LogisticRegression())
    False
    """
    return any(isinstance(obj, OnnxScorer) for _, obj in walk_objects(model))


class OnnxScorer(LogOddsMixin, TypicalityMixin):
    """A model read from an ONNX archive: the pipeline's answers without TensorFlow.

    Made by :func:`load_onnx`. It takes what the exported model took (image
    paths, decoded images, or flat rows for a bare :class:`CNNClassifier`),
    runs the same preprocessing steps, test-time views and outlier model,
    and the networks in ONNX Runtime, so its answers are those of the
    exported model (probabilities within 1e-4 of it in float32). Works with
    :func:`predict_files` and ``sklearn-pneumo predict``.

    Attributes
    ----------
    classes_ : ndarray
        The class labels, in the order of the probability columns.
    steps : list of estimators
        The preprocessing steps, rebuilt from their parameters.
    test_time_augmentation : bool or None
        Score every network with its test-time views (True) or without
        (False); None keeps each network's setting as exported.
    manifest : dict
        What the archive says of itself: settings, versions, checksums.
    offset_ : float
        Typicality below it is flagged as an outlier.
    outlier_rate_ : float
        The share of its validation X-rays the exported model flags (its
        networks' ``outlier_rate``), where it has outlier flags.
    review_uncertainty_, review_share_ : float
        The exported model's review cut of uncertainty and the share of its
        validation X-rays above it (:func:`measure_review_cut`), where it
        had them; with ``review_views_``, the view settings they hold for
        (the archive's, as exported).
    """

    def __init__(self, networks, steps, classes, combine, manifest, path=None):
        self.path = path
        self.networks = networks
        self.steps = steps
        self.classes_ = classes
        self.combine = combine
        self.manifest = manifest
        self.test_time_augmentation = None
        if manifest.get("source_priors") is not None:
            self.source_priors_ = np.asarray(manifest["source_priors"])
            self.source_calibration_ = manifest.get("source_calibration")
        if manifest.get("outlier_rate") is not None:
            self.outlier_rate_ = manifest["outlier_rate"]
        scores = manifest.get("source_scores")
        if scores is not None:
            self.source_score_edges_ = np.asarray(scores["edges"], dtype=np.float64)
            self.source_score_counts_ = np.asarray(scores["counts"], dtype=np.int64)
            if scores.get("design_effects") is not None:
                self.source_score_design_effects_ = np.asarray(
                    scores["design_effects"], dtype=np.float64
                )
        self.prior_shift = manifest.get("prior_shift")
        if manifest.get("review") is not None:
            self.review_uncertainty_ = manifest["review"]["uncertainty"]
            self.review_share_ = manifest["review"]["share_above"]
            self.review_views_ = view_settings(self)  # as exported

    def _shifted(self, proba):
        """``proba`` moved to the site's class shares, if the archive was adapted."""
        if self.prior_shift is None:
            return proba
        shift = self.prior_shift
        return shift_priors(
            proba, shift["source"], shift["target"], shift.get("calibration")
        )

    def __repr__(self):
        names = [type(step).__name__ for step in self.steps]
        return (
            f"OnnxScorer(steps={names}, networks={len(self.networks)}, "
            f"classes={self.classes_.tolist()})"
        )

    def _rows(self, X):
        """Rows for the networks, and the border trimmed (None if not trimmed)."""
        if not self.steps:
            return X, None
        return transform_naming_failures(self.steps, X, borders=True)

    def _combined(self, rows, *, typicality, views=True):
        """Every network's views of ``rows`` with their weights, and the typicality."""
        results = []
        for network in self.networks:
            tta = self.test_time_augmentation
            if tta is None:
                tta = network.test_time_augmentation
            probas, score = network.scored_views(
                rows,
                test_time_augmentation=tta and views,
                typicality=typicality,
                mirror_average=network.mirror_average and views,
            )
            results.append((probas, score, network.offset))
        weights = [network.weight for network in self.networks]
        all_views, view_weights, score = combine_members(results, weights, typicality)
        if typicality and self.combine == "network":
            score = results[0][1]  # one network: its own typicality
        return all_views, view_weights, score

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), in ``classes_`` order."""
        return self._proba_of_rows(self._rows(X)[0])

    def _proba_of_rows(self, rows):
        """:meth:`predict_proba` of rows that have been through the steps."""
        views, weights, _ = self._combined(rows, typicality=False)
        return self._shifted(np.average(views, axis=0, weights=weights))

    def predict(self, X):
        """The class of each input: the one of largest probability."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _has_typicality(self):
        return all(network.gaussians is not None for network in self.networks)

    def _has_heatmaps(self):
        return all(network.heatmap for network in self.networks)

    @available_if(_has_heatmaps)
    def heatmaps(self, X, target=None):
        """Grad-CAM heatmaps, as :func:`gradcam_heatmaps` gives for the exported model.

        Computed by a graph of each network that :func:`export_onnx` adds
        (the gradient in closed form): within 1e-5 of the float32 network's
        Grad-CAM in TensorFlow. An ensemble averages its networks' maps
        of the same class, equally, as :func:`gradcam_heatmaps` does.
        Available where every network's head has that form (the networks
        :func:`build_cnn` builds at 150x150 do) and the archive holds the
        graphs (archives written before they were added do not).

        Parameters
        ----------
        X : inputs
            What :meth:`predict` takes.
        target : class label, array-like of labels, or None, default=None
            The class explained, one for all inputs or one per input;
            None explains the class :meth:`predict` gives.

        Returns
        -------
        ndarray of shape (n_samples, height, width), float32
            In [0, 1], at the networks' input size.
        """
        return self._heatmaps_of_rows(self._rows(X)[0], target)

    def _heatmaps_of_rows(self, rows, target):
        """:meth:`heatmaps` of rows that have been through the steps."""
        labels = list(self.classes_)
        if target is None:
            target = self.classes_[np.argmax(self._proba_of_rows(rows), axis=1)]
        target = np.broadcast_to(np.asarray(target, dtype=object), (len(rows),))
        unknown = [label for label in target if label not in labels]
        if unknown:
            raise ValueError(
                f"target {unknown[0]!r} is not one of the classes {labels}."
            )
        index = np.array([labels.index(label) for label in target], dtype=int)
        maps = [
            finished_heatmaps(
                np.take_along_axis(
                    network.class_maps(rows), index[:, None, None, None], axis=-1
                )[..., 0],
                network.image_size,
            )
            for network in self.networks
        ]
        mean = np.mean(maps, axis=0)
        return mean if len(maps) == 1 else scaled_by_peak(mean)

    @available_if(_has_typicality)
    def assess(self, X):
        """Probabilities, typicality, outlier flags and uncertainty, as the model's.

        Returns
        -------
        Bunch
            ``proba``, ``typicality``, ``outlier`` and ``uncertainty`` (and
            ``border_trimmed``), as :meth:`PneumoPipeline.assess`.
        """
        return self._assess_rows(self._rows(X))

    def _assess_rows(self, prepared):
        """:meth:`assess` of ``(rows, trimmed)`` that have been through the steps."""
        rows, trimmed = prepared
        views, weights, typicality = self._combined(rows, typicality=True)
        assessed = summarize_views(views, typicality, self.offset_, weights)
        assessed["proba"] = self._shifted(assessed.proba)
        return with_border_trimmed(assessed, trimmed)

    def _iter_overlapped(self, method, X, chunk_size, *, keep_going=False):
        """Yield ``(chunk, result, failures)``, decoding the next chunk meanwhile.

        As :meth:`PneumoPipeline._iter_overlapped`, for ``method``
        ``"assess"`` or ``"predict_proba"``: each file decoded once, while
        the networks score the chunk before.
        """
        chunks = [X[i : i + chunk_size] for i in range(0, len(X), chunk_size)]
        if method == "assess":
            score, borders = self._assess_rows, True
        else:
            score, borders = self._proba_of_rows, False
        return iter_overlapped(
            self.steps, score, chunks, borders=borders, keep_going=keep_going
        )

    def _typicality(self, X):
        return self._combined(self._rows(X)[0], typicality=True, views=False)[2]

    @property
    def offset_(self):
        """The network's threshold; 0 for an ensemble (relative to its members')."""
        return self.networks[0].offset if self.combine == "network" else 0.0


def is_onnx_archive(path):
    """Whether ``path`` is a zip whose manifest says it is an ONNX archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(MANIFEST)).get("format") == FORMAT
    except (OSError, KeyError, ValueError, AttributeError, zipfile.BadZipFile):
        return False


def load_onnx(path, *, max_size=MAX_SIZE):
    """Read an archive of :func:`export_onnx` as an :class:`OnnxScorer`.

    Needs ``onnxruntime`` (``pip install "sklearn-pneumo[onnx]"``), not
    TensorFlow. Runs no code from the file: the manifest is JSON, the
    outlier model's arrays are read without pickle, the preprocessing steps
    are rebuilt from their parameters, and every member must match its
    SHA-256 checksum.

    Parameters
    ----------
    path : str or os.PathLike
    max_size : int, default=1 GiB
        Most bytes the archive may inflate to.

    Returns
    -------
    OnnxScorer

    Raises
    ------
    ValueError
        For a file that is not such an archive, is corrupted, too large or
        of another format version; the message names the file and why.
    """
    if importlib.util.find_spec("onnxruntime") is None:
        raise ImportError(
            "load_onnx needs onnxruntime: pip install 'sklearn-pneumo[onnx]'."
        )
    if not Path(path).is_file():
        raise FileNotFoundError(f"ONNX archive {str(path)!r} does not exist.")
    try:
        with zipfile.ZipFile(path) as archive:
            manifest, steps, networks = read_archive(archive, path, max_size)
    except zipfile.BadZipFile as error:
        raise refused(path, f"not a valid zip archive ({error})") from None
    except ModelFileError:
        raise
    except Exception as error:  # a damaged zip surfaces as many types
        raise refused(
            path, f"damaged archive ({type(error).__name__}: {error})"
        ) from None
    networks = [
        _Network(session, entry, gaussians, graph)
        for entry, graph, session, gaussians in networks
    ]
    classes = np.asarray(manifest["classes"])
    return OnnxScorer(networks, steps, classes, manifest["combine"], manifest, path)
