"""ONNX archives: export, scoring with ONNX Runtime alone, the same answers."""

import csv
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import TINY_NETWORK
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import FunctionTransformer

from sklearn_pneumo import (
    PneumoPipeline,
    export_onnx,
    load_onnx,
    load_pretrained,
    make_pneumo_ensemble,
    predict_files,
)
from sklearn_pneumo._cli import main
from sklearn_pneumo.datasets import load_chest_xray_sample


@pytest.fixture(scope="module")
def archive(fitted_pipeline, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "pipeline.onnx.zip"
    export_onnx(fitted_pipeline, path)
    return path


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def assert_same_assessment(expected, got):
    np.testing.assert_allclose(got.proba, expected.proba, atol=1e-4)
    np.testing.assert_allclose(got.typicality, expected.typicality, atol=1e-3)
    np.testing.assert_array_equal(got.outlier, expected.outlier)
    np.testing.assert_allclose(got.uncertainty, expected.uncertainty, atol=1e-4)


def test_pipeline_scores_the_same_in_onnx(fitted_pipeline, archive, xrays_224):
    paths, _ = xrays_224
    scorer = load_onnx(archive)
    assert scorer.classes_.tolist() == fitted_pipeline.classes_.tolist()
    assert [type(s).__name__ for s in scorer.steps] == [
        "ImageLoader",
        "GrayscaleResize",
    ]
    assert_same_assessment(fitted_pipeline.assess(paths), scorer.assess(paths))
    np.testing.assert_array_equal(scorer.predict(paths), fitted_pipeline.predict(paths))
    np.testing.assert_array_equal(
        scorer.is_outlier(paths), fitted_pipeline.is_outlier(paths)
    )
    assert scorer.offset_ == fitted_pipeline.offset_


def test_noisy_xrays_are_flagged_the_same_in_onnx(
    fitted_pipeline, archive, xrays_224, tmp_path
):
    """The noise level is read from the images, outside the graph: same flags."""
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i, path in enumerate(xrays_224[0][:6]):
        # At the network's 16x16, where the resize cannot average it away.
        image = Image.open(path).convert("L").resize((16, 16), Image.BILINEAR)
        image = np.asarray(image, dtype=np.float32) / 255
        noisy = np.clip(image + rng.normal(0, 0.3, image.shape), 0, 1)
        paths.append(tmp_path / f"noisy_{i}.png")
        Image.fromarray(np.round(noisy * 255).astype(np.uint8)).save(paths[-1])
    expected = fitted_pipeline.assess(paths)
    assert expected.outlier.all()
    assert_same_assessment(expected, load_onnx(archive).assess(paths))


def test_test_time_views_are_the_same_in_onnx(fitted_pipeline, archive, xrays_224):
    paths = xrays_224[0][:12]
    scorer = load_onnx(archive)
    scorer.test_time_augmentation = True
    try:
        fitted_pipeline.set_params(cnn__test_time_augmentation=True)
        expected = fitted_pipeline.assess(paths)
    finally:
        fitted_pipeline.set_params(cnn__test_time_augmentation=False)
    got = scorer.assess(paths)
    assert not np.isnan(got.uncertainty).any()
    assert_same_assessment(expected, got)


def test_mirror_average_answers_a_mirrored_xray_as_the_xray(
    fitted_pipeline, xrays_224, tmp_path
):
    from PIL import Image, ImageOps

    # At the network's 16x16, so that loading and resizing change nothing.
    paths, mirrored = [], []
    for i, path in enumerate(xrays_224[0][:12]):
        image = Image.open(path).convert("L").resize((16, 16), Image.BILINEAR)
        paths.append(tmp_path / f"xray_{i}.png")
        mirrored.append(tmp_path / f"mirrored_{i}.png")
        image.save(paths[-1])
        ImageOps.mirror(image).save(mirrored[-1])
    as_is, flipped = fitted_pipeline.assess(paths), fitted_pipeline.assess(mirrored)
    # The network alone answers the mirror image otherwise.
    assert np.abs(as_is.proba - flipped.proba).max() > 1e-3
    try:
        fitted_pipeline.set_params(cnn__mirror_average=True)
        expected = fitted_pipeline.assess(paths)
        np.testing.assert_allclose(
            fitted_pipeline.predict_proba(mirrored), expected.proba, atol=1e-5
        )
        export_onnx(fitted_pipeline, tmp_path / "mirror.onnx.zip")
    finally:
        fitted_pipeline.set_params(cnn__mirror_average=False)
    np.testing.assert_allclose(
        expected.proba, (as_is.proba + flipped.proba) / 2, atol=1e-5
    )
    # Typicality and its flags stay those of the X-ray as it is.
    np.testing.assert_array_equal(expected.typicality, as_is.typicality)
    scorer = load_onnx(tmp_path / "mirror.onnx.zip")
    assert scorer.manifest["members"][0]["mirror_average"] is True
    assert_same_assessment(expected, scorer.assess(paths))
    np.testing.assert_allclose(
        scorer.predict_proba(mirrored), expected.proba, atol=1e-4
    )


def test_weighted_ensemble_of_images_scores_the_same(mnist, tmp_path):
    images, y = mnist
    pipe = make_pneumo_ensemble(
        2,
        (16, 16),
        input="images",
        epochs=1,
        random_state=0,
        **TINY_NETWORK,
    )
    pipe.set_params(ensemble__weights=[3, 1], ensemble__test_time_augmentation=True)
    pipe.fit(images[:80], y[:80])
    path = tmp_path / "ensemble.onnx.zip"
    export_onnx(pipe, path)
    scorer = load_onnx(path)
    manifest = scorer.manifest
    assert manifest["input"] == "images" and manifest["combine"] == "ensemble"
    assert [m["weight"] for m in manifest["members"]] == [3.0, 1.0]
    assert_same_assessment(pipe.assess(images[80:]), scorer.assess(images[80:]))
    np.testing.assert_allclose(
        scorer.score_samples(images[80:]), pipe.score_samples(images[80:]), atol=1e-3
    )
    # The weights matter here: the members differ by more than the tolerance,
    # so an archive that averaged them evenly would fail the check above.
    pipe.set_params(ensemble__weights=[1, 1])
    even = pipe.predict_proba(images[80:])
    assert np.abs(scorer.predict_proba(images[80:]) - even).max() > 10 * 1e-4


def test_export_names_the_step_it_cannot_export(fitted_pipeline, xrays_224, tmp_path):
    custom = PneumoPipeline(
        [
            *fitted_pipeline.steps[:2],
            ("mine", FunctionTransformer()),
            fitted_pipeline.steps[-1],
        ]
    )
    with pytest.raises(ValueError, match="step 'mine' \\(FunctionTransformer\\)"):
        export_onnx(custom, tmp_path / "x.onnx.zip")
    unfitted = make_pneumo_ensemble(2, (16, 16))
    with pytest.raises(ValueError, match="needs a fitted model"):
        export_onnx(unfitted, tmp_path / "x.onnx.zip")
    # A model that is no pipeline is named as a model, not as a step.
    calibrated = CalibratedClassifierCV(FrozenEstimator(fitted_pipeline))
    calibrated.fit(*xrays_224)
    with pytest.raises(
        ValueError, match="cannot export a CalibratedClassifierCV: the model must"
    ):
        export_onnx(calibrated, tmp_path / "x.onnx.zip")
    assert not (tmp_path / "x.onnx.zip").exists()


def test_a_damaged_archive_is_refused_by_name(archive, tmp_path):
    with zipfile.ZipFile(archive) as source:
        members = {name: source.read(name) for name in source.namelist()}
    network = bytearray(members["network_0.onnx"])
    network[len(network) // 2] ^= 1
    damaged = tmp_path / "damaged.onnx.zip"
    with zipfile.ZipFile(damaged, "w") as target:
        for name, data in {**members, "network_0.onnx": bytes(network)}.items():
            target.writestr(name, data)
    with pytest.raises(ValueError, match="damaged.onnx.zip.*network_0.onnx does not"):
        load_onnx(damaged)
    not_zip = tmp_path / "text.onnx.zip"
    not_zip.write_text("hello")
    with pytest.raises(ValueError, match="text.onnx.zip is not .*zip"):
        load_onnx(not_zip)
    manifest = json.loads(members["manifest.json"])
    manifest["version"] = 99
    with zipfile.ZipFile(tmp_path / "v99.onnx.zip", "w") as target:
        for name, data in {**members, "manifest.json": json.dumps(manifest)}.items():
            target.writestr(name, data)
    with pytest.raises(ValueError, match="format version 99"):
        load_onnx(tmp_path / "v99.onnx.zip")


#: Makes importing TensorFlow, Keras or scikeras fail, then scores an archive.
WITHOUT_TENSORFLOW = """
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"tensorflow", "keras", "scikeras", "tf2onnx"}:
            raise ImportError(f"{name} is refused here")

sys.meta_path.insert(0, Refuse())
from sklearn_pneumo import load_onnx, predict_files

scorer = load_onnx(sys.argv[1])
summary = predict_files(scorer, sys.argv[3:], sys.argv[2])
print(summary.n_files, summary.n_errors)
"""


def test_scores_files_where_tensorflow_cannot_be_imported(
    fitted_pipeline, archive, xrays_224, tmp_path
):
    paths = [*xrays_224[0][:8], str(tmp_path / "missing.png")]
    csv_file = tmp_path / "onnx.csv"
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW, archive, csv_file, *paths],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["9", "1"]
    keras_file = tmp_path / "keras.csv"
    predict_files(fitted_pipeline, paths, keras_file)
    got = read_rows(csv_file)
    expected = read_rows(keras_file)
    assert [row["path"] for row in got] == paths
    assert [row["error"] for row in got] == [row["error"] for row in expected]
    assert got[-1]["error"] == "file not found"
    for row, reference in zip(got[:-1], expected[:-1]):
        assert row["prediction"] == reference["prediction"]
        assert row["outlier"] == reference["outlier"]
        for column in ("proba_NORMAL", "proba_PNEUMONIA"):
            assert float(row[column]) == pytest.approx(
                float(reference[column]), abs=2e-4
            )


def test_command_line_scores_an_archive(archive, xray_dir, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["predict", str(archive), str(xray_dir), "--out", str(out)]) == 0
    rows = read_rows(out)
    assert len(rows) == 16 and all(row["error"] == "" for row in rows)
    assert {row["prediction"] for row in rows} <= {"NORMAL", "PNEUMONIA"}
    assert main(["predict", str(archive), str(xray_dir), "--bfloat16"]) == 1
    assert "--bfloat16 applies to Keras models" in capsys.readouterr().err


def test_shipped_onnx_form_gives_the_shipped_answers(pretrained):
    paths, _ = load_chest_xray_sample()
    scorer = load_pretrained(runtime="onnx")
    final = pretrained.steps[-1][0]  # "cnn", or "ensemble" for several networks
    assert scorer.manifest["combine"] == (
        "ensemble" if final == "ensemble" else "network"
    )
    assert_same_assessment(pretrained.assess(paths), scorer.assess(paths))
    images = load_pretrained(
        input="images", runtime="onnx", test_time_augmentation=False
    )
    decoded = pretrained["load"].transform(paths[:4])
    try:
        pretrained.set_params(**{f"{final}__test_time_augmentation": False})
        expected = pretrained.predict_proba(paths[:4])
    finally:
        pretrained.set_params(**{f"{final}__test_time_augmentation": True})
    np.testing.assert_allclose(images.predict_proba(decoded), expected, atol=1e-4)


@pytest.fixture(scope="module")
def padded_files(xrays_224, tmp_path_factory):
    """Three bundled X-rays with black columns added (a padded export), one without."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("padded")
    paths = []
    for i, path in enumerate(xrays_224[0][:4]):
        image = np.asarray(Image.open(path).convert("L"))
        if i:
            image = np.pad(image, ((0, 0), (8 * i, 8 * i)))
        paths.append(str(folder / f"xray_{i}.png"))
        Image.fromarray(image).save(paths[-1])
    return paths


def test_trimmed_border_is_reported_by_assess_the_csv_and_onnx(
    fitted_pipeline, padded_files, tmp_path
):
    trimming = PneumoPipeline(
        [
            fitted_pipeline.steps[0],
            ("resize", clone(fitted_pipeline["resize"]).set_params(border="trim")),
            fitted_pipeline.steps[-1],
        ]
    )
    # Measured on the images the resize step sees (decoded at decode_size).
    decoded = trimming["load"].transform(padded_files)
    expected = trimming["resize"].border_trimmed(decoded)
    assert expected[0] < 0.05 and (expected[1:] > 0.05).all()
    assessed = trimming.assess(padded_files)
    np.testing.assert_allclose(assessed.border_trimmed, expected)
    assert "border_trimmed" not in fitted_pipeline.assess(padded_files)
    # Scored in batches of two, with decoding ahead: the same shares.
    predict_files(trimming, padded_files, tmp_path / "scores.csv", batch_size=2)
    rows = read_rows(tmp_path / "scores.csv")
    shares = [float(row["border_trimmed"]) for row in rows]
    np.testing.assert_allclose(shares, assessed.border_trimmed, atol=1e-4)
    export_onnx(trimming, tmp_path / "trimming.onnx.zip")
    scorer = load_onnx(tmp_path / "trimming.onnx.zip")
    assert_same_assessment(assessed, scorer.assess(padded_files))
    np.testing.assert_allclose(
        scorer.assess(padded_files).border_trimmed, assessed.border_trimmed
    )
