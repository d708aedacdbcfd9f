"""Several seeds averaged: make_pneumo_ensemble."""

import numpy as np
import pytest
from conftest import TINY_NETWORK
from sklearn.base import clone

from sklearn_pneumo import (
    fitted_networks,
    load_model,
    make_pneumo_ensemble,
    save_model,
)

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


def test_a_member_keeps_its_own_mirror_average(fitted, mnist):
    images = mnist[0][:20]
    mirrored = images.reshape(-1, 28, 28)[:, :, ::-1].reshape(images.shape)
    first, second = fitted.named_steps["ensemble"].estimators_
    first.set_params(cnn__mirror_average=True)
    try:
        difference = fitted.predict_proba(images) - fitted.predict_proba(mirrored)
    finally:
        first.set_params(cnn__mirror_average=False)
    # The first member answers both alike; the second does not.
    resize = fitted.named_steps["resize"]
    second_difference = second.predict_proba(
        resize.transform(images)
    ) - second.predict_proba(resize.transform(mirrored))
    assert np.abs(second_difference).max() > 1e-3
    np.testing.assert_allclose(difference, second_difference / 2, atol=1e-5)


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


def test_a_parallel_ensemble_learns_a_non_square_size_in_every_worker(xray_paths):
    # The size reaches each joblib worker (separate processes) with the call.
    paths, y = xray_paths
    pipe = make_pneumo_ensemble(
        2, (40, 56), preset="paper", random_state=0, epochs=1, **TINY_NETWORK
    )
    pipe.set_params(ensemble__n_jobs=2).fit(paths, y)
    assert [cnn.image_size_ for cnn in fitted_networks(pipe)] == [(40, 56)] * 2


def test_patient_groups_reach_every_member(mnist):
    images, y = mnist
    rows = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:20]])
    pipe = make_pneumo_ensemble(
        2, (28, 28), preset="paper", input="images", validation_split=0.2, **FAST
    )
    # The members' over-sampler adds rows, so the groups no longer match them:
    # the members' classifiers saw the groups and say so.
    with pytest.raises(ValueError, match="groups has 80 entries"):
        pipe.fit(images[rows], y[rows], ensemble__groups=np.arange(len(rows)))


def test_weights_reach_probabilities_assessment_and_typicality(fitted, mnist):
    images = mnist[0][:20]
    rows = fitted[:-1].transform(images)
    first = fitted.named_steps["ensemble"].estimators_[0]
    try:
        fitted.set_params(ensemble__weights=[1, 0])
        result = fitted.assess(images)
        np.testing.assert_allclose(result.proba, first.predict_proba(rows), rtol=1e-5)
        np.testing.assert_allclose(result.proba, fitted.predict_proba(images))
        own = first[-1].score_samples(rows) - first[-1].offset_
        np.testing.assert_allclose(result.typicality, own, rtol=1e-5)
        np.testing.assert_allclose(fitted.score_samples(images), own, rtol=1e-5)
        assert np.all(result.uncertainty == 0)  # one member left to disagree
    finally:
        fitted.set_params(ensemble__weights=None)


def test_ensemble_settings_override_the_members_at_prediction(fitted, mnist):
    images = mnist[0][:10]
    plain = fitted.assess(images)
    try:
        fitted.set_params(ensemble__test_time_augmentation=True)
        viewed = fitted.assess(images)
    finally:
        fitted.set_params(ensemble__test_time_augmentation=None)
    assert not np.allclose(viewed.proba, plain.proba)
    # Typicality comes from each X-ray as it is, whatever the views.
    np.testing.assert_allclose(viewed.typicality, plain.typicality, rtol=1e-5)
    assert not any(c.test_time_augmentation for c in fitted_networks(fitted))
