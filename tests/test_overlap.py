"""Decoding the next chunk while the network scores this one changes no result."""

import csv
import shutil
import threading
from collections import Counter

import numpy as np
import pytest
from conftest import TINY_NETWORK
from sklearn.preprocessing import FunctionTransformer

import sklearn_pneumo._loader as loader_module
import sklearn_pneumo._pipeline as pipeline_module
from sklearn_pneumo import (
    ImageLoader,
    ImageLoadError,
    export_onnx,
    load_onnx,
    make_pneumo_pipeline,
    predict_files,
)
from sklearn_pneumo._steps import transform_naming_failures, transform_readable
from sklearn_pneumo.datasets import load_chest_xray_224

SMALL = {**TINY_NETWORK, "epochs": 1, "batch_size": 8}


@pytest.fixture(scope="module")
def fitted_and_paths():
    paths, y = load_chest_xray_224()
    pipe = make_pneumo_pipeline((32, 32), random_state=0, **SMALL)
    return pipe.fit(paths[::5], y[::5]), list(paths[:44])


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 8 paths (one prediction batch), so 44 paths make 6 chunks."""
    monkeypatch.setattr(pipeline_module, "OVERLAP_CHUNK", 8)


def _serial(pipe, method, paths):
    rows = pipe[:2].transform(paths)  # load, resize (the sampler acts in fit only)
    return getattr(pipe[-1], method)(rows)


@pytest.mark.parametrize("method", ["predict_proba", "predict"])
def test_chunked_results_equal_the_serial_path(fitted_and_paths, small_chunks, method):
    pipe, paths = fitted_and_paths
    assert pipe._should_overlap(paths, {})
    np.testing.assert_array_equal(
        getattr(pipe, method)(paths), _serial(pipe, method, paths)
    )


def test_the_next_chunk_is_decoded_in_another_thread(
    fitted_and_paths, small_chunks, monkeypatch
):
    pipe, paths = fitted_and_paths
    loader = type(pipe["load"])
    threads = set()
    readable = loader._readable

    def recording(self, X):
        threads.add(threading.get_ident())
        return readable(self, X)

    monkeypatch.setattr(loader, "_readable", recording)
    pipe.predict_proba(paths)
    assert threads and threading.get_ident() not in threads


def test_small_inputs_take_the_serial_path(fitted_and_paths, small_chunks):
    pipe, paths = fitted_and_paths
    assert not pipe._should_overlap(paths[:8], {})
    np.testing.assert_array_equal(
        pipe.predict_proba(paths[:8]), _serial(pipe, "predict_proba", paths[:8])
    )


@pytest.fixture
def paths_with_two_bad_files(fitted_and_paths, tmp_path):
    _, paths = fitted_and_paths
    copied = []
    for i, path in enumerate(paths):
        copied.append(str(shutil.copy(path, tmp_path / f"{i:02d}.jpeg")))
    # One unreadable file in the second chunk, one in the last.
    (tmp_path / "10.jpeg").write_bytes(b"not a jpeg")
    (tmp_path / "42.jpeg").unlink()
    return copied


def test_every_unreadable_file_is_named_across_chunks(
    fitted_and_paths, small_chunks, paths_with_two_bad_files
):
    pipe, _ = fitted_and_paths
    with pytest.raises(ImageLoadError) as caught:
        pipe.predict_proba(paths_with_two_bad_files)
    named = [path for path, _ in caught.value.failures]
    assert named == [paths_with_two_bad_files[10], paths_with_two_bad_files[42]]


def test_predict_files_overlaps_and_keeps_every_row(
    fitted_and_paths, small_chunks, paths_with_two_bad_files, tmp_path
):
    pipe, _ = fitted_and_paths
    paths = paths_with_two_bad_files
    out = tmp_path / "scores.csv"
    assert predict_files(pipe, paths, out, batch_size=8).n_errors == 2
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["path"] for row in rows] == paths
    assert rows[10]["error"] and rows[42]["error"] and rows[10]["proba_NORMAL"] == ""
    readable = [p for i, p in enumerate(paths) if i not in (10, 42)]
    expected = _serial(pipe, "predict_proba", readable)
    got = np.array(
        [
            [float(row["proba_NORMAL"]), float(row["proba_PNEUMONIA"])]
            for row in rows
            if not row["error"]
        ]
    )
    np.testing.assert_allclose(got, expected, atol=5e-7)


@pytest.fixture
def decodes(monkeypatch):
    """How many times each file is decoded."""
    counted, decode = Counter(), loader_module.decode_image_frames

    def counting(path, **kwargs):
        counted[str(path)] += 1
        return decode(path, **kwargs)

    monkeypatch.setattr(loader_module, "decode_image_frames", counting)
    return counted


@pytest.mark.parametrize("runtime", ["keras", "onnx"])
def test_a_batch_with_a_bad_file_decodes_each_file_once(
    fitted_and_paths, paths_with_two_bad_files, decodes, tmp_path, runtime
):
    pipe, _ = fitted_and_paths
    if runtime == "onnx":
        export_onnx(pipe, tmp_path / "model.onnx.zip")
        model = load_onnx(tmp_path / "model.onnx.zip")
    else:
        model = pipe
    paths = paths_with_two_bad_files
    out = tmp_path / "scores.csv"
    assert predict_files(model, paths, out, batch_size=8).n_errors == 2
    assert decodes == Counter(paths)  # once each, the bad ones too
    rows = list(csv.DictReader(out.open()))
    got = [float(row["proba_PNEUMONIA"]) for row in rows if not row["error"]]
    usable = [p for i, p in enumerate(paths) if i not in (10, 42)]
    expected = _serial(pipe, "predict_proba", usable)[:, 1]
    assert np.ptp(expected) > 1e-3  # answers that vary with the X-ray
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.fixture
def refusing_steps(fitted_and_paths):
    """A loader, then a step that refuses the first path's image; the paths."""
    _, paths = fitted_and_paths
    loader = ImageLoader()
    first = loader.transform(paths[:1])[0]

    def refuse_the_first(images):
        if any(np.array_equal(image, first) for image in images):
            raise ValueError("refused this image")
        return [image.mean() for image in images]

    return [loader, FunctionTransformer(refuse_the_first)], paths


def test_a_file_a_later_step_refuses_is_named(refusing_steps):
    steps, paths = refusing_steps
    with pytest.raises(ImageLoadError) as caught:
        transform_naming_failures(steps, [paths[1], paths[0], paths[2]])
    assert caught.value.failures == [(paths[0], "ValueError: refused this image")]


def test_a_file_a_later_step_refuses_is_named_with_the_unreadable_ones(
    refusing_steps,
):
    steps, paths = refusing_steps
    chunk = [paths[0], paths[1], "missing.jpeg", paths[2]]
    prepared, failures = transform_readable(steps, chunk)
    assert failures == [
        ("missing.jpeg", "file not found"),
        (paths[0], "ValueError: refused this image"),
    ]
    expected = [image.mean() for image in steps[0].transform(paths[1:3])]
    np.testing.assert_allclose(prepared, expected)
