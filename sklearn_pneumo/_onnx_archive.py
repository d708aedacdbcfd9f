"""What an ONNX archive must hold to load: every value checked before it is used.

An archive from someone else is a trust boundary, and its checksums prove
nothing: whoever crafts an archive writes them too. So :func:`read_archive`
checks the manifest against its schema (each value's type and bound), the
preprocessing steps through their own parameter validation, every network
graph's inputs and outputs against the manifest's image size and classes
(one forward pass of a blank image), and the outlier Gaussians' arrays,
read without pickle, against the network's feature outputs. Any refusal is
a :class:`ModelFileError` naming the archive and the member or value at
fault.
"""

import hashlib
import io
import json
import math
import os
import re

import numpy as np

from ._grayscale import GrayscaleResize
from ._loader import ImageLoader
from ._model_file import (
    MAX_BATCH_PIXELS,
    ModelFileError,
    check_image_size,
    is_int,
)
from ._upstream import validate_estimator_params

FORMAT = "sklearn_pneumo.onnx"
#: Format written and read.
VERSION = 1
MANIFEST = "manifest.json"
#: The preprocessing steps an archive may hold, in the orders they may come.
STEPS = {cls.__name__: cls for cls in (ImageLoader, GrayscaleResize)}
_STEP_ORDERS = ([], ["GrayscaleResize"], ["ImageLoader", "GrayscaleResize"])
#: What the first step takes, as the manifest's ``input`` says.
INPUTS = {"ImageLoader": "paths", "GrayscaleResize": "images", None: "rows"}
#: Parameters held as tuples, which JSON writes as lists.
_TUPLES = ("size", "decode_size")
_FIELDS = {
    "format",
    "version",
    "input",
    "classes",
    "steps",
    "combine",
    "members",
    "versions",
    "sha256",
}
#: Fields an archive of an earlier version of this format may lack.
_OPTIONAL_FIELDS = {
    "source_priors",
    "source_calibration",
    "source_scores",
    "outlier_rate",
    "prior_shift",
    "quantization",
    "review",
}
_MEMBER_FIELDS = {
    "name",
    "network",
    "image_size",
    "test_time_augmentation",
    "weight",
    "gaussians",
    "offset",
    "batch_size",
}
#: Member fields an archive of an earlier version of this format may lack.
_OPTIONAL_MEMBER_FIELDS = {"heatmap", "mirror_average"}
_MAX_MEMBERS = 64
_MAX_MANIFEST_SIZE = 1 << 20


class _Refusal(Exception):
    """What is wrong, before the archive's name is put to it."""


def refused(path, reason):
    """The error refusing archive ``path`` for ``reason``."""
    return ModelFileError(
        f"{path} is not a loadable sklearn_pneumo ONNX archive: {reason}."
    )


def _require(condition, reason):
    if not condition:
        raise _Refusal(reason)


def _is_number(value):
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _check_classes(classes):
    _require(
        isinstance(classes, list)
        and 2 <= len(classes) <= 1000
        and (
            all(isinstance(c, str) for c in classes) or all(is_int(c) for c in classes)
        )
        and len(set(classes)) == len(classes),
        f"classes is {classes!r}: it must list 2 or more distinct labels, all "
        "strings or all ints",
    )


def _check_shares(shares, where, n_classes):
    """``shares``: null, or one positive share per class, summing to 1."""
    _require(
        shares is None
        or (
            isinstance(shares, list)
            and len(shares) == n_classes
            and all(_is_number(share) and share > 0 for share in shares)
            and abs(sum(shares) - 1) < 1e-3
        ),
        f"{where} is {shares!r}: null, or {n_classes} positive shares summing to 1",
    )


def _check_calibration(calibration, where, n_classes):
    """``calibration``: null, or a temperature and a bias per class."""
    _require(
        calibration is None
        or (
            isinstance(calibration, list)
            and len(calibration) == n_classes + 1
            and all(_is_number(value) for value in calibration)
            and 0.05 <= calibration[0] <= 20
        ),
        f"{where} is {calibration!r}: null, or a temperature from 0.05 to 20 "
        f"and {n_classes} biases",
    )


