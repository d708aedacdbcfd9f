"""The command line: ``main()`` in this process, and once as a new process."""

import contextlib
import csv
import io
import os
import re
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from sklearn_pneumo import load_model, pretrained_record
from sklearn_pneumo._cli import main
from sklearn_pneumo._upstream import CALIBRATION_METHODS

#: A network that trains in seconds, for what the command does around it.
TINY_TRAINING = ("--image-size", "16", "--epochs", "1", "--filters", "4")


def run_cli(*args):
    """Run ``sklearn-pneumo ARGS`` in this process, as the console script does.

    Starting a new Python (and TensorFlow) for each call cost 7 to 24 s;
    only :func:`test_help` tests the process boundary itself.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit:  # argparse's usage errors and --help
            code = exit.code
    return SimpleNamespace(
        returncode=code, stdout=stdout.getvalue(), stderr=stderr.getvalue()
    )


@pytest.fixture(scope="module")
def chest_xray(xray_paths, tmp_path_factory):
    """The paper's layout, chest_xray/{train,test}/{NORMAL,PNEUMONIA}, of real files."""
    root = tmp_path_factory.mktemp("chest_xray")
    paths, y = xray_paths
    for i, (path, label) in enumerate(zip(paths, y)):
        split = "test" if i % 4 == 0 else "train"
        folder = root / split / ("PNEUMONIA" if label else "NORMAL")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder)
    return root


