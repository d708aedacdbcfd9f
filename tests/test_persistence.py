"""save_model / load_model: identical predictions, and nothing runs on load."""

import os
import pickle
import zipfile

import keras
import numpy as np
import pytest
import skops.io as sio
from imblearn.over_sampling import SMOTE
from sklearn.model_selection import GridSearchCV

from sklearn_pneumo import CNNClassifier, load_model, make_pneumo_pipeline, save_model

FAST = dict(epochs=1, batch_size=16, model__filters=4, model__dense_units=8)


@pytest.fixture(scope="module")
def fitted(xray_paths):
    paths, y = xray_paths
    return make_pneumo_pipeline((32, 32), random_state=0, **FAST).fit(paths, y)


@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "model.pneumo"
    save_model(fitted, path)
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
