"""The model that ships with the package: loads quietly, predicts real X-rays."""

import logging
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from sklearn_pneumo import (
    ImageLoader,
    fitted_networks,
    gradcam_heatmaps,
    load_pretrained,
    predict_files,
    pretrained_record,
)
from sklearn_pneumo.datasets import load_chest_xray_224, load_chest_xray_sample


@pytest.fixture(scope="module")
def loaded(pretrained_loading):
    return pretrained_loading


def test_loads_without_warnings(loaded):
    _, caught, records = loaded
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []


def test_every_current_parameter_is_set(loaded):
    # A model saved before a parameter was added cannot be cloned or searched.
    model, _, _ = loaded
    params = clone(model).get_params(deep=True)
    assert params["resize__border"] == "trim"  # trained on "keep": see the record
    assert params["resize__contrast"] == "keep"


def test_predictions_match_the_record_and_beat_chance(loaded):
    model, _, _ = loaded
    record = pretrained_record()
    paths, y = load_chest_xray_sample()  # the public validation folder
    proba = model.predict_proba(paths)[:, 1]
    assert ((proba > 0.5) == y).mean() >= 0.75  # chance is 0.5
    recorded = record["sample_probabilities"]
    assert sorted(recorded) == sorted(Path(p).name for p in paths)
    # Another, equally exact, resize or summation order moves a probability
    # by far less than 1e-4; a wrong model or preprocessing by far more.
    for path, p in zip(paths, proba):
        assert p == pytest.approx(recorded[Path(path).name], abs=1e-4)


def test_record_describes_the_model(loaded):
    model, _, _ = loaded
    record = pretrained_record()
    classifiers = fitted_networks(model)
    assert len(classifiers) == record["members"] >= 1
    assert all(list(c.image_size_) == record["image_size"] for c in classifiers)
    assert all(c.test_time_augmentation for c in classifiers)
    assert record["training_data"]["files"] == 5216
    assert 0 < record["threshold"] < 1
    assert 0.5 < record["validation"]["roc_auc"] <= 1


@pytest.mark.parametrize("classes", ["normal-pneumonia", "normal-bacterial-viral"])
def test_padded_xrays_get_their_unpadded_answer(classes, tmp_path):
    # Another site's exports padded in black or white: trimmed before the
    # resize, they score as the X-ray itself and are not flagged.
    from PIL import Image

    model = load_pretrained(classes)
    paths, _ = load_chest_xray_sample()
    gray = np.asarray(Image.open(paths[0]).convert("L"))
    pad = round(0.06 * max(gray.shape))
    files = []
    for name, value in (("plain", None), ("black", 0), ("white", 255)):
        files.append(tmp_path / f"{name}.png")
        image = gray if value is None else np.pad(gray, pad, constant_values=value)
        Image.fromarray(image).save(files[-1])
    assessed = model.assess(files)
    # Reduced on decoding by another integer factor: close, not equal.
    np.testing.assert_allclose(assessed.proba[1:], assessed.proba[[0, 0]], atol=0.03)
    assert not assessed.outlier.any()
    height, width = gray.shape
    share = 1 - height * width / ((height + 2 * pad) * (width + 2 * pad))
    assert assessed.border_trimmed[0] < 0.01
    np.testing.assert_allclose(assessed.border_trimmed[1:], share, atol=0.03)
    assert pretrained_record(classes)["border"]["predicts"] == "trim"


def test_images_in_memory_give_the_same_probabilities(loaded):
    model, _, _ = loaded
    paths, _ = load_chest_xray_sample()
    on_images = load_pretrained(input="images")
    images = ImageLoader(decode_size=(150, 150)).transform(paths[:4])
    np.testing.assert_allclose(
        on_images.predict_proba(images), model.predict_proba(paths[:4]), atol=1e-6
    )
    with pytest.raises(ValueError, match="input"):
        load_pretrained(input="arrays")


def test_reuse_gradcam_csv_and_calibration(loaded, tmp_path):
    model, _, _ = loaded
    paths, y = load_chest_xray_sample()
    heatmaps = gradcam_heatmaps(model, paths[:2])
    assert heatmaps.shape[0] == 2 and 0 <= heatmaps.min() <= heatmaps.max() <= 1
    assert predict_files(model, paths, tmp_path / "out.csv").n_errors == 0
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 17
    more_paths, more_y = load_chest_xray_224()
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid")
    calibrated.fit(more_paths[::4], more_y[::4])
    assert calibrated.predict_proba(paths).shape == (16, 2)


