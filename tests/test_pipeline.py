"""The whole pipeline end to end, on real X-rays, inside scikit-learn's tools."""

import pickle

import joblib
import numpy as np
import pytest
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate

from sklearn_pneumo import ImageLoader, fitted_networks, make_pneumo_pipeline

FAST = dict(epochs=2, batch_size=16, model__filters=8, model__dense_units=16)


@pytest.fixture(scope="module")
def fitted_on_jpegs(xray_paths):
    paths, y = xray_paths
    pipe = make_pneumo_pipeline((48, 48), random_state=0, **FAST)
    return pipe.fit(paths, y)


@pytest.fixture(scope="module")
def fitted_on_mnist(mnist):
    images, y = mnist
    pipe = make_pneumo_pipeline(
        (28, 28), input="images", random_state=0, **{**FAST, "epochs": 10}
    )
    return pipe.fit(images, y)


def test_steps_and_classifier_tags():
    pipe = make_pneumo_pipeline((32, 32))
    assert isinstance(pipe, Pipeline)
    assert list(pipe.named_steps) == ["load", "resize", "sample", "cnn"]
    assert is_classifier(pipe)
    assert pipe.get_params()["load__decode_size"] == (32, 32)
    assert pipe.get_params()["resize__size"] == (32, 32)