def _check_source_scores(scores, n_classes):
    """``scores``: null, or a score reference's bin edges and counts.

    As :func:`~sklearn_pneumo._label_shift_check.score_reference` makes it:
    per class, the same number of inner edges in [0, 1], in order; per
    class, a count of 0 or more per bin (one more bin than edges, per
    class), at most a billion; and, optionally (archives written before
    had none), per class a design effect from 1 to 1000.
    """
    effects = scores.get("design_effects") if isinstance(scores, dict) else None
    edges = scores.get("edges") if isinstance(scores, dict) else None
    counts = scores.get("counts") if isinstance(scores, dict) else None
    n_edges = (
        len(edges[0])
        if isinstance(edges, list) and edges and isinstance(edges[0], list)
        else -1
    )
    _require(
        scores is None
        or (
            set(scores) - {"design_effects"} == {"edges", "counts"}
            and (
                effects is None
                or isinstance(effects, list)
                and len(effects) == n_classes
                and all(_is_number(v) and 1 <= v <= 1000 for v in effects)
            )
            and isinstance(edges, list)
            and len(edges) == n_classes
            and 0 <= n_edges <= 100
            and all(
                isinstance(row, list)
                and len(row) == n_edges
                and all(_is_number(v) and 0 <= v <= 1 for v in row)
                and row == sorted(row)
                for row in edges
            )
            and isinstance(counts, list)
            and len(counts) == n_classes
            and all(
                isinstance(row, list)
                and len(row) == n_classes * (n_edges + 1)
                and all(is_int(v) and 0 <= v <= 10**9 for v in row)
                for row in counts
            )
        ),
        "source_scores is not null, nor a map of edges (per class, the same "
        "number of ordered values in [0, 1]), counts (per class, a count "
        "of 0 or more per bin: one bin more than edges, per class) and, "
        "optionally, design effects (per class, from 1 to 1000)",
    )


def _check_member(index, entry, checksums):
    where = f"members[{index}]"
    _require(
        isinstance(entry, dict)
        and _MEMBER_FIELDS <= set(entry) <= _MEMBER_FIELDS | _OPTIONAL_MEMBER_FIELDS,
        f"{where} must have the fields {sorted(_MEMBER_FIELDS)}, and may have "
        f"{sorted(_OPTIONAL_MEMBER_FIELDS)}",
    )
    _require(isinstance(entry["name"], str), f"{where}.name is not a string")
    _require(
        entry["network"] in checksums and str(entry["network"]).endswith(".onnx"),
        f"{where}.network is {entry['network']!r}, not an .onnx member of the archive",
    )
    _require(
        entry["gaussians"] is None
        or (entry["gaussians"] in checksums and entry["gaussians"].endswith(".npz")),
        f"{where}.gaussians is {entry['gaussians']!r}, neither null nor an .npz "
        "member of the archive",
    )
    _require(
        isinstance(entry.get("heatmap", False), bool),
        f"{where}.heatmap is not true or false",
    )
    reason = check_image_size(entry["image_size"], f"{where}.image_size")
    _require(reason is None, reason)
    _require(
        isinstance(entry["test_time_augmentation"], bool),
        f"{where}.test_time_augmentation is not true or false",
    )
    _require(
        isinstance(entry.get("mirror_average", False), bool),
        f"{where}.mirror_average is not true or false",
    )
    _require(
        _is_number(entry["weight"]) and entry["weight"] > 0,
        f"{where}.weight is {entry['weight']!r}, not a positive number",
    )
    offset = entry["offset"]
    _require(
        (offset is None) == (entry["gaussians"] is None)
        and (offset is None or _is_number(offset)),
        f"{where}.offset is {offset!r}: a number with gaussians, null without",
    )
    height, width = entry["image_size"]
    most = MAX_BATCH_PIXELS // (height * width)
    _require(
        is_int(entry["batch_size"]) and 1 <= entry["batch_size"] <= most,
        f"{where}.batch_size is {entry['batch_size']!r}: it must be an int from "
        f"1 to {most} at {height}x{width} pixels",
    )


