"""Adapting to a site's class shares from its unlabeled X-rays (Saerens et al.)."""

import csv

import numpy as np
import pytest
from conftest import TINY_NETWORK
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from sklearn_pneumo import (
    CNNClassifier,
    PriorShiftAdapter,
    export_onnx,
    load_model,
    load_onnx,
    load_pretrained,
    measure_source_priors,
    predict_files,
    save_model,
)
from sklearn_pneumo._prior_shift import em_priors, shift_priors
from sklearn_pneumo.datasets import load_chest_xray_224


def gaussian_site(n, shares, rng):
    """Inputs of three classes, each a Gaussian around its own corner."""
    y = rng.choice(len(shares), size=n, p=shares)
    X = rng.normal(size=(n, 2)) + np.eye(3, 2)[y] * 2.5
    return X, y


@pytest.fixture(scope="module")
def source_model():
    """A classifier fitted on equal shares, its source shares measured held out."""
    rng = np.random.default_rng(0)
    model = LogisticRegression().fit(*gaussian_site(3000, [1 / 3] * 3, rng))
    measure_source_priors(model, *gaussian_site(3000, [1 / 3] * 3, rng))
    return model


@pytest.mark.parametrize("shares", [[0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
def test_recovers_a_sites_shares_and_answers_better(source_model, shares):
    rng = np.random.default_rng(1)
    X, y = gaussian_site(2000, shares, rng)
    adapter = PriorShiftAdapter(source_model, random_state=0).fit(X)
    np.testing.assert_allclose(adapter.priors_, shares, atol=0.04)
    low, high = adapter.priors_interval_
    assert np.all(low <= adapter.priors_) and np.all(adapter.priors_ <= high)
    assert np.all(high - low < 0.1)
    assert not adapter.site_unlike_source_  # its shares alone changed
    X_new, y_new = gaussian_site(2000, shares, rng)
    before = accuracy_score(y_new, source_model.predict(X_new))
    assert accuracy_score(y_new, adapter.predict(X_new)) > before + 0.01
    np.testing.assert_allclose(adapter.predict_proba(X_new).sum(axis=1), 1)


def test_the_source_shares_change_nothing(source_model):
    rng = np.random.default_rng(2)
    X, _ = gaussian_site(3000, [1 / 3] * 3, rng)
    adapter = PriorShiftAdapter(source_model, n_bootstrap=0).fit(X)
    np.testing.assert_allclose(adapter.priors_, adapter.source_priors_, atol=0.03)
    assert np.isnan(adapter.priors_interval_).all()


def test_a_site_whose_x_rays_differ_keeps_the_models_answers(source_model):
    rng = np.random.default_rng(9)
    X, y = gaussian_site(600, [0.5, 0.3, 0.2], rng)
    X[y == 0] += [1.25, 0]  # class 0 scored as class 1 more often: not its share
    adapter = PriorShiftAdapter(source_model, n_bootstrap=0, random_state=0).fit(X)
    assert adapter.label_shift_p_value_ < 0.01
    assert adapter.site_unlike_source_ and adapter.differs_beyond_shares
    assert not adapter.site_uncertain_  # a model without a review cut
    np.testing.assert_allclose(adapter.predict_proba(X), source_model.predict_proba(X))
    moved = adapter.set_params(on_uncertain_site="adapt").predict_proba(X)
    assert np.abs(moved - source_model.predict_proba(X)).max() > 0.1


def test_without_labelled_source_scores_the_check_is_not_made():
    rng = np.random.default_rng(10)
    model = LogisticRegression().fit(*gaussian_site(1000, [1 / 3] * 3, rng))
    measure_source_priors(model, gaussian_site(1000, [1 / 3] * 3, rng)[0])
    assert model.source_score_counts_ is None
    X, y = gaussian_site(600, [0.5, 0.3, 0.2], rng)
    X[y == 0] += [1.25, 0]
    adapter = PriorShiftAdapter(model, n_bootstrap=0).fit(X)
    assert np.isnan(adapter.label_shift_p_value_)
    assert not adapter.site_unlike_source_


def test_an_adapter_saved_before_the_shares_check_keeps_by_uncertainty_alone(
    source_model,
):
    rng = np.random.default_rng(9)
    X, y = gaussian_site(600, [0.5, 0.3, 0.2], rng)
    X[y == 0] += [1.25, 0]
    adapter = PriorShiftAdapter(source_model, n_bootstrap=0, random_state=0).fit(X)
    state = dict(adapter.__getstate__())
    del state["site_unlike_source_"], state["label_shift_p_value_"]
    loaded = PriorShiftAdapter.__new__(PriorShiftAdapter)
    loaded.__setstate__(state)
    assert not loaded.differs_beyond_shares
    np.testing.assert_allclose(
        loaded.predict_proba(X),
        adapter.set_params(on_uncertain_site="adapt").predict_proba(X),
    )


def test_em_is_a_fixed_point_at_the_true_shares():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    priors = em_priors(proba, [0.5, 0.5])
    shifted = shift_priors(proba, [0.5, 0.5], priors)
    np.testing.assert_allclose(shifted.mean(axis=0), priors, atol=1e-6)


def test_refuses_what_it_cannot_use(source_model):
    rng = np.random.default_rng(3)
    X, _ = gaussian_site(20, [1 / 3] * 3, rng)
    with pytest.raises(ValueError, match="20 input.*min_samples=30"):
        PriorShiftAdapter(source_model).fit(X)
    bare = LogisticRegression().fit(*gaussian_site(300, [1 / 3] * 3, rng))
    with pytest.raises(ValueError, match="no source_priors_.*measure_source_priors"):
        PriorShiftAdapter(bare).fit(X)
    one_class = gaussian_site(500, [0.0, 0.0, 1.0], rng)[0]
    with pytest.warns(UserWarning, match="shares at their bound \\(0 0.0000, 1 0.00"):
        PriorShiftAdapter(source_model, n_bootstrap=0).fit(one_class)


@pytest.mark.parametrize("n", [40, 4000])
def test_prior_strength_keeps_a_small_sites_estimate_near_the_source(source_model, n):
    shares = np.array([0.6, 0.3, 0.1])
    X, _ = gaussian_site(n, shares, np.random.default_rng(6))
    kept, plain = (
        PriorShiftAdapter(source_model, prior_strength=strength, n_bootstrap=0).fit(X)
        for strength in (20, 0)
    )
    source = kept.source_priors_
    if n == 40:  # each share well on the way from the plain estimate to the source's
        pulled = (plain.priors_ - kept.priors_) / (plain.priors_ - source)
        assert np.all((0.2 < pulled) & (pulled < 1))
    else:  # many inputs: close to plain EM
        np.testing.assert_allclose(kept.priors_, plain.priors_, atol=0.005)
    assert np.abs(kept.priors_ - shares).max() < (0.2 if n == 40 else 0.03)


def test_a_strong_prior_still_warns_of_a_share_the_inputs_put_at_a_bound(
    source_model,
):
    one_class = gaussian_site(500, [0.0, 0.0, 1.0], np.random.default_rng(7))[0]
    adapter = PriorShiftAdapter(source_model, prior_strength=100, n_bootstrap=0)
    with pytest.warns(UserWarning, match="shares at their bound"):
        adapter.fit(one_class)
    assert adapter.priors_.min() > 0.05  # kept off the bound by the prior


def test_fit_changes_no_parameter_and_clones_frozen(source_model):
    X, _ = gaussian_site(300, [0.5, 0.3, 0.2], np.random.default_rng(4))
    adapter = PriorShiftAdapter(FrozenEstimator(source_model), n_bootstrap=5)
    params = adapter.get_params(deep=False)
    adapter.fit(X, y=np.zeros(len(X)))  # y is ignored
    assert adapter.get_params(deep=False) == params
    refitted = clone(adapter).fit(X)
    np.testing.assert_allclose(refitted.priors_, adapter.priors_)


def test_an_adapter_saved_before_prior_strength_loads_as_plain_em(source_model):
    X, _ = gaussian_site(300, [0.5, 0.3, 0.2], np.random.default_rng(4))
    adapter = PriorShiftAdapter(source_model, n_bootstrap=0).fit(X)
    state = adapter.__getstate__()
    del state["prior_strength"]
    loaded = PriorShiftAdapter.__new__(PriorShiftAdapter)
    loaded.__setstate__(state)
    assert loaded.get_params()["prior_strength"] == 0.0
    plain_em = PriorShiftAdapter(source_model, prior_strength=0, n_bootstrap=0)
    np.testing.assert_allclose(loaded.fit(X).priors_, plain_em.fit(X).priors_)
    assert not np.allclose(adapter.priors_, plain_em.priors_)


def test_an_adapter_saved_before_probabilities_loads_reweighing_calibrated_ones(
    source_model,
):
    X, _ = gaussian_site(300, [0.5, 0.3, 0.2], np.random.default_rng(4))
    adapter = PriorShiftAdapter(source_model, n_bootstrap=0).fit(X)
    state = dict(adapter.__getstate__())
    del state["probabilities"]
    loaded = PriorShiftAdapter.__new__(PriorShiftAdapter)
    loaded.__setstate__(state)
    assert loaded.get_params()["probabilities"] == "calibrated"
    np.testing.assert_allclose(
        loaded.predict_proba(X),
        adapter.set_params(probabilities="calibrated").predict_proba(X),
    )


def test_an_adapter_saved_before_on_uncertain_site_loads_adapting(source_model):
    X, _ = gaussian_site(300, [0.5, 0.3, 0.2], np.random.default_rng(4))
    adapter = PriorShiftAdapter(source_model, n_bootstrap=0).fit(X)
    assert adapter.site_uncertain_ is False  # a model without a review cut
    state = dict(adapter.__getstate__())
    del state["on_uncertain_site"], state["site_uncertain_"]
    loaded = PriorShiftAdapter.__new__(PriorShiftAdapter)
    loaded.__setstate__(state)
    assert loaded.get_params()["on_uncertain_site"] == "adapt"
    np.testing.assert_allclose(loaded.predict_proba(X), adapter.predict_proba(X))
    with pytest.raises(ValueError, match="did not measure site_uncertain_: fit it"):
        loaded.set_params(on_uncertain_site="keep").predict_proba(X)


@pytest.fixture(scope="module")
def network(mnist):
    """A small network with a hold-out, so with source_priors_.

    Trained long enough that its answers vary with the X-ray (at 28x28 the
    tiny network of two epochs answers one constant), so that comparing two
    scorers' answers can fail.
    """
    images, y = mnist
    rows = images.reshape(len(images), -1).astype(np.float32) / 255
    clf = CNNClassifier(
        model__filters=8,
        model__dense_units=8,
        epochs=20,
        batch_size=16,
        validation_split=0.25,
        random_state=0,
    ).fit(rows, y)
    assert np.ptp(clf.predict_proba(rows)[:, 1]) > 0.2
    return clf, rows, y


def test_a_network_learns_its_source_shares_from_its_hold_out(network):
    clf, rows, y = network
    assert clf.source_priors_.shape == (2,)
    np.testing.assert_allclose(clf.source_priors_.sum(), 1, atol=1e-5)
    held_out = len(y) - round(len(y) * 0.75)  # validation_split=0.25, by class
    assert abs(clf.source_score_counts_.sum() - held_out) <= 2
    assert clf.source_score_counts_.shape == (2, 2 * 5)
    assert np.all(np.diff(clf.source_score_edges_, axis=1) >= 0)
    unseen = CNNClassifier(**TINY_NETWORK, epochs=1, random_state=0).fit(rows, y)
    assert not hasattr(unseen, "source_priors_")


def test_leaves_outliers_out_keeps_flags_and_saves(network, tmp_path):
    clf, rows, _ = network
    noise = np.random.default_rng(5).random((20, rows.shape[1]), dtype=np.float32)
    site = np.vstack([rows[:60], noise])
    adapter = PriorShiftAdapter(clf, min_samples=10, random_state=0).fit(site)
    assert adapter.n_outliers_ == int(clf.is_outlier(site).sum()) > 0
    assert adapter.n_samples_ == len(site) - adapter.n_outliers_
    assessed, plain = adapter.assess(site), clf.assess(site)
    np.testing.assert_array_equal(assessed.outlier, plain.outlier)
    np.testing.assert_allclose(assessed.proba, adapter.predict_proba(site), atol=1e-5)
    save_model(adapter, tmp_path / "adapted.pneumo")
    loaded = load_model(tmp_path / "adapted.pneumo")
    np.testing.assert_allclose(loaded.predict_proba(site), adapter.predict_proba(site))
    np.testing.assert_array_equal(loaded.priors_, adapter.priors_)


def test_a_site_flagged_more_than_the_validation_keeps_the_models_answers(
    network, tmp_path
):
    clf, rows, _ = network
    noise = np.random.default_rng(5).random((20, rows.shape[1]), dtype=np.float32)
    plain = PriorShiftAdapter(clf, min_samples=10, random_state=0).fit(rows[:80])
    assert plain.n_outliers_ <= 2 and not plain.site_flagged_  # rate 0.01
    site = np.vstack([rows[:60], noise])
    adapter = PriorShiftAdapter(clf, min_samples=10, random_state=0).fit(site)
    assert adapter.n_outliers_ >= 15 and adapter.site_flagged_
    assert adapter.differs_beyond_shares
    np.testing.assert_allclose(adapter.predict_proba(rows), clf.predict_proba(rows))
    export_onnx(clf, tmp_path / "model.onnx.zip")
    archive = load_onnx(tmp_path / "model.onnx.zip")
    assert archive.outlier_rate_ == clf.outlier_rate == 0.01
    assert PriorShiftAdapter(archive, min_samples=10).fit(site).site_flagged_


def test_a_patients_x_rays_count_as_fewer_draws_and_the_archive_keeps_it(
    network, tmp_path
):
    clf, rows, y = network
    export_onnx(clf, tmp_path / "model.onnx.zip")
    archive = load_onnx(tmp_path / "model.onnx.zip")
    np.testing.assert_array_equal(
        archive.source_score_design_effects_, clf.source_score_design_effects_
    )
    # Every X-ray taken twice, as one patient's two alike X-rays.
    twice, labels = np.vstack([rows, rows]), np.r_[y, y]
    patients = np.tile(np.arange(len(rows)), 2)
    measure_source_priors(archive, twice, labels, patients)
    assert np.all(archive.source_score_design_effects_ > 1.8)
    measure_source_priors(archive, twice, labels)
    np.testing.assert_array_equal(archive.source_score_design_effects_, [1, 1])


def test_an_adapted_border_trimming_model_writes_as_many_columns_as_its_header(
    tmp_path,
):
    paths, _ = load_chest_xray_224()
    model = load_pretrained()  # it trims borders: assess reports border_trimmed
    adapter = PriorShiftAdapter(model, min_samples=10, n_bootstrap=0)
    adapter.fit(paths[:12])
    predict_files(adapter, paths[12:15], tmp_path / "rows.csv")
    header, *rows = list(csv.reader((tmp_path / "rows.csv").open()))
    assert "border_trimmed" in header
    assert len(rows) == 3 and all(len(row) == len(header) for row in rows)


def test_at_the_source_shares_the_model_answers_unless_calibrated():
    rng = np.random.default_rng(8)
    # Strongly regularized, so under-confident: its calibration sharpens it.
    model = LogisticRegression(C=1e-3).fit(*gaussian_site(3000, [1 / 3] * 3, rng))
    measure_source_priors(model, *gaussian_site(3000, [1 / 3] * 3, rng))
    X, _ = gaussian_site(300, [0.5, 0.3, 0.2], rng)
    adapter = PriorShiftAdapter(
        model, probabilities="model", on_uncertain_site="adapt", n_bootstrap=0
    ).fit(X)
    adapter.priors_ = adapter.source_priors_.copy()  # a site of the source's shares
    np.testing.assert_allclose(adapter.predict_proba(X), model.predict_proba(X))
    calibrated = adapter.set_params(probabilities="calibrated").predict_proba(X)
    np.testing.assert_allclose(
        calibrated,
        shift_priors(
            model.predict_proba(X),
            adapter.source_priors_,
            adapter.priors_,
            adapter.source_calibration_,
        ),
    )
    assert np.abs(calibrated - model.predict_proba(X)).max() > 0.1
    with pytest.raises(ValueError, match="'probabilities' parameter"):
        adapter.set_params(probabilities="raw").predict_proba(X)


@pytest.mark.parametrize("probabilities", ["model", "calibrated"])
def test_an_adapted_model_exports_to_onnx_and_an_archive_adapts(
    network, tmp_path, probabilities
):
    clf, rows, _ = network
    site = rows[np.asarray(network[2]) == 1][:40]  # a site of pneumonia only
    adapter = PriorShiftAdapter(
        clf, probabilities=probabilities, n_bootstrap=0, random_state=0
    ).fit(site)
    export_onnx(adapter, tmp_path / "adapted.onnx.zip")
    scorer = load_onnx(tmp_path / "adapted.onnx.zip")
    expected = adapter.predict_proba(rows[:20])
    assert np.ptp(expected[:, 1]) > 0.05  # answers that vary with the X-ray
    np.testing.assert_allclose(scorer.predict_proba(rows[:20]), expected, atol=1e-4)
    np.testing.assert_allclose(scorer.assess(rows[:20]).proba, expected, atol=1e-4)
    export_onnx(clf, tmp_path / "plain.onnx.zip")
    plain = load_onnx(tmp_path / "plain.onnx.zip")
    np.testing.assert_allclose(plain.source_priors_, clf.source_priors_, atol=1e-6)
    np.testing.assert_array_equal(plain.source_score_counts_, clf.source_score_counts_)
    np.testing.assert_allclose(plain.source_score_edges_, clf.source_score_edges_)
    from_archive = PriorShiftAdapter(plain, n_bootstrap=0, random_state=0).fit(site)
    np.testing.assert_allclose(from_archive.priors_, adapter.priors_, atol=1e-3)
    # Scores equal to 1e-4 may move an X-ray across a bin edge: the same verdict.
    assert from_archive.site_unlike_source_ == adapter.site_unlike_source_


def test_an_archive_adapted_after_a_change_answers_as_the_adapter(tmp_path):
    paths, _ = load_chest_xray_224()
    scorer = load_pretrained(runtime="onnx")
    scorer.test_time_augmentation = False  # the shipped archive scores 5 views
    with pytest.warns(UserWarning, match="measured with other test-time views"):
        adapter = PriorShiftAdapter(scorer, n_bootstrap=0).fit(paths[::5])
    assert not adapter.site_uncertain_  # no cut to compare with
    with pytest.warns(UserWarning, match="measured with other test-time views"):
        export_onnx(adapter, tmp_path / "adapted.onnx.zip")
    archive = load_onnx(tmp_path / "adapted.onnx.zip")
    assert not hasattr(archive, "review_uncertainty_")  # it held for 5 views
    X = paths[1::20]
    assert np.ptp(adapter.predict_proba(X)[:, 1]) > 0.5  # answers that vary
    np.testing.assert_allclose(
        archive.predict_proba(X), adapter.predict_proba(X), atol=1e-6
    )
