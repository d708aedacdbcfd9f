"""The pipeline inside scikit-learn's meta-estimators and tools."""

import numpy as np
import pytest
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    HalvingGridSearchCV,
    RandomizedSearchCV,
    TunedThresholdClassifierCV,
    cross_validate,
)
from sklearn.preprocessing import StandardScaler

from sklearn_pneumo import make_pneumo_pipeline

FAST = dict(epochs=2, batch_size=32, model__filters=4, model__dense_units=8)


@pytest.fixture
def pipe():
    return make_pneumo_pipeline((28, 28), input="images", random_state=0, **FAST)


def test_calibrated_classifier(pipe, mnist):
    images, y = mnist
    calibrated = CalibratedClassifierCV(pipe, cv=2).fit(images, y)
    proba = calibrated.predict_proba(images)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)


def test_tuned_threshold(pipe, mnist):
    images, y = mnist
    pipe.set_params(cnn__epochs=10, cnn__model__filters=8, cnn__batch_size=16)
    tuned = TunedThresholdClassifierCV(pipe, cv=2, scoring="balanced_accuracy")
    tuned.fit(images, y)
    assert 0 < tuned.best_threshold_ < 1
    assert set(tuned.predict(images)) <= {0, 1}


def test_randomized_and_halving_searches(pipe, mnist):
    images, y = mnist
    grid = {"cnn__epochs": [1, 2], "cnn__model__filters": [2, 4]}
    randomized = RandomizedSearchCV(
        pipe, grid, n_iter=2, cv=2, scoring="roc_auc", random_state=0
    ).fit(images, y)
    assert randomized.best_params_.keys() == grid.keys()
    halving = HalvingGridSearchCV(
        pipe, grid, cv=2, factor=2, min_resources=40, random_state=0
    ).fit(images, y)
    assert halving.best_estimator_.predict(images).shape == y.shape


def test_several_scorers(pipe, mnist):
    images, y = mnist
    scores = cross_validate(
        pipe,
        images,
        y,
        cv=2,
        scoring=["accuracy", "roc_auc", "balanced_accuracy", "neg_log_loss"],
    )
    assert np.all(scores["test_neg_log_loss"] < 0)


def test_extra_step_between_resize_and_network(pipe, mnist):
    images, y = mnist
    pipe.steps.insert(2, ("scale", StandardScaler()))
    assert list(pipe.named_steps) == ["load", "resize", "scale", "sample", "cnn"]
    assert pipe.fit(images, y).predict_proba(images).shape == (len(y), 2)


def test_html_repr(pipe):
    html = pipe._repr_html_()
    for name in ("GrayscaleResize", "RandomOverSampler", "CNNClassifier"):
        assert name in html


def test_sample_weight_reaches_keras_through_metadata_routing(mnist):
    images, y = mnist
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pneumo_pipeline(
            (28, 28), None, input="images", random_state=0, **FAST
        )
        pipe.named_steps["cnn"].set_fit_request(sample_weight=True)
        weights = np.where(y == 1, 0.0, 1.0)  # only class 0 counts
        pipe.fit(images, y, sample_weight=weights)
        ignored_class_1 = pipe.predict_proba(images)[:, 0].mean()
        pipe.fit(images, y)
        plain = pipe.predict_proba(images)[:, 0].mean()
    assert ignored_class_1 > plain