def _check_manifest(manifest):
    """Every field of ``manifest`` against its schema, the steps aside."""
    _require(
        isinstance(manifest, dict) and manifest.get("format") == FORMAT,
        f"{MANIFEST} is not of format {FORMAT!r}",
    )
    _require(
        manifest.get("version") == VERSION and is_int(manifest.get("version")),
        f"format version {manifest.get('version')!r}; this version of "
        f"sklearn_pneumo reads version {VERSION}",
    )
    _require(
        _FIELDS <= set(manifest) <= _FIELDS | _OPTIONAL_FIELDS,
        f"{MANIFEST} must have the fields {sorted(_FIELDS)}, and may have "
        f"{sorted(_OPTIONAL_FIELDS)}",
    )
    checksums = manifest["sha256"]
    _require(
        isinstance(checksums, dict)
        and all(
            isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v)
            for v in checksums.values()
        ),
        "sha256 is not a map of member names to SHA-256 digests",
    )
    versions = manifest["versions"]
    _require(
        isinstance(versions, dict)
        and len(versions) <= 32
        and all(isinstance(v, str) for v in versions.values()),
        "versions is not a map of package names to version strings",
    )
    _check_classes(manifest["classes"])
    members, combine = manifest["members"], manifest["combine"]
    _require(
        isinstance(members, list) and 1 <= len(members) <= _MAX_MEMBERS,
        f"members must list 1 to {_MAX_MEMBERS} networks",
    )
    _require(
        combine == "ensemble" or (combine == "network" and len(members) == 1),
        f"combine is {combine!r}: 'network' (with one member) or 'ensemble'",
    )
    for index, entry in enumerate(members):
        _check_member(index, entry, checksums)
    n_classes = len(manifest["classes"])
    _check_shares(manifest.get("source_priors"), "source_priors", n_classes)
    _check_calibration(
        manifest.get("source_calibration"), "source_calibration", n_classes
    )
    _check_source_scores(manifest.get("source_scores"), n_classes)
    rate = manifest.get("outlier_rate")
    _require(
        rate is None or (_is_number(rate) and 0 < rate < 1),
        f"outlier_rate is {rate!r}: null, or the share in (0, 1) of the "
        "validation X-rays the outlier model flags",
    )
    review = manifest.get("review")
    _require(
        review is None
        or (
            isinstance(review, dict)
            and set(review) == {"uncertainty", "share_above"}
            and _is_number(review["uncertainty"])
            and review["uncertainty"] >= 0
            and _is_number(review["share_above"])
            and 0 < review["share_above"] < 1
        ),
        f"review is {review!r}: null, or an uncertainty cut of 0 or more and "
        "the share_above it, in (0, 1)",
    )
    quantization = manifest.get("quantization")
    _require(
        quantization is None
        or (
            isinstance(quantization, dict)
            and len(quantization) <= 32
            and all(
                isinstance(key, str) and isinstance(value, (str, int, float))
                for key, value in quantization.items()
            )
        ),
        "quantization is neither null nor a map of its settings and figures",
    )
    shift = manifest.get("prior_shift")
    _require(
        shift is None
        or (
            isinstance(shift, dict)
            and {"source", "target"}
            <= set(shift)
            <= {"source", "target", "calibration"}
        ),
        "prior_shift is neither null nor a map of source and target shares "
        "(and a calibration)",
    )
    if shift is not None:
        _check_calibration(
            shift.get("calibration"), "prior_shift.calibration", n_classes
        )
    for key in ("source", "target") if shift is not None else ():
        _check_shares(shift[key], f"prior_shift.{key}", n_classes)
    sizes = {tuple(entry["image_size"]) for entry in members}
    _require(len(sizes) == 1, f"the members take different image sizes {sorted(sizes)}")
    used = [m["network"] for m in members] + [
        m["gaussians"] for m in members if m["gaussians"] is not None
    ]
    _require(
        sorted(used) == sorted(checksums),
        "sha256 must list each network and Gaussians member once, and nothing else",
    )


def _step(index, entry):
    """Step ``index`` rebuilt from ``entry`` and validated as the step itself does."""
    where = f"steps[{index}]"
    _require(
        isinstance(entry, dict)
        and set(entry) == {"name", "type", "params"}
        and isinstance(entry["name"], str)
        and isinstance(entry["params"], dict),
        f"{where} must have a name, a type and a map of params",
    )
    cls = STEPS.get(entry["type"]) if isinstance(entry["type"], str) else None
    _require(cls is not None, f"{where} has unknown type {entry['type']!r}")
    unknown = set(entry["params"]) - set(cls().get_params())
    _require(
        not unknown, f"{where} ({cls.__name__}) has unknown params {sorted(unknown)}"
    )
    params = dict(entry["params"])
    for key in _TUPLES:
        if isinstance(params.get(key), list):
            reason = check_image_size(params[key], f"{where}.params.{key}")
            _require(reason is None, reason)
            params[key] = tuple(params[key])
    step = cls(**params)
    try:
        validate_estimator_params(step)
        if isinstance(step, GrayscaleResize):
            step._check_size(validate=False)
        else:
            step._check_decode_size()
    except (ValueError, TypeError) as error:  # InvalidParameterError is both
        raise _Refusal(f"{where} ({cls.__name__}): {error}") from None
    return step