def test_predicts_in_float32_and_a_bfloat16_copy_agrees(loaded):
    # Trained in bfloat16; its outlier models were fitted on float32
    # features, so it predicts in float32, as its ONNX form does.
    model, _, _ = loaded
    paths, _ = load_chest_xray_sample()
    assert all(c.inference_dtype_policy == "float32" for c in fitted_networks(model))
    as_shipped = model.predict_proba(paths)
    final = model.steps[-1][0]  # "cnn", or "ensemble" for several networks
    shipped_policy = model.get_params()[f"{final}__inference_dtype_policy"]
    try:
        model.set_params(**{f"{final}__inference_dtype_policy": "mixed_bfloat16"})
        bfloat16 = model.predict_proba(paths)
    finally:
        model.set_params(**{f"{final}__inference_dtype_policy": shipped_policy})
    assert not np.array_equal(bfloat16, as_shipped)
    # bfloat16 keeps 8 bits of mantissa; through four batch-normalised
    # convolutions the shipped network's probabilities move by up to 0.013.
    np.testing.assert_allclose(bfloat16, as_shipped, atol=0.02)


def test_test_time_augmentation_can_be_turned_off(loaded):
    model, _, _ = loaded
    paths, _ = load_chest_xray_sample()
    once = load_pretrained(test_time_augmentation=False)
    final = once.steps[-1][0]
    assert once.get_params()[f"{final}__test_time_augmentation"] is False
    members = [
        network.set_params(test_time_augmentation=False).predict_proba(
            once[:2].transform(paths[:4])
        )
        for network in fitted_networks(once)
    ]
    np.testing.assert_allclose(
        once.predict_proba(paths[:4]), np.mean(members, axis=0), rtol=1e-5
    )
    assert not np.allclose(
        once.predict_proba(paths[:4]), model.predict_proba(paths[:4])
    )


# --- the three-class model ------------------------------------------------------


@pytest.fixture(scope="module")
def three_class():
    return load_pretrained("normal-bacterial-viral")


def test_three_class_model_matches_its_record(three_class):
    record = pretrained_record("normal-bacterial-viral")
    assert three_class.classes_.tolist() == record["classes"]
    assert record["classes"] == ["bacterial", "normal", "viral"]
    types = three_class.pneumonia_type_
    assert types.get_params()["cnn__test_time_augmentation"] is False
    assert types.get_params()["cnn__mirror_average"] is record["mirror_average"]["on"]
    # So a mirrored X-ray gets the type the X-ray gets.
    rows = types[:-1].transform(load_chest_xray_sample()[0])
    height, width = types[-1].image_size_
    mirrored = rows.reshape(-1, height, width)[:, :, ::-1].reshape(rows.shape)
    np.testing.assert_allclose(
        types[-1].predict_proba(mirrored), types[-1].predict_proba(rows), atol=1e-5
    )
    # Trained further on site copies, it tells the types apart no worse.
    tuned, figure = record["fine_tuned"], "bacterial_vs_viral_roc_auc"
    assert tuned["after"]["plain"][figure] >= tuned["before"]["plain"][figure]
    paths, y = load_chest_xray_sample()
    proba = three_class.predict_proba(paths)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    pneumonia = 1 - proba[:, record["classes"].index("normal")]
    # The bound train_pretrained.py ships it under (chance is 0.5).
    assert ((pneumonia > 0.5) == y).mean() >= 0.625
    # Pneumonia or not is the binary model's answer, X-ray by X-ray.
    binary = load_pretrained().predict_proba(paths)[:, 1]
    np.testing.assert_allclose(pneumonia, binary, atol=1e-6)
    for model, recorded in [
        (three_class, record["two_stage"]["sample_probabilities"]),
        (types, record["sample_probabilities"]),
    ]:
        for path, row in zip(paths, model.predict_proba(paths)):
            expected = [recorded[Path(path).name][str(c)] for c in model.classes_]
            np.testing.assert_allclose(row, expected, atol=1e-4)
    # Its ONNX form gives the same answers and flags.
    onnx_form = load_pretrained("normal-bacterial-viral", runtime="onnx")
    assessed = onnx_form.assess(paths)
    np.testing.assert_allclose(assessed.proba, proba, atol=1e-4)
    np.testing.assert_array_equal(assessed.outlier, three_class.assess(paths).outlier)


def test_an_unknown_question_is_refused():
    with pytest.raises(ValueError, match="normal-bacterial-viral"):
        load_pretrained("normal-covid")
    with pytest.raises(ValueError, match="normal-bacterial-viral"):
        pretrained_record("normal-covid")


def test_command_line_scores_three_classes(three_class, xray_dir, tmp_path, capsys):
    from sklearn_pneumo._cli import main

    out = tmp_path / "types.csv"
    argv = ["predict", "--pretrained", "--classes", "normal-bacterial-viral"]
    assert main([*argv, str(xray_dir), "--out", str(out)]) == 0
    header, *rows = out.read_text().splitlines()
    columns = header.split(",")
    assert columns[2:5] == ["proba_bacterial", "proba_normal", "proba_viral"]
    assert "border_trimmed" in columns  # the binary model trims borders
    assert len(rows) == 16
    assert all(len(row.split(",")) == len(columns) for row in rows)
    with pytest.raises(SystemExit):
        main(["predict", "--classes", "normal-viral", str(xray_dir)])
    capsys.readouterr()
    model_file = ["predict", "--classes", "normal-bacterial-viral", str(out)]
    assert main([*model_file, str(xray_dir)]) == 1
    assert "--classes chooses a shipped model" in capsys.readouterr().err
