"""Three classes (normal, bacterial, viral) through every path, on small models."""

import csv
import shutil

import numpy as np
import pytest
from conftest import TINY_NETWORK
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_pneumo import (
    evaluate_multiclass,
    format_report,
    gradcam_heatmaps,
    load_model,
    make_pneumo_ensemble,
    make_pneumo_pipeline,
    predict_files,
    save_model,
)
from sklearn_pneumo.datasets import load_chest_xray_224, pneumonia_type

SMALL = {**TINY_NETWORK, "epochs": 2, "batch_size": 32, "random_state": 0}
CLASSES = ["bacterial", "normal", "viral"]


@pytest.fixture(scope="module")
def three():
    """The 200 bundled 224x224 X-rays labelled normal, bacterial or viral."""
    paths, _ = load_chest_xray_224()
    return paths, np.array([pneumonia_type(path) for path in paths])


@pytest.fixture(scope="module")
def fitted(three):
    paths, y = three
    return make_pneumo_pipeline((24, 24), validation_split=0.2, **SMALL).fit(
        paths[::2], y[::2]
    )


def test_labels_from_file_names(three):
    _, y = three
    assert dict(zip(*np.unique(y, return_counts=True))) == {
        "bacterial": 63,
        "normal": 100,
        "viral": 37,
    }
    with pytest.raises(ValueError, match="neither its name"):
        pneumonia_type("PNEUMONIA/scan_0001.jpeg")


def test_probabilities_have_a_column_per_class(fitted, three):
    paths, _ = three
    proba = fitted.predict_proba(paths[1::20])
    assert fitted.classes_.tolist() == CLASSES
    assert proba.shape == (10, 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    predicted = fitted.predict(paths[1::20])
    np.testing.assert_array_equal(predicted, fitted.classes_[proba.argmax(axis=1)])


def test_outlier_flags_and_uncertainty(fitted, three):
    paths, _ = three
    result = fitted.assess(paths[1::20])
    assert result.proba.shape == (10, 3) and result.outlier.dtype == bool
    np.testing.assert_allclose(result.proba, fitted.predict_proba(paths[1::20]))
    try:
        fitted.set_params(cnn__test_time_augmentation=True)
        assert (fitted.assess(paths[1::20]).uncertainty >= 0).all()
    finally:
        fitted.set_params(cnn__test_time_augmentation=False)


def test_csv_save_load_and_gradcam(fitted, three, tmp_path):
    paths, _ = three
    summary = predict_files(fitted, paths[1::20], tmp_path / "out.csv")
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert summary.n_errors == 0 and len(rows) == 10
    assert [f"proba_{c}" for c in CLASSES] == [k for k in rows[0] if "proba" in k]
    assert {row["prediction"] for row in rows} <= set(CLASSES)
    save_model(fitted, tmp_path / "three.pneumo")
    loaded = load_model(tmp_path / "three.pneumo")
    np.testing.assert_allclose(
        loaded.predict_proba(paths[1::20]), fitted.predict_proba(paths[1::20])
    )
    heatmaps = gradcam_heatmaps(fitted, paths[1:4], target="viral")
    assert heatmaps.shape == (3, 24, 24)


def test_report_per_class(fitted, three):
    paths, y = three
    scores = evaluate_multiclass(y[1::2], fitted.predict_proba(paths[1::2]), CLASSES)
    assert scores["classes"] == CLASSES
    assert np.array(scores["confusion_matrix"]).sum() == 100
    assert set(scores["per_class"]) == set(CLASSES)
    assert "viral" in format_report(scores)


def test_grid_search_with_multiclass_scorers(three):
    paths, y = three
    search = GridSearchCV(
        make_pneumo_pipeline((16, 16), **{**SMALL, "epochs": 1}),
        {"cnn__model__filters": [2, 4]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring=["roc_auc_ovr", "balanced_accuracy"],
        refit="roc_auc_ovr",
    )
    search.fit(paths[::2], y[::2])
    assert np.isfinite(search.cv_results_["mean_test_roc_auc_ovr"]).all()
    assert search.predict_proba(paths[1:3]).shape == (2, 3)


def test_an_ensemble_of_three_class_networks(three):
    paths, y = three
    pipe = make_pneumo_ensemble(2, (16, 16), preset="paper", **{**SMALL, "epochs": 1})
    pipe.fit(paths[::2], y[::2])
    result = pipe.assess(paths[1:6])
    assert result.proba.shape == (5, 3) and pipe.classes_.tolist() == CLASSES
    np.testing.assert_allclose(result.proba, pipe.predict_proba(paths[1:6]))


def test_the_command_line_trains_three_classes(three, tmp_path):
    from test_cli import run_cli

    paths, _ = three
    for i, path in enumerate(paths[::2]):
        split = "test" if i % 4 == 0 else "train"
        folder = tmp_path / split / ("NORMAL" if "NORMAL" in path else "PNEUMONIA")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder)
    args = ["train", "--data", tmp_path, "--classes", "normal-bacterial-viral"]
    args += ["--image-size", "16", "--epochs", "1", "--filters", "4"]
    result = run_cli(*args, "--save", tmp_path / "three.pneumo")
    assert result.returncode == 0, result.stderr
    assert "bacterial" in result.stderr and "viral" in result.stdout
    out = tmp_path / "out.csv"
    result = run_cli(
        "predict", tmp_path / "three.pneumo", tmp_path / "test", "--out", out
    )
    assert result.returncode == 0, result.stderr
    header = out.read_text().splitlines()[0]
    assert all(f"proba_{c}" in header for c in CLASSES)
    assert run_cli("train", "--classes", "normal-bacterial-viral").returncode == 1
