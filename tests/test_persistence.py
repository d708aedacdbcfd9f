"""save_model / load_model: identical predictions, nothing runs on load, and
model files under attack and failure are bounded, validated, checksummed and
written atomically."""

import io
import json
import os
import pickle
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest
import skops.io as sio
from conftest import CALIBRATION_METHODS, TINY_NETWORK
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imblearn.over_sampling import SMOTE
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

from sklearn_pneumo import (
    CNNClassifier,
    load_model,
    make_pneumo_pipeline,
    predict_files,
    save_model,
)
from sklearn_pneumo.datasets import load_chest_xray_224

FAST = {**TINY_NETWORK, "epochs": 1, "batch_size": 16}


@pytest.fixture(scope="module")
def fitted(fitted_pipeline):
    return fitted_pipeline


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


@pytest.mark.parametrize(
    "sampler, image_size",
    [("over", (32, 32)), ("under", (24, 40)), (None, (16, 16))],
)
def test_round_trip_any_sampler_and_size(xray_paths, tmp_path, sampler, image_size):
    paths, y = xray_paths
    pipe = make_pneumo_pipeline(image_size, sampler, random_state=0, **FAST)
    pipe.fit(paths, y)
    save_model(pipe, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(
        loaded.predict_proba(paths), pipe.predict_proba(paths)
    )


def test_round_trip_grid_search_and_best_estimator(mnist, tmp_path):
    images, y = mnist
    pipe = make_pneumo_pipeline((28, 28), input="images", random_state=0, **FAST)
    grid = {"cnn__model__filters": [2, 4]}
    search = GridSearchCV(pipe, grid, cv=2, scoring="roc_auc").fit(images, y)
    for name, model in [("search", search), ("best", search.best_estimator_)]:
        save_model(model, tmp_path / name)
        loaded = load_model(tmp_path / name)
        np.testing.assert_array_equal(
            loaded.predict_proba(images), model.predict_proba(images)
        )


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
def test_round_trip_a_calibrated_model(fitted, tmp_path, method):
    paths, y = load_chest_xray_224()
    held_out = paths[1::5], y[1::5]  # fitted on paths[::5]
    calibrated = CalibratedClassifierCV(FrozenEstimator(fitted), method=method)
    calibrated.fit(*held_out)
    save_model(calibrated, tmp_path / "calibrated.pneumo")
    loaded = load_model(tmp_path / "calibrated.pneumo")
    np.testing.assert_allclose(
        loaded.predict_proba(paths[:8]), calibrated.predict_proba(paths[:8])
    )
    assert type(loaded.estimator.estimator) is type(fitted)


def test_unfitted_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no fitted CNNClassifier"):
        save_model(make_pneumo_pipeline(), tmp_path / "m")


class _RunsCode:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _replace_member(path, member, data):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[member] = data
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_pickle_random_and_empty_files_are_refused(tmp_path):
    marker = tmp_path / "code-ran"
    files = {
        "pickle": pickle.dumps(_RunsCode(marker)),
        "random": os.urandom(512),
        "empty": b"",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match="not a loadable"):
            load_model(tmp_path / name)
    assert not marker.exists()


@pytest.mark.parametrize("member", ["estimator.skops", "network_0.keras"])
def test_member_replaced_by_a_pickle_is_refused(saved, tmp_path, member):
    marker = tmp_path / "code-ran"
    _replace_member(saved, member, pickle.dumps(_RunsCode(marker)))
    with pytest.raises(ValueError, match="not a loadable"):
        load_model(saved)
    assert not marker.exists()


def test_unknown_type_is_refused_unless_trusted(xray_paths, tmp_path):
    paths, y = xray_paths
    pipe = make_pneumo_pipeline((32, 32), SMOTE(k_neighbors=2), random_state=0, **FAST)
    save_model(pipe.fit(paths, y), tmp_path / "m")
    with pytest.raises(ValueError, match="SMOTE"):
        load_model(tmp_path / "m")
    smote = "imblearn.over_sampling._smote.base.SMOTE"
    loaded = load_model(tmp_path / "m", trusted=[smote])
    assert type(loaded.named_steps["sample"]).__name__ == "SMOTE"


def test_extra_member_is_refused(saved):
    with zipfile.ZipFile(saved, "a") as archive:
        archive.writestr("payload.pkl", b"x")
    with pytest.raises(ValueError, match="payload.pkl"):
        load_model(saved)


def build_with_lambda(meta):
    inputs = keras.Input((*meta["image_size_"], 1))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


def test_lambda_layer_needs_opt_in(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 16), dtype=np.float32), np.repeat([0, 1], 10)
    clf = CNNClassifier(model=build_with_lambda, epochs=1, random_state=0).fit(X, y)
    save_model(clf, tmp_path / "m")
    builder = f"{__name__}.build_with_lambda"
    with pytest.raises(ValueError, match="Lambda"):
        load_model(tmp_path / "m", trusted=[builder])
    loaded = load_model(tmp_path / "m", trusted=[builder], safe_mode=False)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_skops_alone_would_run_no_code_either(saved):
    # The estimator member is a real skops archive that skops can audit.
    with zipfile.ZipFile(saved) as archive:
        untrusted = sio.get_untrusted_types(data=archive.read("estimator.skops"))
    assert any("CNNClassifier" in name for name in untrusted)


