"""8-bit ONNX networks: kept only when they answer as the float ones do."""

import re

import numpy as np
import pytest

from sklearn_pneumo import export_onnx, load_onnx, load_pretrained
from sklearn_pneumo.datasets import load_chest_xray_224, load_chest_xray_sample


def test_the_shipped_int8_form_answers_as_the_float_one():
    paths, y = load_chest_xray_sample()
    int8 = load_pretrained(runtime="onnx-int8")
    float32 = load_pretrained(runtime="onnx")
    quantization = int8.manifest["quantization"]
    assert quantization["weights"] == "int8 in a 7-bit range, per channel"
    assert quantization["roc_auc_int8"] >= quantization["roc_auc"] - 0.003
    assert quantization["agreement"] >= 0.99
    got, expected = int8.predict_proba(paths), float32.predict_proba(paths)
    # 7-bit weights (reduce_range): one of the 16 later X-rays moves by 0.074.
    np.testing.assert_allclose(got, expected, atol=0.08)
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 15 / 16
    assert "quantization" not in float32.manifest


def test_the_shipped_int8_form_flags_as_the_float_one():
    paths, _ = load_chest_xray_224()
    int8 = load_pretrained(runtime="onnx-int8")
    float32 = load_pretrained(runtime="onnx")
    got, expected = int8.assess(paths), float32.assess(paths)
    assert got.outlier.mean() <= 0.05
    assert (got.outlier == expected.outlier).mean() >= 0.98
    np.testing.assert_allclose(got.typicality, expected.typicality, atol=0.5)
    assert int8.manifest["quantization"]["outlier_agreement"] >= 0.99


def test_an_int8_form_that_answers_otherwise_is_refused(fitted_pipeline, tmp_path):
    paths, y = load_chest_xray_224()
    out = tmp_path / "int8.onnx.zip"
    with pytest.raises(ValueError, match="needs calibration="):
        export_onnx(fitted_pipeline, out, quantize="int8")
    with pytest.raises(ValueError, match="quantize must be None or 'int8'"):
        export_onnx(fitted_pipeline, out, quantize="int4")
    # Calibrated on one X-ray, its activations' ranges are far too narrow.
    with pytest.raises(ValueError, match="lose too much.*nothing was written"):
        export_onnx(
            load_pretrained(),
            out,
            quantize="int8",
            calibration=paths[:1],
            holdout=(paths[1::2], y[1::2]),
        )
    assert not out.exists()


def test_an_int8_form_that_flags_otherwise_is_refused(monkeypatch, tmp_path):
    """With its first block in 8 bits, the shipped network flags every X-ray."""
    from sklearn_pneumo import _quantize

    paths, y = load_chest_xray_224()
    out = tmp_path / "int8.onnx.zip"
    monkeypatch.setattr(_quantize, "_shallow_feature_nodes", lambda *_: [])
    with pytest.raises(ValueError, match="nothing was written") as refused:
        export_onnx(
            load_pretrained(),
            out,
            quantize="int8",
            calibration=paths[::4],
            holdout=(paths[1::4], y[1::4]),
        )
    flags = re.search(r"the same outlier flag for ([\d.]+)%", str(refused.value))
    assert float(flags.group(1)) < 99
    assert not out.exists()


def test_an_int8_archive_records_what_it_was_checked_on(tmp_path):
    paths, y = load_chest_xray_224()
    out = tmp_path / "int8.onnx.zip"
    report = export_onnx(
        load_pretrained(),
        out,
        quantize="int8",
        calibration=paths[::4],
        holdout=(paths[1::4], y[1::4]),
    )
    assert report.holdout_xrays == 50 and report.calibration_xrays == 50
    assert report.outlier_agreement >= 0.98
    assert load_onnx(out).manifest["quantization"] == dict(report)
