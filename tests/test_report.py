"""The review report: every input's row, heatmaps that match, safe writing."""

import csv
import json
import re
import shutil

import numpy as np
import pytest

from sklearn_pneumo import (
    export_onnx,
    gradcam_heatmaps,
    load_onnx,
    predict_files,
    pretrained_record,
    review_report,
)
from sklearn_pneumo._explain import network_views
from sklearn_pneumo._gradcam import gradcam_network
from sklearn_pneumo._network import build_cnn, inference_network
from sklearn_pneumo._report import MARKER
from sklearn_pneumo._site_warning import more_uncertain

html5lib = pytest.importorskip("html5lib")


def page_data(folder):
    """The rows the page holds, as its script reads them."""
    text = (folder / "index.html").read_text()
    payload = re.search(
        r'<script id="data" type="application/json">(.*?)</script>', text, re.S
    )
    return json.loads(payload.group(1))


def strictly_parsed(folder):
    """``index.html`` through html5lib's strict parser: any error raises."""
    parser = html5lib.HTMLParser(strict=True)
    return parser.parse((folder / "index.html").read_text())


@pytest.fixture(scope="module")
def inputs(xrays_224, tmp_path_factory):
    """Six X-rays, a broken file and a missing one, with labels."""
    folder = tmp_path_factory.mktemp("inputs")
    broken = folder / "broken.jpeg"
    broken.write_bytes(b"not an image")
    paths, y = xrays_224
    chosen = [0, 1, 2, 20, 21, 22]
    paths = [paths[i] for i in chosen] + [str(broken), str(folder / "missing.png")]
    return paths, [int(y[i]) for i in chosen] + [0, 1]


