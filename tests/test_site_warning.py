"""The review cut a model carries, and the site warning it gives everywhere."""

import io
import warnings

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sklearn_pneumo import (
    PriorShiftAdapter,
    export_onnx,
    load_model,
    load_onnx,
    load_pretrained,
    measure_review_cut,
    measure_source_priors,
    predict_files,
    pretrained_record,
    review_report,
    save_model,
)
from sklearn_pneumo._site_warning import review_cut


@pytest.fixture(scope="module")
def measured(fitted_pipeline, xrays_224, tmp_path_factory):
    """A copy of the tiny pipeline, with test-time views and its review cut."""
    path = tmp_path_factory.mktemp("cut") / "model.pneumo"
    save_model(fitted_pipeline, path)
    model = load_model(path).set_params(cnn__test_time_augmentation=True)
    measure_source_priors(model, *xrays_224)  # for the adapters below
    cut = measure_review_cut(model, xrays_224[0], share=0.25)
    return model, cut


def test_the_cut_sends_the_share_asked_to_review(measured, xrays_224):
    model, cut = measured
    assessed = model.assess(xrays_224[0])
    read = assessed.uncertainty[~assessed.outlier]
    # The cut is rounded as the CSV writes uncertainties; the share is that
    # cut's, as measured.
    assert cut.n == len(read) and cut.uncertainty == pytest.approx(
        np.quantile(read, 0.75), abs=1e-4
    )
    written = np.round(read, 4)
    assert cut.share_above == pytest.approx(np.mean(written > cut.uncertainty))
    assert 0.125 <= cut.share_above <= 0.375
    assert review_cut(model) == (cut.uncertainty, cut.share_above)


def test_a_cut_that_cannot_send_its_share_is_refused(measured, xrays_224):
    model, cut = measured
    with pytest.raises(ValueError, match="for a share of 1%: too few inputs"):
        measure_review_cut(model, xrays_224[0], share=0.01)  # 1 % of 39
    assert model[-1].review_uncertainty_ == cut.uncertainty  # left as it was


def test_the_cut_travels_with_the_model(measured, xrays_224, tmp_path):
    model, cut = measured
    expected = (cut.uncertainty, cut.share_above)
    save_model(model, tmp_path / "m.pneumo")
    assert review_cut(load_model(tmp_path / "m.pneumo")) == expected
    export_onnx(model, tmp_path / "m.onnx.zip")
    scorer = load_onnx(tmp_path / "m.onnx.zip")
    assert review_cut(scorer) == pytest.approx(expected)
    paths, y = xrays_224
    adapter = PriorShiftAdapter(model, n_bootstrap=0, min_samples=10).fit(paths)
    assert review_cut(adapter) == expected
    # A page of the adapted Keras model: its networks' heatmaps, its cut.
    page = review_report(adapter, paths[:4], tmp_path / "page")
    assert page.heatmaps and page.uncertain is not None
    assert f"uncertainty above {cut.uncertainty:g}" in page.index.read_text()
    export_onnx(adapter, tmp_path / "a.onnx.zip")  # from Keras
    assert review_cut(load_onnx(tmp_path / "a.onnx.zip")) == pytest.approx(expected)
    archive = PriorShiftAdapter(scorer, n_bootstrap=0, min_samples=10).fit(paths)
    export_onnx(archive, tmp_path / "r.onnx.zip")  # an archive adapted again
    assert review_cut(load_onnx(tmp_path / "r.onnx.zip")) == pytest.approx(expected)
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid")
    assert review_cut(calibrated.fit(paths, y)) == expected
    assert review_cut(
        load_pretrained(runtime="onnx", test_time_augmentation=False)
    ) == (
        None,
        None,
    )


def test_a_cut_is_not_used_once_its_views_change(measured, xrays_224, tmp_path):
    model, cut = measured
    save_model(model, tmp_path / "m.pneumo")
    changed = load_model(tmp_path / "m.pneumo")
    assert review_cut(changed) == (cut.uncertainty, cut.share_above)
    changed.set_params(cnn__mirror_average=not changed[-1].mirror_average)
    with pytest.warns(UserWarning, match="measured with other test-time views"):
        assert review_cut(changed) == (None, None)
    changed.set_params(cnn__mirror_average=model[-1].mirror_average)
    assert review_cut(changed) == (cut.uncertainty, cut.share_above)
    # The shipped model's cut is of its five views: without them, no cut.
    shipped = load_pretrained(runtime="onnx")
    shipped.test_time_augmentation = False
    with pytest.warns(UserWarning, match="measure the cut again"):
        summary = predict_files(shipped, xrays_224[0][:3], io.StringIO())
    assert "uncertain" not in summary and summary.n_files == 3


def test_a_cut_needs_uncertainties_and_a_share(fitted_pipeline, xrays_224):
    with pytest.raises(ValueError, match="gives no uncertainty"):
        measure_review_cut(fitted_pipeline, xrays_224[0])  # one view, one network
    with pytest.raises(ValueError, match=r"share must be in \(0, 1\)"):
        measure_review_cut(fitted_pipeline, xrays_224[0], share=1.5)
    with pytest.raises(ValueError, match="has no assess"):
        measure_review_cut(LogisticRegression(), xrays_224[0])
    assert review_cut(fitted_pipeline) == (None, None)


@pytest.mark.parametrize(
    "classes, validated",
    # The three-class model's binary stage scores five views, its type
    # network one: no single value gives both.
    [("normal-pneumonia", [True]), ("normal-bacterial-viral", [])],
)
def test_the_shipped_cut_comes_with_the_views_it_was_measured_with(classes, validated):
    # Asked for explicitly, the views the record's cut was measured with keep
    # it; other views get no cut, and no warning on each call.
    review = pretrained_record(classes)["review"]
    expected = (review["uncertainty"], review["share_above"])
    assert review_cut(load_pretrained(classes, runtime="onnx")) == expected
    for views in (True, False):
        model = load_pretrained(classes, runtime="onnx", test_time_augmentation=views)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cut = review_cut(model)
        assert cut == (expected if views in validated else (None, None))


def test_the_shipped_model_warns_where_it_is_unsure(xray_paths, tmp_path):
    model = load_pretrained(runtime="onnx")
    review = pretrained_record()["review"]
    assert review_cut(model) == (review["uncertainty"], review["share_above"])
    paths = xray_paths[0]
    with pytest.warns(UserWarning, match="less sure of these X-rays"):
        summary = predict_files(model, paths, io.StringIO())
    assert summary.uncertain.more and summary.uncertain.above >= 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sure of these: no warning
        sure = predict_files(model, paths[-4:], io.StringIO())
    assert sure.uncertain.n == 4 and not sure.uncertain.more
    report = review_report(model, paths, tmp_path / "r", heatmaps=False)
    assert report.uncertain == summary.uncertain
    assert report.n_review >= summary.uncertain.above