def test_help():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_pneumo", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0
    assert "train" in result.stdout and "predict" in result.stdout
    train_help = run_cli("train", "--help").stdout
    assert "--preset" in train_help and "--data" in train_help


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--image-size", "0"], "invalid image size"),
        (["train", "--sampler", "sideways"], "invalid choice"),
        (["train", "--epochs", "-1"], "positive integer"),
        ([], "required"),
    ],
)
def test_bad_arguments_exit_non_zero_with_a_message(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_missing_data_folder_is_a_clear_error(tmp_path):
    result = run_cli("train", "--data", tmp_path / "absent")
    assert result.returncode == 1
    assert "absent" in result.stderr and "not a folder" in result.stderr
    bundled = run_cli("train", "--intensity", "image")  # arrays, not files
    assert bundled.returncode == 1 and "give --data" in bundled.stderr
    no_share = run_cli("train", "--contrast-range")
    assert no_share.returncode == 1 and "give --clahe too" in no_share.stderr


def test_train_save_and_predict_a_folder(chest_xray, xray_dir, tmp_path):
    model = tmp_path / "model.pneumo"
    result = run_cli(
        "train",
        "--data",
        chest_xray,
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--filters",
        "4",
        "--intensity",
        "image",
        "--save",
        model,
    )
    assert result.returncode == 0, result.stderr
    for metric in ("accuracy", "sensitivity", "specificity", "roc_auc"):
        assert metric in result.stdout
    assert "confusion matrix" in result.stdout
    assert load_model(model)["load"].intensity == "image"

    (tmp_path / "broken.jpeg").write_text("not an image")
    out = tmp_path / "predictions.csv"
    result = run_cli(
        "predict",
        model,
        chest_xray / "test",
        tmp_path / "broken.jpeg",
        "--out",
        out,
        "--batch-size",
        "3",
    )
    assert result.returncode == 1  # one file could not be read
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5
    assert all(row["prediction"] in ("NORMAL", "PNEUMONIA") for row in rows[:4])
    assert {"proba_NORMAL", "proba_PNEUMONIA"} <= set(rows[0])
    assert rows[4]["prediction"] == "" and rows[4]["error"].startswith("not an image")

    # Calibrated on labelled X-rays, it predicts files the same way; an
    # unreadable one is named and left out.
    labelled = tmp_path / "labelled"
    shutil.copytree(xray_dir, labelled)
    (labelled / "NORMAL" / "broken.jpeg").write_bytes(b"junk")
    calibrated = tmp_path / "calibrated.pneumo"
    result = run_cli(
        "calibrate",
        model,
        labelled,
        "--method",
        "temperature" if "temperature" in CALIBRATION_METHODS else "sigmoid",
        "--out",
        calibrated,
    )
    assert result.returncode == 0, result.stderr
    assert "1 file(s) could not be read and are left out" in result.stderr
    assert "broken.jpeg: not an image" in result.stderr
    before, after = map(float, re.findall(r"(\d\.\d+) (?:before|after)", result.stdout))
    assert after <= before + 1e-6  # fitted to minimise the log loss there
    assert calibrated.is_file() and "sklearn-pneumo predict" in result.stderr
    result = run_cli(
        "predict", calibrated, chest_xray / "test", "--out", out, "--overwrite"
    )
    assert result.returncode == 0, result.stderr
    calibrated_rows = list(csv.DictReader(out.open()))
    assert list(calibrated_rows[0]) == list(rows[0])  # the trust columns too
    assert [row["path"] for row in calibrated_rows] == [row["path"] for row in rows[:4]]
    assert [row["proba_PNEUMONIA"] for row in calibrated_rows] != [
        row["proba_PNEUMONIA"] for row in rows[:4]
    ]


def test_calibrate_refuses_what_it_cannot_use(chest_xray, xray_dir, tmp_path):
    few = tmp_path / "few"
    shutil.copytree(chest_xray / "test", few)
    shutil.copy(next((few / "NORMAL").iterdir()), few / "stray.jpeg")
    cases = [
        (["--pretrained", chest_xray / "test", chest_xray / "train"], "one labelled"),
        (["--pretrained", tmp_path / "absent"], "absent"),
        ([tmp_path / "none.pneumo", chest_xray / "test"], "does not exist"),
        (["--pretrained", few], "at least 5 of each class"),  # the last: see below
    ]
    for arguments, message in cases:
        result = run_cli("calibrate", *arguments, "--out", tmp_path / "c.pneumo")
        assert result.returncode == 1 and message in result.stderr, result.stderr
    assert re.search(r"X-ray\(s\) of class (NORMAL|PNEUMONIA)\b", result.stderr)
    # The stray file's warning reads as the tool's line, not as Python source.
    warning = "sklearn-pneumo: warning: 1 image file(s) directly in"
    assert warning in result.stderr and "stray.jpeg" in result.stderr
    assert "UserWarning" not in result.stderr
    # Unreadable files are left out; what is left must still hold 5 of each.
    broken = tmp_path / "broken"
    shutil.copytree(xray_dir, broken)
    for path in sorted((broken / "NORMAL").iterdir())[:4]:
        path.write_bytes(b"junk")
    result = run_cli(
        "calibrate", "--pretrained", broken, "--out", tmp_path / "c.pneumo"
    )
    assert result.returncode == 1
    assert "4 file(s) could not be read and are left out" in result.stderr
    assert "4 readable X-ray(s) of class NORMAL" in result.stderr
    assert not (tmp_path / "c.pneumo").exists()
    (tmp_path / "other" / "COVID").mkdir(parents=True)
    shutil.copy(
        next((chest_xray / "test" / "NORMAL").iterdir()), tmp_path / "other" / "COVID"
    )
    result = run_cli(
        "calibrate", "--pretrained", tmp_path / "other", "--out", tmp_path / "c.pneumo"
    )
    assert result.returncode == 1
    assert "COVID" in result.stderr or "not a known class" in result.stderr


def test_train_an_ensemble(chest_xray, tmp_path):
    model = tmp_path / "ensemble.pneumo"
    args = ["--image-size", "24", "--epochs", "1", "--filters", "4"]
    canonical = ["--border", "trim", "--contrast", "equalize", "--clahe", "0.25"]
    canonical += ["--contrast-range", "--sharpen", "0.5", "--outlier-variants"]
    result = run_cli(
        "train",
        "--data",
        chest_xray,
        *args,
        *canonical,
        "--members",
        "2",
        "--save",
        model,
    )
    assert result.returncode == 0, result.stderr
    assert "2 network(s)" in result.stderr
    # Its 4 held-out X-rays are too few to cut at 10 %, and it says so.
    assert "No review cut: " in result.stderr and "too few inputs" in result.stderr
    params = load_model(model).get_params()
    assert (params["resize__border"], params["resize__contrast"]) == (
        "trim",
        "equalize",
    )
    assert params["ensemble__member_1__cnn__clahe"] == 0.25
    assert params["ensemble__member_1__cnn__contrast_range"] is True
    assert params["ensemble__member_1__cnn__sharpen"] == 0.5
    assert params["ensemble__member_1__cnn__outlier_variants"] is True
    assert "roc_auc" in result.stdout
    out = tmp_path / "predictions.csv"
    result = run_cli("predict", model, chest_xray / "test", "--out", out)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4
    fast = tmp_path / "bfloat16.csv"
    # In this process: a second subprocess would only repeat TensorFlow's start-up.
    from sklearn_pneumo._cli import main

    assert (
        main(
            [
                "predict",
                str(model),
                str(chest_xray / "test"),
                "--out",
                str(fast),
                "--bfloat16",
            ]
        )
        == 0
    )
    fast_rows = list(csv.DictReader(fast.open()))
    assert [r["path"] for r in fast_rows] == [r["path"] for r in rows]
    for row, fast_row in zip(rows, fast_rows):
        assert abs(float(row["proba_NORMAL"]) - float(fast_row["proba_NORMAL"])) < 0.02


#: What TensorFlow prints while it starts, which the command line hides.
TENSORFLOW_START_UP = ("I0000", "E0000", "W0000", "oneDNN", "absl", "cuInit", "cuda")


def test_every_option_has_help():
    from sklearn_pneumo._cli import _parser

    parser = _parser()
    subparsers = next(a for a in parser._actions if a.choices and a.dest == "command")
    for name, command in [("", parser), *subparsers.choices.items()]:
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings or action.dest}"


