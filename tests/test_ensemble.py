"""Several seeds averaged: make_pneumo_ensemble."""

import numpy as np
import pytest
from conftest import TINY_NETWORK
from sklearn.base import clone

from sklearn_pneumo import load_model, make_pneumo_ensemble, save_model

FAST = {**TINY_NETWORK, "epochs": 2, "batch_size": 16}


@pytest.fixture(scope="module")
def fitted(mnist):
    images, y = mnist
    pipe = make_pneumo_ensemble(
        2, (28, 28), preset="paper", input="images", random_state=0, **FAST
    )
    return pipe.fit(images, y)


def test_probabilities_are_the_mean_of_the_members(fitted, mnist):
    images, _ = mnist
    rows = fitted.named_steps["resize"].transform(images)
    members = fitted.named_steps["ensemble"].estimators_
    expected = np.mean([member.predict_proba(rows) for member in members], axis=0)
    np.testing.assert_allclose(fitted.predict_proba(images), expected, rtol=1e-6)
    assert fitted.predict(images).shape == (len(images),)


def test_members_differ_by_seed(fitted):
    first, second = (
        member.named_steps["cnn"]
        for member in fitted.named_steps["ensemble"].estimators_
    )
    assert (first.random_state, second.random_state) == (0, 1)
    assert not np.allclose(
        first.model_.get_weights()[0], second.model_.get_weights()[0]
    )


def test_save_and_load(fitted, mnist, tmp_path):
    images, _ = mnist
    save_model(fitted, tmp_path / "ensemble.pneumo")
    loaded = load_model(tmp_path / "ensemble.pneumo")
    np.testing.assert_array_equal(
        loaded.predict_proba(images), fitted.predict_proba(images)
    )
    # Members reached by name are the same fitted objects as by position.
    ensemble = loaded.named_steps["ensemble"]
    assert ensemble.named_estimators_["member_1"] is ensemble.estimators_[1]


def test_clone_and_params():
    pipe = make_pneumo_ensemble(3, (28, 28), random_state=5, epochs=1)
    params = clone(pipe).get_params()
    assert params["ensemble__voting"] == "soft"
    assert [params[f"ensemble__member_{i}__cnn__random_state"] for i in range(3)] == [
        5,
        6,
        7,
    ]
    assert params["ensemble__member_2__cnn__class_weight"] == "balanced"  # tuned
    assert params["ensemble__member_0__sample"] == "passthrough"


@pytest.mark.parametrize("n_members", [0, -1, 1.5, "3"])
def test_bad_member_count(n_members):
    with pytest.raises(ValueError, match="n_members"):
        make_pneumo_ensemble(n_members)
