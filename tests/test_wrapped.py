"""Calibrated and threshold-tuned models keep the flags; log-odds for calibration."""

import csv

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import FixedThresholdClassifier

from sklearn_pneumo import predict_files
from sklearn_pneumo.datasets import load_chest_xray_224


@pytest.fixture(scope="module")
def calibration_xrays():
    paths, y = load_chest_xray_224()
    return paths[1::5], y[1::5]  # the shared pipeline was fitted on paths[::5]


def test_decision_function_is_the_log_odds(fitted_pipeline, calibration_xrays):
    paths, _ = calibration_xrays
    proba = fitted_pipeline.predict_proba(paths[:6])
    np.testing.assert_allclose(
        fitted_pipeline.decision_function(paths[:6]),
        np.log(proba[:, 1]) - np.log(proba[:, 0]),
        rtol=1e-5,
    )


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_a_calibrated_model_keeps_every_trust_column(
    fitted_pipeline, calibration_xrays, tmp_path
):
    paths, y = calibration_xrays
    calibrated = CalibratedClassifierCV(FrozenEstimator(fitted_pipeline))
    calibrated.fit(paths, y)
    predict_files(fitted_pipeline, paths[:8], tmp_path / "plain.csv")
    predict_files(calibrated, paths[:8], tmp_path / "calibrated.csv")
    plain, rows = (
        read_rows(tmp_path / "plain.csv"),
        read_rows(tmp_path / "calibrated.csv"),
    )
    assert list(rows[0]) == list(plain[0])
    assert {"typicality", "outlier", "uncertainty"} <= set(rows[0])
    for column in ("typicality", "outlier"):
        assert [r[column] for r in rows] == [r[column] for r in plain]
    np.testing.assert_allclose(
        [float(r["proba_PNEUMONIA"]) for r in rows],
        calibrated.predict_proba(paths[:8])[:, 1],
        atol=1e-6,
    )


def test_a_threshold_decides_the_prediction_column(
    fitted_pipeline, calibration_xrays, tmp_path
):
    paths, _ = calibration_xrays
    proba = fitted_pipeline.predict_proba(paths[:8])[:, 1]
    threshold = float(np.median(proba))
    tuned = FixedThresholdClassifier(
        FrozenEstimator(fitted_pipeline), threshold=threshold
    ).fit(paths[:8], np.arange(8) % 2)
    predict_files(tuned, paths[:8], tmp_path / "rows.csv")
    rows = read_rows(tmp_path / "rows.csv")
    expected = ["PNEUMONIA" if p >= threshold else "NORMAL" for p in proba]
    assert [r["prediction"] for r in rows] == expected
    assert "outlier" in rows[0] and "PNEUMONIA" in expected and "NORMAL" in expected


def test_calibrate_tunes_a_threshold_for_an_objective(tmp_path):
    import shutil

    from test_cli import run_cli

    from sklearn_pneumo import load_model

    paths, y = load_chest_xray_224()
    for label, name in ((0, "NORMAL"), (1, "PNEUMONIA")):
        (tmp_path / "site" / name).mkdir(parents=True)
        for path in paths[y == label][:20]:
            shutil.copy(path, tmp_path / "site" / name)
    out = tmp_path / "tuned.pneumo"
    result = run_cli(
        "calibrate",
        "--pretrained",
        tmp_path / "site",
        "--objective",
        "balanced_accuracy",
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert "Decision threshold for balanced_accuracy: 0." in result.stdout
    model = load_model(out)
    assert isinstance(model, FixedThresholdClassifier)
    assert 0 < model.threshold < 1
    rows_file = tmp_path / "rows.csv"
    assert (
        run_cli("predict", out, tmp_path / "site", "--out", rows_file).returncode == 0
    )
    rows = read_rows(rows_file)
    proba = np.array([float(r["proba_PNEUMONIA"]) for r in rows])
    expected = np.where(proba >= model.threshold, "PNEUMONIA", "NORMAL")
    assert [r["prediction"] for r in rows] == expected.tolist()
    assert {"outlier", "uncertainty", "border_trimmed"} <= set(rows[0])


def test_a_sensitivity_floor_picks_the_most_specific_threshold_above_it(
    fitted_pipeline, xrays_224
):
    from sklearn_pneumo._cli import _sensitivity_floor, _tuned_threshold

    score = _sensitivity_floor(0.75)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert score(y, np.array([0, 0, 0, 1, 1, 1, 1, 0]), [0, 1]) == 0.75
    assert score(y, np.array([0, 0, 0, 0, 1, 0, 0, 1]), [0, 1]) == -0.5
    paths, y = xrays_224
    proba = fitted_pipeline.predict_proba(paths)[:, 1]
    thresholds = {
        floor: _tuned_threshold(fitted_pipeline, paths, y, None, floor).threshold
        for floor in (0.5, 0.9)
    }
    assert thresholds[0.9] <= thresholds[0.5]
    assert np.mean(proba[y == 1] >= thresholds[0.9]) >= 0.8


def test_calibrate_takes_one_threshold_objective(tmp_path):
    from test_cli import run_cli

    result = run_cli(
        "calibrate",
        "--pretrained",
        tmp_path,
        "--objective",
        "f1",
        "--min-sensitivity",
        "0.9",
        "--out",
        tmp_path / "m.pneumo",
    )
    assert result.returncode == 1
    assert "--objective or --min-sensitivity, not both" in result.stderr
    bad = run_cli("calibrate", "--pretrained", tmp_path, "--min-sensitivity", "2")
    assert bad.returncode == 2 and "between 0 and 1" in bad.stderr