@pytest.fixture(scope="module")
def report(fitted_pipeline, inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "review"
    summary = review_report(
        fitted_pipeline, inputs[0], out, inputs[1], review_uncertainty=0.0
    )
    return out, summary


def test_every_input_gets_its_row_in_order(report, inputs, fitted_pipeline, tmp_path):
    out, summary = report
    rows = page_data(out)["rows"]
    assert [row["path"] for row in rows] == inputs[0]
    assert summary.n_files == 8 and summary.n_errors == 2
    assert [bool(row["error"]) for row in rows] == [False] * 6 + [True] * 2
    assert "file not found" in rows[-1]["error"]
    assert "broken.jpeg" in rows[-2]["path"] and rows[-2]["error"]
    # The CSV beside the page is predict_files' own.
    expected = tmp_path / "expected.csv"
    predict_files(fitted_pipeline, inputs[0], expected)
    assert (out / "predictions.csv").read_text() == expected.read_text()
    with open(out / "predictions.csv", newline="") as handle:
        written = list(csv.DictReader(handle))
    for row, line in zip(rows, written):
        assert row["prediction"] == line["prediction"]
        if row["proba"]:
            assert row["proba"][1] == pytest.approx(float(line["proba_PNEUMONIA"]))
            assert row["outlier"] == (line["outlier"] == "1")


def test_each_scored_row_has_its_images_and_review_flag(report):
    out, summary = report
    rows = page_data(out)["rows"]
    for row in rows[:6]:
        for key in ("seen", "heat", "full"):
            assert (out / row[key]).is_file(), (row["path"], key)
    for row in rows[6:]:
        assert "seen" not in row and row["review"]
    # A cut of 0 sends every answer with an uncertainty to review.
    expected = [
        bool(row["error"] or row["outlier"] or (row["uncertainty"] or 0) > 0)
        for row in rows
    ]
    assert [row["review"] for row in rows] == expected
    assert summary.n_review == sum(expected) >= 2


def test_the_page_is_valid_html_and_self_contained(report):
    out, _ = report
    document = strictly_parsed(out)
    assert document is not None
    text = (out / "index.html").read_text()
    for reference in re.findall(r'(?:src|href)="([^"]+)"', text):
        assert "://" not in reference and not reference.startswith("//")
        assert (out / reference).is_file(), reference
    assert sorted(p.name for p in out.iterdir()) == [
        "images",
        "index.html",
        "predictions.csv",
        "report.css",
        "report.js",
        MARKER,
    ]
    for asset in ("report.js", "report.css"):
        assert not re.search(r"https?://", (out / asset).read_text())


def test_labels_give_the_metrics(report, inputs):
    out, _ = report
    text = (out / "index.html").read_text()
    assert "Confusion matrix" in text and "ROC curve" in text
    assert "Reliability" in text and "Per class" in text
    assert "recall, 95 % interval" in text
    rows = page_data(out)["rows"]
    expected = ["NORMAL" if label == 0 else "PNEUMONIA" for label in inputs[1]]
    assert [row["label"] for row in rows] == expected
    assert all(
        row["correct"] == (row["label"] == row["prediction"]) for row in rows[:6]
    )


def test_onnx_heatmaps_match_keras_grad_cam(fitted_pipeline, xrays_224, tmp_path):
    paths = xrays_224[0][:6]
    path = tmp_path / "model.onnx.zip"
    export_onnx(fitted_pipeline, path)
    scorer = load_onnx(path)
    assert scorer.manifest["members"][0]["heatmap"] is True
    expected = gradcam_heatmaps(fitted_pipeline, paths)
    np.testing.assert_allclose(scorer.heatmaps(paths), expected, atol=1e-4)
    other = np.where(fitted_pipeline.predict(paths) == 1, 0, 1)
    np.testing.assert_allclose(
        scorer.heatmaps(paths, target=other),
        gradcam_heatmaps(fitted_pipeline, paths, target=other),
        atol=1e-4,
    )
    images, maps = network_views(scorer, paths)
    np.testing.assert_allclose(maps, expected, atol=1e-4)
    assert images.shape == maps.shape == (6, 16, 16)


def test_a_head_without_a_closed_form_gets_no_heatmap_graph():
    # 12x12 input: the last map of 2x2 or more comes before a pooling layer.
    network = build_cnn(input_shape=(12, 12, 1), filters=2, conv_blocks=3)
    assert gradcam_network(inference_network(network)) is None


def test_an_existing_folder_is_refused_unless_overwrite(
    fitted_pipeline, inputs, tmp_path
):
    paths = inputs[0][:2]
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not a report.*overwrite"):
        review_report(fitted_pipeline, paths, other)
    assert (other / "mine.txt").read_text() == "keep"
    out = tmp_path / "report"
    review_report(fitted_pipeline, paths, out, heatmaps=False)
    with pytest.raises(FileExistsError, match="is a report.*overwrite"):
        review_report(fitted_pipeline, paths, out)
    review_report(fitted_pipeline, inputs[0][:3], out, overwrite=True)
    assert len(page_data(out)["rows"]) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_outputs_and_inputs_get_clear_errors(fitted_pipeline, inputs, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="file.txt"):
        review_report(fitted_pipeline, inputs[0][:1], a_file)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        review_report(fitted_pipeline, inputs[0][:1], a_file / "report")
    with pytest.raises(ValueError, match="at least one image path"):
        review_report(fitted_pipeline, [], tmp_path / "r")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        review_report(fitted_pipeline, inputs[0][:1], tmp_path / "r", batch_size=0)
    with pytest.raises(ValueError, match="'sick' is not one of"):
        review_report(fitted_pipeline, inputs[0][:1], tmp_path / "r", ["sick"])
    assert not (tmp_path / "r").exists()


def test_a_report_is_whole_or_absent(fitted_pipeline, inputs, tmp_path, monkeypatch):
    from sklearn_pneumo import _report

    out = tmp_path / "report"
    review_report(fitted_pipeline, inputs[0][:2], out, heatmaps=False)
    before = (out / "index.html").read_text()

    def fail(*args, **kwargs):
        raise RuntimeError("killed mid-run")

    monkeypatch.setattr(_report, "summary_html", fail)
    with pytest.raises(RuntimeError, match="killed"):
        review_report(fitted_pipeline, inputs[0][:4], out, overwrite=True)
    assert (out / "index.html").read_text() == before
    with pytest.raises(RuntimeError, match="killed"):
        review_report(fitted_pipeline, inputs[0][:4], tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_cli_report_reads_labels_from_folders(xray_dir, tmp_path):
    from test_cli import run_cli

    folder = tmp_path / "site"
    shutil.copytree(xray_dir, folder)
    for name in ("broken.jpeg", "broken_2.jpeg", "broken_3.jpeg", "broken_4.jpeg"):
        (folder / "NORMAL" / name).write_bytes(b"junk")
    out = tmp_path / "report"
    result = run_cli("report", "--pretrained", folder, "--out", out)
    assert result.returncode == 1, result.stderr  # files could not be read
    assert "broken.jpeg" in result.stderr and "Open it in a browser" in result.stderr
    assert "4 could not be read" in result.stderr  # three named, and:
    assert "and 1 more: the page and its CSV name each" in result.stderr
    data = page_data(out)
    assert len(data["rows"]) == 20 and data["labels"]
    text = (out / "index.html").read_text()
    assert "Confusion matrix" in text
    # The later samples' normal X-rays are uncertain to the shipped model far
    # more often than its validation X-rays: the page and the command warn.
    cut = pretrained_record()["review"]["uncertainty"]
    read = [row for row in data["rows"] if not (row["error"] or row["outlier"])]
    above = sum(row["uncertainty"] > cut for row in read)
    assert above >= 6
    assert 'role="alert"' in text and f"<b>{above}</b> of 16 above" in text
    assert "warning: The model is less sure of these X-rays" in result.stderr
    again = run_cli("report", "--pretrained", folder, "--out", out)
    assert again.returncode == 1 and "--overwrite" in again.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run_cli("report", "--pretrained", empty, "--out", tmp_path / "r2")
    assert nothing.returncode == 1 and "no image files" in nothing.stderr


def test_an_outlier_is_flagged_and_sent_to_review(xray_paths, tmp_path):
    from PIL import Image

    from sklearn_pneumo import load_pretrained
    from sklearn_pneumo.datasets import make_outlier_corpus

    images, kinds = make_outlier_corpus([])
    photograph = tmp_path / "photograph.png"
    Image.fromarray(images[list(kinds).index("photograph")]).save(photograph)
    paths = [xray_paths[0][0], str(photograph)]
    summary = review_report(load_pretrained(runtime="onnx"), paths, tmp_path / "r")
    rows = page_data(tmp_path / "r")["rows"]
    assert [row["outlier"] for row in rows] == [False, True]
    assert rows[1]["review"] and summary.n_outliers == 1
    assert summary.heatmaps and (tmp_path / "r" / rows[1]["heat"]).is_file()


def test_the_three_class_answer_explains_each_class_with_its_stage(xray_paths):
    from sklearn_pneumo import load_pretrained

    model = load_pretrained("normal-bacterial-viral", runtime="onnx")
    paths = list(xray_paths[0][6:10])
    labels = ["normal", "bacterial", "viral", "normal"]
    images, maps = network_views(model, paths, labels)
    binary, types = model.pneumonia_, model.pneumonia_type_
    normal = binary.classes_[model.normal_column_]
    np.testing.assert_allclose(
        maps[[0, 3]], binary.heatmaps([paths[0], paths[3]], target=normal), atol=1e-6
    )
    np.testing.assert_allclose(
        maps[[1, 2]],
        types.heatmaps(paths[1:3], target=["bacterial", "viral"]),
        atol=1e-6,
    )
    assert images.shape == maps.shape == (4, 150, 150)


def test_the_uncertainty_warning_keeps_its_level_and_fires_on_a_shift():
    rng = np.random.default_rng(0)
    # As uncertain as the validation X-rays: 10 % above the cut.
    alarms = [
        more_uncertain(rng.random(100), cut=0.9, share=0.1).more for _ in range(2000)
    ]
    assert np.mean(alarms) <= 0.015
    shifted = [
        more_uncertain(rng.random(100), cut=0.7, share=0.1).more for _ in range(200)
    ]
    assert np.mean(shifted) >= 0.99
    # Answers without an uncertainty are left out, not counted as below.
    assert more_uncertain([0.5, np.nan, np.nan], 0.1, 0.1).n == 1


def test_review_share_compares_without_warning_where_it_holds(xray_paths, tmp_path):
    from sklearn_pneumo import load_pretrained

    review = pretrained_record()["review"]
    model = load_pretrained(runtime="onnx")
    paths = xray_paths[0][-4:]  # pneumonia samples the model is sure of
    summary = review_report(
        model,
        paths,
        tmp_path / "r",
        review_uncertainty=review["uncertainty"],
        review_share=review["share_above"],
    )
    text = (tmp_path / "r" / "index.html").read_text()
    assert summary.uncertain.n == 4 and not summary.uncertain.more
    assert "of 4 above the uncertainty cut" in text and 'role="alert"' not in text
    with pytest.raises(ValueError, match="review_share must be a share"):
        review_report(model, paths, tmp_path / "s", review_share=0.1)
    with pytest.raises(ValueError, match="review_share must be a share"):
        review_report(
            model, paths, tmp_path / "s", review_uncertainty=0.1, review_share=1.5
        )
