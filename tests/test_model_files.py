"""Model files under attack and failure: bounded, validated, checksummed, atomic."""

import io
import json
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_pneumo import load_model, make_pneumo_pipeline, predict_files, save_model
from sklearn_pneumo.datasets import load_chest_xray_224

TINY = dict(
    epochs=1,
    batch_size=32,
    model__filters=2,
    model__dense_units=4,
    model__conv_blocks=2,
    random_state=0,
)


@pytest.fixture(scope="module")
def xrays():
    paths, y = load_chest_xray_224()
    return paths[::5], y[::5]  # 40 real JPEGs, both classes


@pytest.fixture(scope="module")
def fitted(xrays):
    return make_pneumo_pipeline((16, 16), **TINY).fit(*xrays)


@pytest.fixture(scope="module")
def model_bytes(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.pneumo"
    save_model(fitted, path)
    return path.read_bytes()


@pytest.fixture
def saved(model_bytes, tmp_path):
    path = tmp_path / "model.pneumo"
    path.write_bytes(model_bytes)
    return path


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rewrite(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _with_manifest(path, manifest):
    members = _members(path)
    members["manifest.json"] = json.dumps(manifest)
    _rewrite(path, members)


# --- decompression bombs ------------------------------------------------------


def _forbid_reading_data(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a member's data was read")

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)


def test_bomb_is_refused_from_the_headers(saved, monkeypatch):
    members = _members(saved)
    with zipfile.ZipFile(saved, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if name != "estimator.skops":
                archive.writestr(name, data)
        zeros = bytes(1 << 24)
        with archive.open("estimator.skops", "w", force_zip64=True) as member:
            for _ in range(80):  # 1.25 GiB of zeros, about 1.3 MB compressed
                member.write(zeros)
    assert saved.stat().st_size < 5 << 20
    _forbid_reading_data(monkeypatch)
    with pytest.raises(ValueError, match="decompression bomb") as raised:
        load_model(saved)
    assert str(saved) in str(raised.value)


def test_members_together_are_bounded(saved):
    total = sum(info.file_size for info in zipfile.ZipFile(saved).infolist())
    with pytest.raises(ValueError, match="over the limit"):
        load_model(saved, max_size=total - 1)


def test_archives_inside_members_are_bounded(saved):
    # The outer archive fits; the skops and .keras archives inside do not.
    total = sum(info.file_size for info in zipfile.ZipFile(saved).infolist())
    with pytest.raises(ValueError, match=r"(estimator\.skops|network_0\.keras) "):
        load_model(saved, max_size=total + 1000)


def test_a_larger_limit_loads_what_the_default_refuses(saved, xrays):
    total = sum(info.file_size for info in zipfile.ZipFile(saved).infolist())
    model = load_model(saved, max_size=50 * total)
    assert model.predict_proba(xrays[0]).shape == (40, 2)


# --- malformed manifests --------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    field=st.sampled_from(
        ["format", "version", "networks", "keras_version", "sha256", "extra"]
    ),
    value=json_values,
)
def test_any_malformed_manifest_field_is_a_value_error(saved, field, value):
    manifest = json.loads(_members(saved)["manifest.json"])
    if manifest.get(field, object()) == value:
        return
    manifest[field] = value
    _with_manifest(saved, manifest)
    with pytest.raises(ValueError, match="not a loadable sklearn_pneumo model"):
        load_model(saved)


@pytest.mark.parametrize(
    "change",
    [
        {"networks": 3},
        {"networks": [[{"step": 1}]]},
        {"networks": [["steps", -1]]},
        {"networks": []},
        {"version": "2"},
        {"version": True},
        {"sha256": ["estimator.skops"]},
        {"sha256": None},
        {"keras_version": 3},
        {"format": None},
    ],
)
def test_manifest_fields_of_the_wrong_type_are_value_errors(saved, change):
    manifest = json.loads(_members(saved)["manifest.json"])
    _with_manifest(saved, {**manifest, **change})
    with pytest.raises(ValueError, match="not a loadable sklearn_pneumo model"):
        load_model(saved)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(manifest=json_values)
def test_any_json_manifest_is_a_value_error(saved, manifest):
    _with_manifest(saved, manifest)
    with pytest.raises(ValueError, match="not a loadable sklearn_pneumo model"):
        load_model(saved)


# --- corrupted files ------------------------------------------------------------


def test_bit_flips_anywhere_are_refused_or_change_nothing(
    model_bytes, fitted, xrays, tmp_path
):
    size = len(model_bytes)
    positions = sorted(
        set(range(0, 64))
        | set(range(size - 200, size))
        | set(np.linspace(0, size - 1, 120).astype(int).tolist())
    )
    expected = fitted.predict_proba(xrays[0])
    path = tmp_path / "flipped.pneumo"
    refused = 0
    for position in positions:
        damaged = bytearray(model_bytes)
        damaged[position] ^= 1 << (position % 8)
        path.write_bytes(bytes(damaged))
        try:
            model = load_model(path)
        except ValueError as error:
            assert str(path) in str(error)
            refused += 1
            continue
        np.testing.assert_array_equal(model.predict_proba(xrays[0]), expected)
    assert refused > len(positions) / 2


@pytest.mark.parametrize("keep", [0, 1, 22, 100, 0.25, 0.5, 0.9, -1])
def test_truncated_files_are_refused(model_bytes, tmp_path, keep):
    length = (
        keep
        if isinstance(keep, int) and keep >= 0
        else (len(model_bytes) - 1 if keep == -1 else int(keep * len(model_bytes)))
    )
    path = tmp_path / "truncated.pneumo"
    path.write_bytes(model_bytes[:length])
    with pytest.raises(ValueError, match="truncated.pneumo"):
        load_model(path)


def test_a_changed_member_fails_its_checksum(saved):
    members = _members(saved)
    with zipfile.ZipFile(io.BytesIO(members["network_0.keras"])) as inner:
        inner_members = {name: inner.read(name) for name in inner.namelist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        for name, data in inner_members.items():
            inner.writestr(name, data)
        inner.writestr("extra.txt", "appended")
    members["network_0.keras"] = buffer.getvalue()
    _rewrite(saved, members)
    with pytest.raises(ValueError, match="checksum"):
        load_model(saved)


# --- version skew ---------------------------------------------------------------


def test_a_future_format_version_is_refused_by_number(saved):
    manifest = json.loads(_members(saved)["manifest.json"])
    _with_manifest(saved, {**manifest, "version": 99})
    with pytest.raises(ValueError, match=r"format version 99.*reads versions 1 to 2"):
        load_model(saved)


def test_another_major_keras_is_refused_by_version(saved):
    manifest = json.loads(_members(saved)["manifest.json"])
    _with_manifest(saved, {**manifest, "keras_version": "4.0.0"})
    with pytest.raises(ValueError, match=rf"Keras 4\.0\.0.*Keras {keras.__version__}"):
        load_model(saved)


# --- atomic saves ---------------------------------------------------------------


@pytest.mark.parametrize(
    "failure", [OSError("No space left on device"), KeyboardInterrupt]
)
def test_a_failed_save_keeps_the_previous_file(fitted, saved, monkeypatch, failure):
    before = saved.read_bytes()

    def fail_midway(self, name, data, *args, **kwargs):
        if name == "estimator.skops":  # after the manifest, during the members
            raise failure
        return original(self, name, data, *args, **kwargs)

    original = zipfile.ZipFile.writestr
    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail_midway)
    with pytest.raises(type(failure) if isinstance(failure, Exception) else failure):
        save_model(fitted, saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_a_network_that_cannot_be_saved_keeps_the_previous_file(
    fitted, saved, monkeypatch
):
    before = saved.read_bytes()

    def cannot_save(self, *args, **kwargs):
        raise ValueError("this network cannot be saved")

    monkeypatch.setattr(keras.Model, "save", cannot_save)
    with pytest.raises(ValueError, match="cannot be saved"):
        save_model(fitted, saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


class _FailsOnSecondBatch:
    """Wraps a fitted pipeline; its second call to predict_proba fails."""

    def __init__(self, model):
        self.model, self.classes_, self.calls = model, model.classes_, 0

    def predict_proba(self, paths):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return self.model.predict_proba(paths)


def test_predictions_csv_appears_whole_or_as_a_partial_file(fitted, xrays, tmp_path):
    out = tmp_path / "predictions.csv"
    assert predict_files(fitted, xrays[0], out, batch_size=16).n_errors == 0
    assert len(out.read_text().splitlines()) == 41
    assert not (tmp_path / "predictions.csv.partial").exists()
    out.unlink()
    with pytest.raises(KeyboardInterrupt):
        predict_files(_FailsOnSecondBatch(fitted), xrays[0], out, batch_size=16)
    assert not out.exists()
    partial = (tmp_path / "predictions.csv.partial").read_text().splitlines()
    assert len(partial) == 17  # header and the first batch


# --- concurrent use -------------------------------------------------------------


@pytest.mark.parametrize("loaded", [False, True], ids=["fitted", "loaded"])
def test_eight_threads_predict_like_one(fitted, saved, xrays, loaded):
    model = load_model(saved) if loaded else fitted
    paths = xrays[0]
    expected = model.predict_proba(paths)
    barrier = threading.Barrier(8)

    def score(_):
        barrier.wait()
        return model.predict_proba(paths)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(score, range(8)))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_saved_files_get_the_usual_permissions(fitted, tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        save_model(fitted, tmp_path / "model.pneumo")
    finally:
        os.umask(umask)
    assert (tmp_path / "model.pneumo").stat().st_mode & 0o777 == 0o644