def test_fit_predict_on_real_jpegs(fitted_on_jpegs, xray_paths):
    paths, y = xray_paths
    proba = fitted_on_jpegs.predict_proba(paths)
    assert proba.shape == (16, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(fitted_on_jpegs.predict(paths)) <= {0, 1}
    assert fitted_on_jpegs.named_steps["cnn"].model_.input_shape == (None, 48, 48, 1)


def test_learns_real_pneumoniamnist(fitted_on_mnist, mnist):
    images, y = mnist
    assert fitted_on_mnist.score(images, y) > 0.7


@pytest.mark.parametrize(
    "dump, load",
    [
        (pickle.dumps, pickle.loads),
        (
            lambda m: joblib.dump(m, "model.joblib"),
            lambda _: joblib.load("model.joblib"),
        ),
    ],
    ids=["pickle", "joblib"],
)
def test_round_trip_keeps_probabilities(
    fitted_on_jpegs, xray_paths, tmp_path, monkeypatch, dump, load
):
    monkeypatch.chdir(tmp_path)
    paths, _ = xray_paths
    restored = load(dump(fitted_on_jpegs))
    np.testing.assert_array_equal(
        restored.predict_proba(paths), fitted_on_jpegs.predict_proba(paths)
    )


def test_clone_get_set_params(fitted_on_jpegs):
    copy = clone(fitted_on_jpegs)
    assert copy.get_params()["cnn__model__filters"] == 8
    assert not hasattr(copy.named_steps["cnn"], "model_")
    copy.set_params(cnn__epochs=7, cnn__model__filters=4, sample=RandomUnderSampler())
    params = copy.get_params()
    assert params["cnn__epochs"] == 7 and params["cnn__model__filters"] == 4
    assert isinstance(copy.named_steps["sample"], RandomUnderSampler)


def test_string_labels(xray_paths):
    paths, y = xray_paths
    labels = np.where(y == 1, "PNEUMONIA", "NORMAL")
    pipe = make_pneumo_pipeline((32, 32), random_state=0, **FAST).fit(paths, labels)
    assert set(pipe.predict(paths)) <= {"NORMAL", "PNEUMONIA"}


def test_cross_validate_with_roc_auc(mnist):
    images, y = mnist
    pipe = make_pneumo_pipeline((28, 28), input="images", random_state=0, **FAST)
    scores = cross_validate(pipe, images, y, cv=3, scoring=["accuracy", "roc_auc"])
    assert scores["test_roc_auc"].shape == (3,)
    assert np.mean(scores["test_roc_auc"]) > 0.6


def test_grid_search_over_epochs_and_filters_with_cache(
    xray_paths, tmp_path, monkeypatch
):
    paths, y = xray_paths
    decoded = []
    original = ImageLoader.transform

    def counting_transform(self, X):
        decoded.append(len(X))
        return original(self, X)

    monkeypatch.setattr(ImageLoader, "transform", counting_transform)
    pipe = make_pneumo_pipeline(
        (32, 32),
        memory=str(tmp_path),
        random_state=0,
        batch_size=16,
        model__dense_units=8,
    )
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    search = GridSearchCV(
        pipe,
        {"cnn__epochs": [1, 2], "cnn__model__filters": [4, 8]},
        cv=cv,
        scoring="roc_auc",
        refit=True,
    ).fit(paths, y)
    # With the cache each training fold is decoded once (2), not once per
    # candidate (8); test folds are decoded at each scoring (8); refit: 1.
    assert len(decoded) == 2 + 8 + 1
    assert search.best_params_["cnn__epochs"] in (1, 2)
    assert search.best_estimator_.predict_proba(paths).shape == (16, 2)


def test_clear_errors_through_the_pipeline(xray_paths):
    paths, y = xray_paths
    pipe = make_pneumo_pipeline((32, 32), random_state=0, **FAST)
    with pytest.raises(ValueError, match="class"):
        pipe.fit(paths, np.zeros(len(paths)))
    with pytest.raises(ValueError, match="16 samples but y has 15 labels"):
        pipe.fit(paths, y[:-1])
    with pytest.raises(NotFittedError):
        pipe.predict(paths)


def test_presets():
    paper = make_pneumo_pipeline((28, 28))
    tuned = make_pneumo_pipeline((28, 28), preset="tuned", epochs=3)
    assert type(paper.named_steps["sample"]).__name__ == "RandomOverSampler"
    assert tuned.named_steps["sample"] == "passthrough"
    params = tuned.get_params()
    assert params["cnn__class_weight"] == "balanced"
    assert params["cnn__model__batch_norm"] is True
    assert params["cnn__model__batch_norm_momentum"] == 0.9
    assert params["cnn__epochs"] == 3  # explicit settings override the preset
    with pytest.raises(ValueError, match="preset"):
        make_pneumo_pipeline(preset="best")


def test_image_size_is_set_in_one_place(xray_paths):
    from sklearn.model_selection import GridSearchCV

    paths, y = xray_paths
    pipe = make_pneumo_pipeline(epochs=1, model__filters=4, random_state=0)
    pipe.set_params(resize__size=(24, 40)).fit(paths, y)
    assert pipe["cnn"].image_size_ == (24, 40)
    assert pipe.predict_proba(paths).shape == (16, 2)
    pipe.set_params(resize__size=(200, 180), cnn__model__conv_blocks=2)
    with pytest.warns(UserWarning, match="decoded below the size"):
        pipe.fit(paths, y)
    assert pipe["load"].decode_size == (150, 150)  # nothing the user gave changes
    assert pipe["cnn"].image_size_ == (200, 180)
    search = GridSearchCV(
        make_pneumo_pipeline(epochs=1, model__filters=4, random_state=0),
        {"resize__size": [(16, 16), (28, 20)]},
        cv=2,
        scoring="roc_auc",
        error_score="raise",
    ).fit(paths, y)
    assert (
        search.best_estimator_["cnn"].image_size_ == search.best_params_["resize__size"]
    )


def test_the_wrong_kind_of_input_is_named(xray_paths):
    paths, y = xray_paths
    images = ImageLoader(decode_size=(32, 32)).transform(paths)
    on_images = make_pneumo_pipeline((32, 32), input="images", epochs=1)
    with pytest.raises(ValueError, match="got file paths.*ImageLoader"):
        on_images.fit(paths, y)
    on_paths = make_pneumo_pipeline((32, 32), epochs=1)
    with pytest.raises(ValueError, match="got decoded images.*input='images'"):
        on_paths.fit(images, y)


@pytest.mark.parametrize("build", ["pipeline", "ensemble", "classifier"])
def test_fit_changes_no_parameter(build, xray_paths):
    from sklearn_pneumo import CNNClassifier, make_pneumo_ensemble

    paths, y = xray_paths
    small = dict(epochs=1, model__filters=2, model__conv_blocks=2, random_state=0)
    if build == "pipeline":
        model, X = make_pneumo_pipeline((24, 32), **small), paths
    elif build == "ensemble":
        model, X = make_pneumo_ensemble(2, (24, 32), **small), paths
    else:
        model = CNNClassifier(**small)
        X = np.random.default_rng(0).random((16, 24 * 24), dtype=np.float32)
    before = {key: repr(value) for key, value in model.get_params(deep=True).items()}
    model.fit(X, y)
    after = {key: repr(value) for key, value in model.get_params(deep=True).items()}
    assert [key for key in before if before[key] != after.get(key)] == []
    if build != "classifier":
        assert fitted_networks(model)[0].image_size_ == (24, 32)