def test_bundled_training_saves_a_model_that_predicts_files(xray_dir, tmp_path):
    model = tmp_path / "model.pneumo"
    # Eight filters instead of the paper's 64: what is tested is the command,
    # and a smaller network fits and searches its noise cut in half the time.
    result = run_cli("train", "--epochs", "1", "--filters", "8", "--save", model)
    assert result.returncode == 0, result.stderr
    assert "roc_auc" in result.stdout
    for line in result.stderr.splitlines():
        assert not any(word in line for word in TENSORFLOW_START_UP), line

    one = next((xray_dir / "NORMAL").iterdir())
    result = run_cli("predict", model, one)
    assert result.returncode == 0, result.stderr
    assert "Predicting 1 image\n" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "path,prediction,proba_NORMAL,proba_PNEUMONIA,typicality,outlier,"
        "uncertainty,error"
    )
    assert len(lines) == 2 and lines[1].startswith(str(one))
    for line in result.stderr.splitlines():
        assert not any(word in line for word in TENSORFLOW_START_UP), line

    result = run_cli("predict", model, xray_dir, "--out", tmp_path / "all.csv")
    assert result.returncode == 0, result.stderr
    assert "Predicting 16 images" in result.stderr
    assert len(list(csv.DictReader((tmp_path / "all.csv").open()))) == 16


def test_a_missing_input_gets_an_error_row_and_the_others_are_scored(
    tmp_path, xray_dir
):
    out = tmp_path / "out.csv"
    absent = tmp_path / "absent.jpeg"
    result = run_cli("predict", "--pretrained", xray_dir, absent, "--out", out)
    assert result.returncode == 1
    assert f"1 file could not be read ({absent}: file not found)" in result.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 17
    assert rows[-1]["path"] == str(absent) and rows[-1]["error"] == "file not found"
    assert all(row["prediction"] and not row["error"] for row in rows[:16])


def test_predict_with_the_pretrained_model(xray_dir, tmp_path):
    out = tmp_path / "pretrained.csv"
    result = run_cli("predict", "--pretrained", xray_dir, "--out", out)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 16
    truth = ["NORMAL" if "NORMAL" in row["path"] else "PNEUMONIA" for row in rows]
    correct = sum(row["prediction"] == t for row, t in zip(rows, truth))
    assert correct >= 12  # well above chance (8 of 16)
    # These later X-rays are uncertain to it far more often than its
    # validation X-rays: the run warns, as the report does.
    cut = pretrained_record()["review"]["uncertainty"]
    above = sum(
        float(row["uncertainty"]) > cut for row in rows if row["outlier"] == "0"
    )
    assert above >= 6
    assert "warning: The model is less sure of these X-rays" in result.stderr
    said = f"{above / 16:.0%} of its answers here lie above the uncertainty cut"
    assert f"{said} ({cut:g})" in result.stderr
    sure = run_cli("predict", "--pretrained", *[row["path"] for row in rows[-4:]])
    assert sure.returncode == 0 and "Predicting 4 images" in sure.stderr
    assert "less sure" not in sure.stderr


def test_output_and_model_paths_are_checked_before_scoring(tmp_path, xray_dir):
    result = run_cli("predict", "--pretrained", xray_dir, "--out", tmp_path)
    assert result.returncode == 1
    assert f"--out {tmp_path} is a directory" in result.stderr
    assert "Predicting" not in result.stderr
    assert not list(tmp_path.iterdir())  # no .partial file left
    result = run_cli("predict", tmp_path, xray_dir)
    assert result.returncode == 1
    assert f"model file {tmp_path} is a directory" in result.stderr