def test_callbacks_are_left_out_with_a_warning(xray_paths, tmp_path):
    paths, y = xray_paths
    pipe = make_pneumo_pipeline((32, 32), preset="tuned", random_state=0, **FAST)
    pipe.fit(paths, y)
    with pytest.warns(UserWarning, match="callbacks"):
        save_model(pipe, tmp_path / "m")
    assert len(pipe.named_steps["cnn"].callbacks) == 2  # the original is intact
    loaded = load_model(tmp_path / "m")
    assert loaded.named_steps["cnn"].callbacks is None
    np.testing.assert_array_equal(
        loaded.predict_proba(paths), pipe.predict_proba(paths)
    )


def test_without_the_optimizer_the_file_is_smaller_and_predicts_the_same(
    fitted, saved, xray_paths, tmp_path
):
    lean = tmp_path / "lean.pneumo"
    save_model(fitted, lean, optimizer=False)
    assert lean.stat().st_size < saved.stat().st_size
    paths, _ = xray_paths
    np.testing.assert_array_equal(
        load_model(lean).predict_proba(paths), fitted.predict_proba(paths)
    )


def test_an_ensemble_with_callbacks_round_trips(xray_paths, tmp_path):
    from sklearn_pneumo import make_pneumo_ensemble

    paths, y = xray_paths
    pipe = make_pneumo_ensemble(2, (24, 24), random_state=0, **FAST).fit(paths, y)
    with pytest.warns(UserWarning, match="callbacks are not saved"):
        save_model(pipe, tmp_path / "ensemble.pneumo")
    loaded = load_model(tmp_path / "ensemble.pneumo")
    expected, result = pipe.assess(paths), loaded.assess(paths)
    np.testing.assert_array_equal(result.proba, expected.proba)
    np.testing.assert_allclose(result.uncertainty, expected.uncertainty)


# -- Model files under attack and failure ---------------------------------


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


def test_a_larger_limit_loads_what_the_default_refuses(saved, xrays_224):
    total = sum(info.file_size for info in zipfile.ZipFile(saved).infolist())
    model = load_model(saved, max_size=50 * total)
    assert model.predict_proba(xrays_224[0]).shape == (40, 2)


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
    model_bytes, fitted, xrays_224, tmp_path
):
    size = len(model_bytes)
    positions = sorted(
        set(range(0, 64))
        | set(range(size - 200, size))
        | set(np.linspace(0, size - 1, 120).astype(int).tolist())
    )
    expected = fitted.predict_proba(xrays_224[0])
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
        np.testing.assert_array_equal(model.predict_proba(xrays_224[0]), expected)
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
    with pytest.raises(ValueError, match=r"format version 99.*reads version 2"):
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


def test_predictions_csv_appears_whole_or_as_a_partial_file(
    fitted, xrays_224, tmp_path
):
    out = tmp_path / "predictions.csv"
    assert predict_files(fitted, xrays_224[0], out, batch_size=16).n_errors == 0
    assert len(out.read_text().splitlines()) == 41
    assert not (tmp_path / "predictions.csv.partial").exists()
    out.unlink()
    with pytest.raises(KeyboardInterrupt):
        predict_files(_FailsOnSecondBatch(fitted), xrays_224[0], out, batch_size=16)
    assert not out.exists()
    partial = (tmp_path / "predictions.csv.partial").read_text().splitlines()
    assert len(partial) == 17  # header and the first batch


# --- concurrent use -------------------------------------------------------------


@pytest.mark.parametrize("loaded", [False, True], ids=["fitted", "loaded"])
def test_eight_threads_predict_like_one(fitted, saved, xrays_224, loaded):
    model = load_model(saved) if loaded else fitted
    paths = xrays_224[0]
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


def test_every_parameter_survives_the_round_trip(fitted, saved):
    from sklearn.base import clone

    # Estimator objects compare by identity: compare what they are called.
    def described(model):
        return {
            name: value
            if isinstance(value, (str, int, float, bool, tuple, type(None)))
            else type(value).__name__
            for name, value in clone(model).get_params(deep=True).items()
        }

    loaded = load_model(saved)
    assert loaded.get_params()["cnn__clahe"] == 0.25
    assert described(loaded) == described(fitted)


def test_a_model_saved_before_a_parameter_existed_takes_its_default(
    fitted_pipeline,
):
    state = fitted_pipeline[-1].__getstate__()
    del state["outlier_variants"]  # as in a file saved before it existed
    older = CNNClassifier.__new__(CNNClassifier)
    older.__setstate__(state)
    assert older.get_params()["outlier_variants"] is False
    assert clone(older).outlier_variants is False
