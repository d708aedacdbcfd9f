"""Patient-grouped evaluation: file-name parser, grouped hold-outs, grouped CV."""

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    StratifiedGroupKFold,
    cross_validate,
)

from sklearn_pneumo import CNNClassifier, make_pneumo_pipeline
from sklearn_pneumo._holdout import holdout_indices
from sklearn_pneumo._prior_shift import store_source_state
from sklearn_pneumo.datasets import load_chest_xray_224, patient_groups


@pytest.mark.parametrize(
    "name, patient",
    [
        ("PNEUMONIA/person1_bacteria_1.jpeg", "person1"),
        ("person1_virus_6.jpeg", "person1"),
        ("person447_virus_921_1.jpeg", "person447"),
        ("PERSON3_BACTERIA_10.JPG", "PERSON3"),
        ("NORMAL/IM-0429-0001.jpeg", "IM-0429"),
        ("IM-0429-0001-0002.jpeg", "IM-0429"),
        ("NORMAL2-IM-0383-0001.jpeg", "NORMAL2-IM-0383"),
        ("x/scan.png", "x/scan.png"),
        ("person_bacteria.jpeg", "person_bacteria.jpeg"),
        ("IM-0429.jpeg", "IM-0429.jpeg"),
    ],
)
def test_patient_parser(name, patient):
    assert patient_groups([name]).tolist() == [patient]


def test_bundled_files_have_patients():
    paths, y, groups = load_chest_xray_224(return_groups=True)
    assert len(paths) == len(groups) == 200
    assert all(group in path for group, path in zip(groups, paths))
    counts = np.unique(groups, return_counts=True)[1]
    assert counts.max() > 1  # several images of one patient


@pytest.mark.parametrize("fraction", [0.1, 0.25])
def test_grouped_holdout_keeps_patients_apart(fraction):
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 60, 300)
    y = (groups % 3 == 0).astype(int)
    train, held_out = holdout_indices(y, fraction, 0, groups)
    assert not set(groups[train]) & set(groups[held_out])
    assert sorted(np.concatenate([train, held_out])) == list(range(300))
    assert abs(len(held_out) / 300 - fraction) < 0.1
    assert set(y[held_out]) == {0, 1}


def test_a_class_smaller_than_the_folds_still_holds_out_whole_patients():
    y, patients = np.repeat([0, 1], 6), np.arange(12) // 2  # 3 patients a class
    train, held_out = holdout_indices(y, 0.1, 0, patients)
    assert len(held_out) and not set(patients[train]) & set(patients[held_out])
    assert sorted(np.concatenate([train, held_out])) == list(range(12))


def _flat_xrays(size=16):
    paths, y, groups = load_chest_xray_224(return_groups=True)
    rows = make_pneumo_pipeline((size, size))[:2].transform(paths)
    return rows, y, groups


def test_classifier_holds_out_whole_patients(monkeypatch):
    X, y, groups = _flat_xrays()
    seen = {}
    original = holdout_indices

    def spy(y, fraction, random_state=None, groups=None):
        seen["groups"] = groups
        seen["split"] = original(y, fraction, random_state, groups)
        return seen["split"]

    def stored(estimator, proba, labels=None, patients=None):
        seen["patients"] = patients
        return store_source_state(estimator, proba, labels, patients)

    monkeypatch.setattr("sklearn_pneumo._classifier.holdout_indices", spy)
    monkeypatch.setattr("sklearn_pneumo._classifier.store_source_state", stored)
    clf = CNNClassifier(
        epochs=1, model__filters=4, validation_split=0.2, random_state=0
    ).fit(X, y, groups=groups)
    train, held_out = seen["split"]
    assert not set(groups[train]) & set(groups[held_out])
    assert "val_loss" in clf.history_
    # The score reference counts the held-out X-rays by their patients.
    np.testing.assert_array_equal(seen["patients"], groups[held_out])
    assert clf.source_score_design_effects_.shape == (2,)
    assert np.all(clf.source_score_design_effects_ >= 1)


def test_groups_that_do_not_match_the_samples_are_refused():
    X, y, groups = _flat_xrays()
    pipe = make_pneumo_pipeline(
        (16, 16), sampler="over", input="images", epochs=1, validation_split=0.2
    )
    keep = np.arange(40, 200)  # 60 normal, 100 pneumonia: over-sampling adds rows
    images = X[keep].reshape(-1, 16, 16)
    with pytest.raises(ValueError, match="sampler"):
        pipe.fit(images, y[keep], cnn__groups=groups[keep])


@pytest.fixture(scope="module")
def small_pipeline():
    return make_pneumo_pipeline(
        (24, 24),
        preset="tuned",
        epochs=2,
        model__filters=4,
        model__conv_blocks=2,
        random_state=0,
    )


def test_grouped_cross_validation_on_files(small_pipeline):
    paths, y, groups = load_chest_xray_224(return_groups=True)
    cv = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=0)
    scores = cross_validate(
        small_pipeline,
        paths,
        y,
        groups=groups,
        cv=cv,
        scoring="roc_auc",
        return_indices=True,
        params={"cnn__groups": groups},
    )
    assert len(scores["test_score"]) == 3
    for train, test in zip(scores["indices"]["train"], scores["indices"]["test"]):
        assert not set(groups[train]) & set(groups[test])


def test_grouped_grid_search_with_metadata_routing(small_pipeline):
    paths, y, groups = load_chest_xray_224(return_groups=True)
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            small_pipeline,
            {"cnn__epochs": [1, 2]},
            cv=GroupKFold(n_splits=2),
            scoring="roc_auc",
        ).fit(paths, y, groups=groups)
    assert search.best_params_["cnn__epochs"] in (1, 2)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