def _checked_steps(manifest):
    entries = manifest["steps"]
    _require(isinstance(entries, list), "steps is not a list")
    steps = [_step(index, entry) for index, entry in enumerate(entries)]
    types = [type(step).__name__ for step in steps]
    _require(
        types in _STEP_ORDERS,
        f"steps are {types}; an archive holds none, GrayscaleResize, or "
        "ImageLoader then GrayscaleResize",
    )
    first = types[0] if types else None
    _require(
        manifest["input"] == INPUTS[first],
        f"input is {manifest['input']!r}, and the first step takes {INPUTS[first]!r}",
    )
    size = tuple(manifest["members"][0]["image_size"])
    _require(
        not steps or tuple(steps[-1].size) == size,
        f"the GrayscaleResize step makes {tuple(steps[-1].size) if steps else ''} "
        f"images, and the networks take {size}",
    )
    return steps


def _read_manifest(archive, max_size):
    infos = archive.infolist()
    _require(len(infos) <= 2 * _MAX_MEMBERS + 1, f"it has {len(infos)} members")
    total = sum(info.file_size for info in infos)
    _require(
        total <= max_size,
        f"it inflates to {total:,} bytes, more than max_size={max_size:,}",
    )
    try:
        info = archive.getinfo(MANIFEST)
    except KeyError:
        raise _Refusal(f"no {MANIFEST}") from None
    _require(
        info.file_size <= _MAX_MANIFEST_SIZE, f"{MANIFEST} is {info.file_size:,} bytes"
    )
    try:
        manifest = json.loads(archive.read(info))
    except ValueError as error:  # invalid JSON or UTF-8
        raise _Refusal(f"invalid {MANIFEST} ({error})") from None
    _check_manifest(manifest)
    expected = {MANIFEST, *manifest["sha256"]}
    names = archive.namelist()
    _require(
        set(names) == expected and len(names) == len(expected),
        f"unexpected, missing or repeated members {sorted(set(names) ^ expected)}",
    )
    return manifest


def _member(archive, name, manifest):
    data = archive.read(name)
    _require(
        hashlib.sha256(data).hexdigest() == manifest["sha256"][name],
        f"{name} does not match its checksum (corrupted?)",
    )
    return data


