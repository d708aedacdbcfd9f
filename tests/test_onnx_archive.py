"""ONNX archives from someone else: every crafted one is refused at load, by name.

Each archive here has valid checksums (whoever crafts an archive writes
them too), so only the checks behind them can refuse it. Every refusal
must be a ``ModelFileError`` naming the archive and what is at fault,
raised by ``load_onnx`` before any image is read.
"""

import copy
import hashlib
import io
import json
import re
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_pneumo import (
    ImageLoadError,
    ModelFileError,
    export_onnx,
    load_onnx,
    predict_files,
)


@pytest.fixture(scope="module")
def exported(fitted_pipeline, tmp_path_factory):
    """The members of a real archive, read back: ``{name: bytes}``."""
    path = tmp_path_factory.mktemp("onnx") / "pipeline.onnx.zip"
    export_onnx(fitted_pipeline, path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def craft(path, members, manifest=None, **replaced):
    """Write an archive of ``members`` with ``replaced`` ones, checksums valid."""
    members = {**members, **replaced}
    manifest = copy.deepcopy(manifest or json.loads(members["manifest.json"]))
    if replaced:
        manifest["sha256"] = {
            name: hashlib.sha256(data).hexdigest()
            for name, data in members.items()
            if name != "manifest.json"
        }
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def npz(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def gaussian_arrays(members):
    with np.load(io.BytesIO(members["gaussians_0.npz"])) as arrays:
        return {key: arrays[key] for key in arrays.files}


def with_value(manifest, where, value):
    """``manifest`` with the value at the path ``where`` set to ``value``."""
    manifest = copy.deepcopy(manifest)
    *parents, last = where
    target = manifest
    for key in parents:
        target = target[key]
    target[last] = value
    return manifest


#: Manifest values a crafted archive may hold, and what the refusal names.
BAD_VALUES = {
    "huge image": (("members", 0, "image_size"), [60000, 60000], "image_size"),
    "one side": (("members", 0, "image_size"), [16], "image_size"),
    "float side": (("members", 0, "image_size"), [16.0, 16], "image_size"),
    "zero batch": (("members", 0, "batch_size"), 0, "batch_size"),
    "huge batch": (("members", 0, "batch_size"), 10**9, "batch_size"),
    "bool batch": (("members", 0, "batch_size"), True, "batch_size"),
    "negative weight": (("members", 0, "weight"), -1.0, "weight"),
    "NaN weight": (("members", 0, "weight"), float("nan"), "weight"),
    "text offset": (("members", 0, "offset"), "low", "offset"),
    "no offset": (("members", 0, "offset"), None, "offset"),
    "views as text": (("members", 0, "test_time_augmentation"), "yes", "test_time"),
    "heatmap as text": (("members", 0, "heatmap"), "yes", "heatmap"),
    "mirror as text": (("members", 0, "mirror_average"), 1, "mirror_average"),
    "heatmap denied": (("members", 0, "heatmap"), False, "network_0.onnx outputs"),
    "7 classes": (("classes",), list("abcdefg"), "7 classes"),
    "1 class": (("classes",), ["x"], "classes"),
    "repeated class": (("classes",), [0, 0], "classes"),
    "mixed classes": (("classes",), [0, "1"], "classes"),
    "zero jobs": (("steps", 0, "params", "n_jobs"), 0, "steps\\[0\\].*n_jobs"),
    "jobs as text": (("steps", 1, "params", "n_jobs"), "many", "steps\\[1\\]"),
    "huge resize": (("steps", 1, "params", "size"), [60000, 60000], "size"),
    "other resize": (("steps", 1, "params", "size"), [20, 20], "GrayscaleResize"),
    "bad decode": (("steps", 0, "params", "decode_size"), [0, 5], "decode_size"),
    "bad border": (("steps", 1, "params", "border"), "crop", "border"),
    "unknown param": (("steps", 0, "params", "code"), "x", "unknown params"),
    "unknown step": (("steps", 0, "type"), "FunctionTransformer", "unknown type"),
    "wrong input": (("input",), "rows", "input"),
    "combine": (("combine",), "vote", "combine"),
    "network name": (("members", 0, "network"), "../x.onnx", "network"),
    "versions": (("versions",), ["3.8"], "versions"),
    "checksum": (("sha256", "network_0.onnx"), "abc", "sha256"),
    "extra field": (("code",), "import os", "fields"),
    "format": (("format",), "sklearn_pneumo.model", "format"),
    "review as text": (("review",), "high", "review"),
    "review share 1": (("review",), {"uncertainty": 0.1, "share_above": 1}, "review"),
    "negative cut": (("review",), {"uncertainty": -1, "share_above": 0.1}, "review"),
    "scores as text": (("source_scores",), "normal", "source_scores"),
    "rate above 1": (("outlier_rate",), 1.5, "outlier_rate"),
    "rate as text": (("outlier_rate",), "low", "outlier_rate"),
    "scores edges unordered": (
        ("source_scores",),
        {"edges": [[0.9, 0.6], [0.6, 0.9]], "counts": [[1] * 6, [1] * 6]},
        "source_scores",
    ),
    "scores edge above 1": (
        ("source_scores",),
        {"edges": [[0.6, 1.5], [0.6, 0.9]], "counts": [[1] * 6, [1] * 6]},
        "source_scores",
    ),
    "scores negative count": (
        ("source_scores",),
        {"edges": [[0.6, 0.9], [0.6, 0.9]], "counts": [[-1] + [1] * 5, [1] * 6]},
        "source_scores",
    ),
    "scores bins missing": (
        ("source_scores",),
        {"edges": [[0.6, 0.9], [0.6, 0.9]], "counts": [[1] * 5, [1] * 5]},
        "source_scores",
    ),
    "scores extra": (
        ("source_scores",),
        {"edges": [[0.6], [0.6]], "counts": [[1] * 4, [1] * 4], "code": "x"},
        "source_scores",
    ),
    "scores design effect below 1": (
        ("source_scores",),
        {
            "edges": [[0.6], [0.6]],
            "counts": [[1] * 4, [1] * 4],
            "design_effects": [1, 0.5],
        },
        "source_scores",
    ),
    "scores design effects missing a class": (
        ("source_scores",),
        {
            "edges": [[0.6], [0.6]],
            "counts": [[1] * 4, [1] * 4],
            "design_effects": [1.2],
        },
        "source_scores",
    ),
    "review extra": (
        ("review",),
        {"uncertainty": 0.1, "share_above": 0.1, "code": "x"},
        "review",
    ),
}


@pytest.mark.parametrize("kind", BAD_VALUES)
def test_a_crafted_manifest_value_is_refused_by_name(exported, tmp_path, kind):
    where, value, named = BAD_VALUES[kind]
    manifest = with_value(json.loads(exported["manifest.json"]), where, value)
    path = craft(tmp_path / "crafted.onnx.zip", exported, manifest)
    with pytest.raises(ModelFileError, match=f"crafted.onnx.zip .*{named}"):
        load_onnx(path)


def test_crafted_members_are_refused_by_name(exported, tmp_path):
    path = tmp_path / "crafted.onnx.zip"
    graph = bytearray(exported["network_0.onnx"])
    graph[: len(graph) // 2] = b"\xff" * (len(graph) // 2)
    refusals = {
        "not a valid ONNX graph": {"network_0.onnx": bytes(graph)},
        "gaussians_0.npz is not an .npz": {"gaussians_0.npz": b"PK\x03\x04 junk"},
    }
    arrays = gaussian_arrays(exported)
    wide = {**arrays, "means_0": np.hstack([arrays["means_0"]] * 2)}
    refusals["means_0 is float64 of shape"] = {"gaussians_0.npz": npz(**wide)}
    objects = {**arrays, "precision_1": np.array([{"a": 1}], dtype=object)}
    refusals["not an .npz of plain arrays"] = {"gaussians_0.npz": npz(**objects)}
    missing = {k: v for k, v in arrays.items() if k != "scale_2"}
    refusals["must hold"] = {"gaussians_0.npz": npz(**missing)}
    nan = {**arrays, "precision_0": arrays["precision_0"] * np.nan}
    refusals["finite floats"] = {"gaussians_0.npz": npz(**nan)}
    negative = {**arrays, "scale_0": np.float64(-1.0)}
    refusals["scale_0 is -1.0"] = {"gaussians_0.npz": npz(**negative)}
    text = {**arrays, "means_1": arrays["means_1"].astype(str)}
    refusals["means_1 is <U"] = {"gaussians_0.npz": npz(**text)}
    for bad in (-0.5, np.nan, np.ones(2)):
        noisy = {**arrays, "noise_scale": np.asarray(bad, dtype=np.float64)}
        refusals[re.escape(f"noise_scale is float64 of shape {np.shape(bad)}")] = {
            "gaussians_0.npz": npz(**noisy)
        }
    for reason, replaced in refusals.items():
        with pytest.raises(ModelFileError, match=f"crafted.onnx.zip .*{reason}"):
            load_onnx(craft(path, exported, **replaced))


def test_an_archive_carries_the_noise_the_network_reads(
    exported, fitted_pipeline, tmp_path
):
    noise_scale = gaussian_arrays(exported)["noise_scale"]
    assert noise_scale == pytest.approx(fitted_pipeline[-1].outlier_model_.noise_scale_)
    # An archive exported before the noise level was read still loads,
    # its typicality the features' alone.
    older = {k: v for k, v in gaussian_arrays(exported).items() if k != "noise_scale"}
    path = craft(
        tmp_path / "older.onnx.zip", exported, **{"gaussians_0.npz": npz(**older)}
    )
    assert not hasattr(load_onnx(path).networks[0].gaussians, "noise_scale_")


def test_a_network_of_another_shape_is_refused_at_load(exported, tmp_path):
    onnx = pytest.importorskip("onnx")
    graph = onnx.load_from_string(exported["network_0.onnx"])
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_value, dims[2].dim_value = 20, 20  # the manifest says 16x16
    path = craft(
        tmp_path / "crafted.onnx.zip",
        exported,
        **{"network_0.onnx": graph.SerializeToString()},
    )
    with pytest.raises(ModelFileError, match="crafted.onnx.zip .*network_0.onnx"):
        load_onnx(path)


def test_members_must_be_exactly_those_listed(exported, tmp_path):
    path = tmp_path / "crafted.onnx.zip"
    with pytest.raises(ModelFileError, match="crafted.onnx.zip .*sha256 must list"):
        load_onnx(craft(path, exported, **{"extra.bin": b"x"}))
    manifest = json.loads(exported["manifest.json"])
    manifest["members"] = manifest["members"] * 2  # two networks, combine=network
    with pytest.raises(ModelFileError, match="crafted.onnx.zip .*combine"):
        load_onnx(craft(path, exported, manifest))
    with pytest.raises(ModelFileError, match="crafted.onnx.zip .*manifest.json"):
        load_onnx(craft(path, exported, ["not", "a", "manifest"]))


def manifest_leaves(value, where=()):
    """Every path to a value in the manifest (the checksums aside)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return [where]
    found = [where] if where else []
    for key, child in items:
        if key != "sha256":
            found += manifest_leaves(child, (*where, key))
    return found


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_changed_manifest_value_is_refused_or_scores(
    exported, tmp_path, xray_paths, data
):
    """A value or byte changed anywhere: a named refusal, or a working scorer.

    A working scorer may hold a lower ``max_pixels``: a limit is the archive's
    to set, and images beyond it are refused one by one, by name.
    """
    original = json.loads(exported["manifest.json"])
    if data.draw(st.booleans(), label="flip a byte"):
        text = bytearray(exported["manifest.json"])
        at = data.draw(st.integers(0, len(text) - 1), label="byte")
        text[at] ^= data.draw(st.integers(1, 255), label="mask")
        members = {**exported, "manifest.json": bytes(text)}
        path = tmp_path / "changed.onnx.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for name, member in members.items():
                archive.writestr(name, member)
    else:
        where = data.draw(st.sampled_from(manifest_leaves(original)), label="where")
        value = data.draw(JSON_VALUES, label="value")
        manifest = with_value(original, where, value)
        path = craft(tmp_path / "changed.onnx.zip", exported, manifest)
    try:
        scorer = load_onnx(path)
    except ModelFileError as error:
        assert "changed.onnx.zip is not a loadable" in str(error)
        return
    paths = xray_paths[0][:2]
    try:
        proba = scorer.predict_proba(paths)
    except ImageLoadError as error:
        assert_refused_by_limit(error, scorer, paths)
        return
    assert proba.shape == (2, len(scorer.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-4)


def assert_refused_by_limit(error, scorer, paths):
    """Every image refused by name, for exceeding the loader's ``max_pixels``."""
    limit = scorer.steps[0].max_pixels
    assert [path for path, _ in error.failures] == [str(path) for path in paths]
    for _, reason in error.failures:
        assert f"exceeds max_pixels={limit}" in reason


def test_an_archive_may_lower_the_pixel_limit(exported, tmp_path, xray_paths):
    """An archive's ``max_pixels`` is applied to each image, and named."""
    manifest = json.loads(exported["manifest.json"])
    assert manifest["steps"][0]["params"]["max_pixels"] > 1
    manifest = with_value(manifest, ("steps", 0, "params", "max_pixels"), 1)
    scorer = load_onnx(craft(tmp_path / "strict.onnx.zip", exported, manifest))
    paths = xray_paths[0][:2]
    with pytest.raises(ImageLoadError) as error:
        scorer.predict_proba(paths)
    assert_refused_by_limit(error.value, scorer, paths)


def test_a_broken_step_is_never_blamed_on_the_images(exported, tmp_path, xray_paths):
    """A step's fault raises once, as the step's, never as unreadable files."""
    scorer = load_onnx(craft(tmp_path / "model.onnx.zip", exported))
    paths = xray_paths[0][:3]
    for step, broken in [(0, {"n_jobs": 0}), (1, {"border": "crop"})]:
        original = scorer.steps[step].get_params()
        scorer.steps[step].set_params(**broken)
        for score in [
            scorer.predict_proba,
            lambda paths: predict_files(scorer, paths, tmp_path / "rows.csv"),
        ]:
            with pytest.raises(ValueError, match=next(iter(broken))) as error:
                score(paths)
            assert not isinstance(error.value, ImageLoadError)
        assert not (tmp_path / "rows.csv").exists()
        scorer.steps[step].set_params(**original)
    assert scorer.predict_proba(paths).shape == (3, 2)


def test_a_graph_that_reads_files_beside_it_is_refused(exported, tmp_path):
    """Weights stored as "external data" would be read from the loader's folder."""
    onnx = pytest.importorskip("onnx")
    (tmp_path / "secret.bin").write_bytes(b"\0" * 64)
    graph = onnx.load_from_string(exported["network_0.onnx"])
    weights = graph.graph.initializer[0]
    weights.ClearField("raw_data")
    weights.ClearField("float_data")
    weights.data_location = onnx.TensorProto.EXTERNAL
    for key, value in {"location": "secret.bin", "offset": "0"}.items():
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    path = craft(
        tmp_path / "crafted.onnx.zip",
        exported,
        **{"network_0.onnx": graph.SerializeToString()},
    )
    with pytest.raises(ModelFileError, match="network_0.onnx is not a valid ONNX"):
        load_onnx(path)
