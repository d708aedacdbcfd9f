"""CNNClassifier alone: scikit-learn's common checks and classifier behaviour."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_pneumo import CNNClassifier
from sklearn_pneumo._feature_gaussians import first_block
from sklearn_pneumo._holdout import holdout_indices
from sklearn_pneumo._views import (
    contrast_drawn,
    contrast_processed,
    reframed,
    sharpened,
    sharpening_drawn,
)

#: Tiny, fast, deterministic network for scikit-learn's checks.
SMALL = dict(
    model__filters=4,
    model__dense_units=8,
    model__conv_blocks=2,
    epochs=5,
    batch_size=1000,
    random_state=0,
)

EXPECTED_FAILED_CHECKS = {
    "check_estimator_tags_renamed": (
        "the parent scikeras.wrappers.BaseWrapper still defines _more_tags; "
        "CNNClassifier defines __sklearn_tags__, which scikit-learn reads"
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "Keras weights the loss per batch; a weight of 2 is not two copies of a "
        "sample once batches are shuffled"
    ),
    "check_sample_weight_equivalence_on_sparse_data": "same as the dense case",
    "check_mixin_order": (
        "scikeras.wrappers.KerasClassifier lists BaseWrapper before ClassifierMixin; "
        "reordering in a subclass is an MRO error, so tags declare the classifier"
    ),
    "check_no_attributes_set_in_init": (
        "routed model__* parameters are scikeras keyword parameters, stored as "
        "attributes by design (get_params returns them)"
    ),
    "check_supervised_y_2d": (
        "scikeras accepts 2-D y as multi-output without a DataConversionWarning"
    ),
}


@parametrize_with_checks(
    [CNNClassifier(**SMALL)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
# The checks fit on a handful of features (2, 3, 10...), not square images:
# the classifier reads them as 1-pixel-high images and says so, as intended.
@pytest.mark.filterwarnings("ignore:X has \\d+ features, not a square number")
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    X = rng.random((60, 64), dtype=np.float32) * 0.5
    X[y == 1, :8] += 0.5  # a bright band at the top of class-1 images
    return X, y


def test_is_a_classifier_and_cv_is_stratified(data):
    X, y = data
    clf = CNNClassifier(**SMALL)
    assert is_classifier(clf)
    assert isinstance(check_cv(5, y, classifier=is_classifier(clf)), StratifiedKFold)


def test_roc_auc_scoring_and_proba_shape(data):
    X, y = data
    scores = cross_val_score(CNNClassifier(**SMALL), X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    clf = CNNClassifier(**SMALL).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 2)
    assert clf.predict_proba(X[:1]).shape == (1, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


def test_string_labels(data):
    X, y = data
    labels = np.where(y == 1, "pneumonia", "normal")
    clf = CNNClassifier(**SMALL).fit(X, labels)
    assert list(clf.classes_) == ["normal", "pneumonia"]
    assert set(clf.predict(X)) <= {"normal", "pneumonia"}


def test_image_size_is_inferred_or_checked(data):
    X, y = data
    assert CNNClassifier(**SMALL).fit(X, y).image_size_ == (8, 8)
    clf = CNNClassifier(image_size=(4, 16), **SMALL).fit(X, y)
    assert clf.model_.input_shape == (None, 4, 16, 1)
    with pytest.raises(ValueError, match="image_size"):
        CNNClassifier(image_size=(5, 5), **SMALL).fit(X, y)
    with pytest.warns(UserWarning, match="image_size"):
        CNNClassifier(**SMALL).fit(X[:, :60], y)


def test_clear_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="at least 2 classes"):
        CNNClassifier(**SMALL).fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        CNNClassifier(**SMALL).fit(X, y[:-1])
    with pytest.raises(NotFittedError):
        CNNClassifier(**SMALL).predict(X)
    clf = CNNClassifier(**SMALL).fit(X, y)
    with pytest.raises(ValueError, match="8x8 images"):
        clf.predict(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(ValueError, match="2-D"):
        clf.predict(X.reshape(60, 8, 8))


def test_same_seed_same_model_in_one_process(data):
    X, y = data
    first = CNNClassifier(**SMALL).fit(X, y).predict_proba(X)
    second = clone(CNNClassifier(**SMALL)).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)


def test_validation_split_is_stratified_even_on_sorted_data(data):
    X, y = data  # sorted by class: Keras' own split would hold out only class 1
    clf = CNNClassifier(validation_split=0.2, **SMALL).fit(X, y)
    assert len(clf.history_["val_loss"]) == SMALL["epochs"]
    train, held_out = holdout_indices(y, 0.2, 0)
    assert sorted(set(y[held_out])) == [0, 1]
    assert len(train) == 48 and not set(train) & set(held_out)


def test_refits_do_not_warn_of_retracing():
    import logging

    from sklearn.model_selection import cross_validate

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        rng = np.random.default_rng(0)
        X, y = rng.random((60, 64), dtype=np.float32), np.repeat([0, 1], 30)
        for _ in range(2):
            clf = CNNClassifier(epochs=1, model__filters=2)
            cross_validate(clf, X, y, cv=5, scoring="roc_auc")
    finally:
        logger.removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]


def test_prediction_skips_keras_data_pipeline(data, monkeypatch):
    X, y = data
    clf = CNNClassifier(**SMALL).fit(X, y)
    # Keras' predict, through scikeras (a keyword argument takes that path).
    expected = {n: clf.predict_proba(X[:n], batch_size=4) for n in (1, 5, len(X))}

    def no_predict(*args, **kwargs):
        raise AssertionError("Keras predict was called")

    monkeypatch.setattr(clf.model_, "predict", no_predict)
    clf.set_params(batch_size=4)  # the same batches, one predict_on_batch each
    for n, proba in expected.items():
        np.testing.assert_array_equal(clf.predict_proba(X[:n]), proba)


def test_bfloat16_inference_uses_a_copy_with_the_same_weights(data):
    X, y = data
    clf = CNNClassifier(**SMALL).fit(X, y)
    float32 = clf.predict_proba(X)
    clf.set_params(inference_dtype_policy="mixed_bfloat16")
    bfloat16 = clf.predict_proba(X)
    network = clf._network("mixed_bfloat16")
    # The first block, whose maps the outlier model reads, stays in float32.
    kept = set(first_block(clf.model_))
    assert network is not clf.model_ and kept
    assert [layer.compute_dtype for layer in network.layers[:-1]] == [
        "float32" if layer.name in kept else "bfloat16" for layer in network.layers[:-1]
    ]
    assert clf.model_.layers[0].compute_dtype == "float32"
    assert not np.array_equal(bfloat16, float32)
    np.testing.assert_allclose(bfloat16, float32, atol=0.02)
    assert clf._network("mixed_bfloat16") is network  # built once
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), bfloat16)
    clf.fit(X, y)  # new weights: a new copy
    assert clf._network("mixed_bfloat16") is not network
    assert clf._network(None) is clf.model_


def test_clahe_processes_a_share_of_the_training_part_only(data, monkeypatch):
    X, y = data
    import sklearn_pneumo._classifier as classifier_module

    seen = []

    def spy(images, share, seed, contrast_range):
        processed = contrast_processed(images, share, seed, contrast_range)
        changed = (processed != images).any(axis=(1, 2, 3))
        seen.append((len(images), share, contrast_range, changed))
        return processed

    monkeypatch.setattr(classifier_module, "contrast_processed", spy)
    clf = CNNClassifier(validation_split=0.2, clahe=0.25, **SMALL).fit(X, y)
    assert clf.get_params()["clahe"] == 0.25
    [(n_images, share, contrast_range, changed)] = seen
    assert (n_images, share, contrast_range) == (48, 0.25, False)  # 12 held out
    assert changed.sum() == 12
    plain = CNNClassifier(validation_split=0.2, **SMALL).fit(X, y)
    assert len(seen) == 1  # clahe=0 processes nothing
    assert not np.allclose(clf.predict_proba(X), plain.predict_proba(X))
    ranged = CNNClassifier(
        validation_split=0.2, clahe=0.25, contrast_range=True, **SMALL
    ).fit(X, y)
    assert ranged.get_params()["contrast_range"] is True
    assert seen[-1][:3] == (48, 0.25, True)
    assert not np.allclose(clf.predict_proba(X), ranged.predict_proba(X))
    # A range with no share to give it to says so, and processes nothing.
    with pytest.warns(UserWarning, match=r"clahe=0: none is processed"):
        CNNClassifier(contrast_range=True, outlier_rate=None, **SMALL).fit(X, y)
    assert seen[-1][:3] == (48, 0.25, True)


def test_contrast_processed_draws_with_its_seed_and_keeps_the_input():
    images = np.random.default_rng(1).random((10, 16, 16, 1), dtype=np.float32)
    before = images.copy()
    first = contrast_processed(images, 0.3, seed=0)
    np.testing.assert_array_equal(images, before)
    np.testing.assert_array_equal(first, contrast_processed(images, 0.3, seed=0))
    changed = (first != images).any(axis=(1, 2, 3))
    assert changed.sum() == 3
    assert (first >= 0).all() and (first <= 1).all()
    with pytest.raises(ValueError, match=r"clahe needs intensities in \[0, 1\].* to 2"):
        contrast_processed(images * 255, 0.3, seed=0)
    # With a range, the same X-rays are chosen and processed otherwise.
    ranged = contrast_processed(images, 0.3, seed=0, contrast_range=True)
    np.testing.assert_array_equal(changed, (ranged != images).any(axis=(1, 2, 3)))
    assert not np.array_equal(ranged[changed], first[changed])
    np.testing.assert_array_equal(
        ranged, contrast_processed(images, 0.3, seed=0, contrast_range=True)
    )


def test_contrast_drawn_draws_both_kinds_of_processing():
    """Global equalization maps intensities monotonically; CLAHE does not."""
    image = np.random.default_rng(2).random((48, 48))
    order = np.argsort(image, axis=None)
    monotone = []
    for seed in range(12):
        processed = contrast_drawn(image, np.random.default_rng(seed))
        assert processed.dtype == np.float32 and processed.shape == image.shape
        assert 0 <= processed.min() and processed.max() <= 1
        assert not np.allclose(processed, image)
        np.testing.assert_array_equal(
            processed, contrast_drawn(image, np.random.default_rng(seed))
        )
        monotone.append(bool((np.diff(processed.ravel()[order]) >= -1e-6).all()))
    assert 0 < sum(monotone) < len(monotone)


def test_sharpen_sharpens_a_share_of_the_training_part_only(data, monkeypatch):
    X, y = data
    import sklearn_pneumo._classifier as classifier_module

    seen = []

    def spy(images, share, seed):
        processed = sharpened(images, share, seed)
        seen.append((len(images), share, (processed != images).any(axis=(1, 2, 3))))
        return processed

    monkeypatch.setattr(classifier_module, "sharpened", spy)
    clf = CNNClassifier(validation_split=0.2, sharpen=0.25, outlier_rate=None, **SMALL)
    clf.fit(X, y)
    assert clf.get_params()["sharpen"] == 0.25
    [(n_images, share, changed)] = seen
    assert (n_images, share) == (48, 0.25)  # 12 held out
    # Masks narrower than a pixel leave some of the 12 chosen 16-px images be.
    assert 0 < changed.sum() <= 12


def test_sharpened_draws_other_xrays_than_the_contrast_share():
    images = np.random.default_rng(1).random((40, 64, 64, 1), dtype=np.float32)
    before = images.copy()
    first = sharpened(images, 0.5, seed=0)
    np.testing.assert_array_equal(images, before)
    np.testing.assert_array_equal(first, sharpened(images, 0.5, seed=0))
    changed = (first != images).any(axis=(1, 2, 3))
    processed = (contrast_processed(images, 0.5, seed=0) != images).any(axis=(1, 2, 3))
    assert changed.sum() == processed.sum() == 20
    assert 0 < (changed & processed).sum() < 20
    assert (first >= 0).all() and (first <= 1).all()
    with pytest.raises(ValueError, match=r"sharpen needs intensities in \[0, 1\]"):
        sharpened(images * 255, 0.5, seed=0)


def test_sharpening_drawn_spans_fine_and_wide_masks():
    """Across an edge, a mask changes a band as wide as its radius."""
    image = np.full((96, 96), 0.3)
    image[:, 48:] = 0.7
    bands = []
    for seed in range(16):
        processed = sharpening_drawn(image, np.random.default_rng(seed))
        assert processed.dtype == np.float32 and processed.shape == image.shape
        assert 0 <= processed.min() and processed.max() <= 1
        np.testing.assert_array_equal(
            processed, sharpening_drawn(image, np.random.default_rng(seed))
        )
        bands.append(int((np.abs(processed - image)[48] > 1e-3).sum()))
    assert min(bands) > 0 and max(bands) >= 4 * min(bands)


def test_reframe_frames_a_share_of_each_class_of_the_training_part(data, monkeypatch):
    X, y = data
    import sklearn_pneumo._classifier as classifier_module

    seen = []

    def spy(images, labels, share, seed, normal):
        framed = reframed(images, labels, share, seed, normal)
        changed = (framed != images).any(axis=(1, 2, 3))
        seen.append((np.asarray(labels).ravel(), share, normal, changed))
        return framed

    monkeypatch.setattr(classifier_module, "reframed", spy)
    clf = CNNClassifier(validation_split=0.2, reframe=0.5, **SMALL).fit(X, y)
    assert clf.get_params()["reframe"] == 0.5
    [(labels, share, normal, changed)] = seen
    assert (len(labels), share, normal) == (48, 0.5, 0)  # 12 held out, untouched
    for label in (0, 1):
        assert changed[labels == label].sum() == round((labels == label).sum() / 2)
    names = np.where(y == 0, "normal", "pneumonia")
    CNNClassifier(reframe=0.5, **SMALL).fit(X, names)
    assert seen[-1][2] == 0
    CNNClassifier(reframe=0.5, **SMALL).fit(X, np.where(y == 0, "normal", "bacterial"))
    assert seen[-1][2] == 1  # "normal" comes second among the sorted classes
    CNNClassifier(reframe=0.5, **SMALL).fit(X, np.where(y == 0, "viral", "bacterial"))
    assert seen[-1][2] is None  # types of pneumonia: none is normal


def test_reframed_crops_normal_heights_and_other_widths():
    # A square with a border one pixel wide: the crop of a tenth at each end
    # of one axis takes the border off that axis only.
    image = np.zeros((20, 20, 1), dtype=np.float32)
    image[[0, -1], :] = image[:, [0, -1]] = 1.0
    images = np.stack([image, image])
    before = images.copy()
    normal, other = reframed(images, np.array([0, 1]), 1.0, seed=0)
    np.testing.assert_array_equal(images, before)
    assert normal[[0, -1], 10, 0].max() < 0.5 and normal[10, [0, -1], 0].min() == 1
    assert other[10, [0, -1], 0].max() < 0.5 and other[[0, -1], 10, 0].min() == 1
    np.testing.assert_array_equal(
        reframed(images, np.array([0, 1]), 0.0, seed=0), images
    )
    both = reframed(images, np.array([0, 1]), 1.0, seed=0, normal=None)
    np.testing.assert_array_equal(both[0], other)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_parameters_nothing_reads_are_refused(data, method):
    # scikeras keeps any a__b keyword and reads only its routed prefixes: a
    # pipeline-style name given to the classifier itself would do nothing.
    X, y = data
    clf = CNNClassifier(cnn__clahe=0.3, **SMALL)
    with pytest.raises(ValueError, match=r"'cnn__clahe'.*\(e\.g\. clahe=\.\.\.\)"):
        getattr(clf, method)(X, y)