def inference_session(graph, threads=None):
    """An ONNX Runtime session of ``graph`` (bytes), on ``threads`` or every core."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # its own log would repeat our error
    options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
    return onnxruntime.InferenceSession(
        graph, options, providers=["CPUExecutionProvider"]
    )


def _opened(graph, name, entry):
    """An ONNX Runtime session of ``graph``, and its outputs for a blank image."""
    try:
        session = inference_session(graph)
    except Exception as error:  # ONNX Runtime raises its own types, not exported
        first = str(error).strip().splitlines()[0][:300] if str(error) else ""
        raise _Refusal(
            f"{name} is not a valid ONNX graph ({type(error).__name__}: {first})"
        ) from None
    height, width = entry["image_size"]
    inputs = session.get_inputs()
    _require(
        len(inputs) == 1
        and inputs[0].type == "tensor(float)"
        and list(inputs[0].shape)[1:] == [height, width, 1],
        f"{name} takes {[(i.type, i.shape) for i in inputs]}; the manifest says "
        f"one float image of {height}x{width}x1",
    )
    try:
        outputs = session.run(
            None, {inputs[0].name: np.zeros((1, height, width, 1), np.float32)}
        )
    except Exception as error:  # ONNX Runtime raises its own types, not exported
        raise _Refusal(
            f"{name} fails on a blank {height}x{width} image ({type(error).__name__})"
        ) from None
    return session, outputs


def _session(graph, name, entry, n_classes):
    """An ONNX Runtime session of ``graph``, and its feature outputs' widths.

    With the entry's ``heatmap``, the graph's last output is every class's
    Grad-CAM map, checked here and left out of the features.
    """
    session, outputs = _opened(graph, name, entry)
    heatmap = entry.get("heatmap", False)
    if heatmap:
        _require(len(outputs) >= 2, f"{name} has no heatmap output")
        *outputs, maps = outputs
    shapes = [np.shape(output) for output in outputs]
    _require(
        shapes[0] == (1, n_classes)
        and all(len(shape) == 2 and shape[0] == 1 for shape in shapes[1:])
        and all(np.asarray(o).dtype == np.float32 for o in outputs),
        f"{name} outputs float32 arrays of shapes {shapes} for one image; the "
        f"manifest's {n_classes} classes need (1, {n_classes}) first, then "
        "(1, width) features",
    )
    if heatmap:
        height, width = entry["image_size"]
        shape = np.shape(maps)
        _require(
            np.asarray(maps).dtype == np.float32
            and len(shape) == 4
            and shape[0] == 1
            and 1 <= shape[1] <= height
            and 1 <= shape[2] <= width
            and shape[3] == n_classes,
            f"{name}'s last output (heatmaps) is of shape {shape}; it must be "
            f"float32 of (1, height, width, {n_classes}), at most the image's "
            f"{height}x{width}",
        )
    return session, [shape[1] for shape in shapes[1:]]


def _gaussians(data, name, widths, n_classes):
    """The outlier Gaussians in ``data``, checked against the feature ``widths``."""
    from ._feature_gaussians import FeatureGaussians

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            loaded = {key: arrays[key] for key in arrays.files}
    except Exception as error:  # NumPy raises many types on a crafted file
        raise _Refusal(f"{name} is not an .npz of plain arrays ({error})") from None
    depths = len(widths)
    expected = {
        f"{kind}_{d}" for d in range(depths) for kind in ("means", "precision", "scale")
    }
    _require(
        set(loaded) - {"noise_scale"} == expected,
        f"{name} holds {sorted(loaded)}; the network has {depths} feature outputs, "
        f"so it must hold {sorted(expected)} (and may hold noise_scale)",
    )
    gaussians = FeatureGaussians()
    gaussians.means_, gaussians.precisions_, gaussians.scales_ = [], [], []
    for depth, width in enumerate(widths):
        shapes = {
            "means": (n_classes, width),
            "precision": (width, width),
            "scale": (),
        }
        for kind, shape in shapes.items():
            array = loaded[f"{kind}_{depth}"]
            _require(
                array.dtype.kind == "f"
                and array.shape == shape
                and np.isfinite(array).all(),
                f"{name}: {kind}_{depth} is {array.dtype} of shape {array.shape}; "
                f"the network's feature output {depth} needs finite floats of "
                f"shape {shape}",
            )
        scale = float(loaded[f"scale_{depth}"])
        _require(scale > 0, f"{name}: scale_{depth} is {scale}, not positive")
        gaussians.means_.append(loaded[f"means_{depth}"])
        gaussians.precisions_.append(loaded[f"precision_{depth}"])
        gaussians.scales_.append(scale)
    if "noise_scale" in loaded:  # archives of 0.1.0's first exports have none
        noise_scale = loaded["noise_scale"]
        _require(
            noise_scale.dtype.kind == "f"
            and noise_scale.shape == ()
            and np.isfinite(noise_scale)
            and noise_scale > 0,
            f"{name}: noise_scale is {noise_scale.dtype} of shape "
            f"{noise_scale.shape} ({noise_scale}); it must be one positive float",
        )
        gaussians.noise_scale_ = float(noise_scale)
    return gaussians


def read_archive(archive, path, max_size):
    """Everything ``archive`` holds, checked: manifest, steps and networks.

    Returns
    -------
    manifest : dict
    steps : list of estimators
    networks : list of (entry, graph bytes, session, gaussians or None)

    Raises
    ------
    ModelFileError
        Naming ``path`` and the member or value at fault.
    """
    try:
        manifest = _read_manifest(archive, max_size)
        steps = _checked_steps(manifest)
        n_classes = len(manifest["classes"])
        networks = []
        for entry in manifest["members"]:
            graph = _member(archive, entry["network"], manifest)
            session, widths = _session(graph, entry["network"], entry, n_classes)
            gaussians = None
            if entry["gaussians"] is not None:
                data = _member(archive, entry["gaussians"], manifest)
                gaussians = _gaussians(data, entry["gaussians"], widths, n_classes)
            networks.append((entry, graph, session, gaussians))
    except _Refusal as refusal:
        raise refused(path, str(refusal)) from None
    return manifest, steps, networks