def test_a_fifo_among_inputs_gets_an_error_row_at_once(tmp_path):
    fifo = tmp_path / "x.jpeg"
    os.mkfifo(fifo)
    out = tmp_path / "out.csv"
    result = run_cli("predict", "--pretrained", tmp_path, "--out", out)
    assert result.returncode == 1
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["error"] == "not a regular file: a FIFO (named pipe)"


def test_intensity_reads_float_files_in_other_units(tmp_path):
    from PIL import Image

    from sklearn_pneumo.datasets import load_chest_xray_sample

    paths, _ = load_chest_xray_sample()
    gray = np.array(Image.open(paths[0]).convert("L"))
    gray[0, :2] = 0, 255  # its own range is the 8-bit one
    floating, eight = tmp_path / "float.tif", tmp_path / "eight.png"
    Image.fromarray(gray.astype(np.float32)).save(floating)  # 0-255, not 0-1
    Image.fromarray(gray).save(eight)

    def rows(result):
        return {row["path"]: row for row in csv.DictReader(io.StringIO(result.stdout))}

    plain = run_cli("predict", "--pretrained", floating, eight)
    assert plain.returncode == 1
    assert "--intensity image" in rows(plain)[str(floating)]["error"]
    scaled = run_cli("predict", "--pretrained", floating, eight, "--intensity", "image")
    assert scaled.returncode == 0, scaled.stderr
    scored = rows(scaled)
    assert not scored[str(floating)]["error"]
    p = [float(scored[str(path)]["proba_PNEUMONIA"]) for path in (floating, eight)]
    assert p[0] == pytest.approx(p[1], abs=0.02)  # as its 8-bit self


def test_a_warning_is_shown_once_per_run(tmp_path):
    from PIL import Image

    from sklearn_pneumo.datasets import load_chest_xray_sample

    paths, _ = load_chest_xray_sample()
    gray = np.asarray(Image.open(paths[0]).convert("L"))
    Image.fromarray(gray.astype(np.uint16) * 16).save(tmp_path / "twelve_bit.png")
    (tmp_path / "broken.png").write_text("not an image")  # the batch is read again
    result = run_cli("predict", "--pretrained", tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("use less than 1/16 of the 16-bit range") == 1


def test_training_leaves_out_the_files_it_cannot_read(chest_xray, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(chest_xray, data)
    (data / "train" / "NORMAL" / "cut.jpeg").write_bytes(b"\xff\xd8 cut short")
    (data / "test" / "PNEUMONIA" / "notes.png").write_text("not an image")
    result = run_cli("train", "--data", data, "--preset", "tuned", *TINY_TRAINING)
    assert result.returncode == 0, result.stderr
    left_out = "1 file(s) could not be read and are left out ("
    assert f"{left_out}{data / 'train' / 'NORMAL' / 'cut.jpeg'}: " in result.stderr
    assert f"{left_out}{data / 'test' / 'PNEUMONIA' / 'notes.png'}: " in result.stderr
    n_test = sum(1 for path in (chest_xray / "test").rglob("*") if path.is_file())
    assert f"({n_test} images)" in result.stdout


def test_training_on_a_folder_holds_out_whole_patients(chest_xray, monkeypatch):
    from sklearn_pneumo._holdout import holdout_indices
    from sklearn_pneumo.datasets import load_image_folder, patient_groups

    seen = []

    def spy(y, fraction, random_state=None, groups=None):
        seen.append(groups)
        return holdout_indices(y, fraction, random_state, groups)

    monkeypatch.setattr("sklearn_pneumo._classifier.holdout_indices", spy)
    result = run_cli("train", "--data", chest_xray, "--preset", "tuned", *TINY_TRAINING)
    assert result.returncode == 0, result.stderr
    paths, _ = load_image_folder(chest_xray / "train")
    patients = sorted(patient_groups(paths))
    assert [sorted(groups) for groups in seen] == [patients]
    assert f"by patient ({len(set(patients))} patients in all)" in result.stderr
    # An ensemble's members each hold out whole patients too.
    seen.clear()
    result = run_cli(
        "train",
        "--data",
        chest_xray,
        "--preset",
        "tuned",
        "--members",
        "2",
        *TINY_TRAINING,
    )
    assert result.returncode == 0, result.stderr
    assert [sorted(groups) for groups in seen] == [patients, patients]
    assert "by patient" in result.stderr
    # The paper's preset over-samples and holds nothing out: no groups.
    seen.clear()
    result = run_cli("train", "--data", chest_xray, *TINY_TRAINING)
    assert result.returncode == 0, result.stderr
    assert "by patient" not in result.stderr and not seen
