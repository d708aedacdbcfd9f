"""The pipeline inside scikit-learn's meta-estimators and tools, on real X-rays."""

import numpy as np
import pytest
import sklearn
from conftest import TINY_NETWORK
from sklearn.calibration import CalibratedClassifierCV
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.inspection import permutation_importance
from sklearn.model_selection import (
    HalvingGridSearchCV,
    RandomizedSearchCV,
    TunedThresholdClassifierCV,
    cross_validate,
    learning_curve,
    validation_curve,
)
from sklearn.preprocessing import StandardScaler

from sklearn_pneumo import make_pneumo_pipeline

FAST = {**TINY_NETWORK, "epochs": 2, "batch_size": 8}


@pytest.fixture
def pipe():
    return make_pneumo_pipeline((28, 28), random_state=0, **FAST)


@pytest.fixture
def xrays(xray_paths):
    """The 16 real JPEG paths (8 normal, 8 pneumonia) and their labels."""
    return xray_paths


def test_calibrated_classifier(pipe, xrays):
    paths, y = xrays
    calibrated = CalibratedClassifierCV(pipe, cv=2).fit(paths, y)
    proba = calibrated.predict_proba(paths)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)


def test_tuned_threshold(pipe, xrays):
    paths, y = xrays
    pipe.set_params(cnn__epochs=5, cnn__model__filters=8)
    tuned = TunedThresholdClassifierCV(pipe, cv=2, scoring="balanced_accuracy")
    tuned.fit(paths, y)
    assert 0 < tuned.best_threshold_ < 1
    assert set(tuned.predict(paths)) <= {0, 1}


def test_randomized_and_halving_searches(pipe, xrays):
    paths, y = xrays
    grid = {"cnn__epochs": [1, 2], "cnn__model__filters": [2, 4]}
    randomized = RandomizedSearchCV(
        pipe, grid, n_iter=2, cv=2, scoring="roc_auc", random_state=0
    ).fit(paths, y)
    assert randomized.best_params_.keys() == grid.keys()
    halving = HalvingGridSearchCV(
        pipe, {"cnn__epochs": [1, 2]}, cv=2, factor=2, min_resources=8, random_state=0
    ).fit(paths, y)
    assert halving.best_estimator_.predict(paths).shape == y.shape


def test_several_scorers(pipe, xrays):
    paths, y = xrays
    scores = cross_validate(
        pipe,
        paths,
        y,
        cv=2,
        scoring=["accuracy", "roc_auc", "balanced_accuracy", "neg_log_loss"],
    )
    assert np.all(scores["test_neg_log_loss"] < 0)


def test_extra_step_between_resize_and_network(pipe, xrays):
    paths, y = xrays
    pipe.steps.insert(2, ("scale", StandardScaler()))
    assert list(pipe.named_steps) == ["load", "resize", "scale", "sample", "cnn"]
    assert pipe.fit(paths, y).predict_proba(paths).shape == (len(y), 2)


def test_html_repr(pipe):
    html = pipe._repr_html_()
    for name in ("GrayscaleResize", "RandomOverSampler", "CNNClassifier"):
        assert name in html


def test_sample_weight_reaches_keras_through_metadata_routing(xrays):
    paths, y = xrays
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pneumo_pipeline((28, 28), None, random_state=0, **FAST)
        pipe.named_steps["cnn"].set_fit_request(sample_weight=True)
        weights = np.where(y == 1, 0.0, 1.0)  # only class 0 counts
        pipe.fit(paths, y, sample_weight=weights)
        ignored_class_1 = pipe.predict_proba(paths)[:, 0].mean()
        pipe.fit(paths, y)
        plain = pipe.predict_proba(paths)[:, 0].mean()
    assert ignored_class_1 > plain


def test_inspection_and_curves(pipe, xrays):
    # The whole image is the one feature of a path pipeline: permuting it
    # gives every X-ray another's label.
    paths, y = xrays
    pipe.set_params(cnn__epochs=8, cnn__model__filters=8)
    pipe.fit(paths, y)
    result = permutation_importance(
        pipe, paths.reshape(-1, 1), y, scoring="roc_auc", n_repeats=3, random_state=0
    )
    assert result.importances.shape == (1, 3)
    assert np.isfinite(result.importances).all()
    train_scores, test_scores = validation_curve(
        pipe, paths, y, param_name="cnn__epochs", param_range=[1, 2], cv=2
    )
    assert train_scores.shape == test_scores.shape == (2, 2)
    assert np.isfinite(test_scores).all()
    sizes, _, scores = learning_curve(
        pipe,
        paths,
        y,
        train_sizes=[0.75, 1.0],
        cv=2,
        shuffle=True,  # sorted by class: the first rows alone are one class
        random_state=0,
        error_score="raise",
    )
    assert list(sizes) == [6, 8] and np.isfinite(scores).all()
