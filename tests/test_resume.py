"""Resumable scoring runs: killed anywhere, continued, the file of an unbroken run."""

import csv
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_pneumo import (
    load_model,
    load_onnx,
    load_pretrained,
    predict_files,
    pretrained_record,
    save_model,
)
from sklearn_pneumo._resume import model_fingerprint

#: A scoring run in a process of its own: a model of "image files" that
#: reads only their sizes, slowed down so that a kill lands mid-run.
RUN = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    from sklearn_pneumo import predict_files

    class FileSizeModel:
        classes_ = np.array([0, 1])

        def predict_proba(self, paths):
            time.sleep(0.03)
            sizes = np.array([os.path.getsize(p) for p in paths]) / 500.0
            p = 1 / (1 + np.exp(-(sizes - 1)))
            return np.c_[1 - p, p]

    folder, out = sys.argv[1], sys.argv[2]
    paths = sorted(os.path.join(folder, name) for name in os.listdir(folder))
    predict_files(FileSizeModel(), paths, out, batch_size=2, resume=True)
    """
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """40 inputs of different sizes, the script, and its uninterrupted output."""
    root = tmp_path_factory.mktemp("resume")
    folder = root / "inputs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        (folder / f"{i:02d}.bin").write_bytes(rng.bytes(int(rng.integers(1, 1000))))
    script = root / "run.py"
    script.write_text(RUN)
    reference = root / "reference.csv"
    subprocess.run([sys.executable, script, folder, reference], check=True)
    return folder, script, reference.read_bytes()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(delay=st.floats(0.0, 1.5), second_delay=st.floats(0.0, 0.6))
def test_a_run_killed_anywhere_resumes_to_the_same_file(
    files, tmp_path_factory, delay, second_delay
):
    folder, script, reference = files
    out = tmp_path_factory.mktemp("killed") / "rows.csv"
    for wait in (delay, second_delay):  # killed twice, at random moments
        process = subprocess.Popen([sys.executable, script, folder, out])
        time.sleep(wait)
        process.send_signal(signal.SIGKILL)
        process.wait()
        if out.exists():  # it finished before the kill
            break
    if not out.exists():
        subprocess.run([sys.executable, script, folder, out], check=True)
    assert out.read_bytes() == reference
    assert not out.with_name("rows.csv.partial").exists()
    assert not out.with_name("rows.csv.partial.json").exists()


@pytest.fixture(scope="module")
def archive(fitted_pipeline, tmp_path_factory):
    from sklearn_pneumo import export_onnx

    path = tmp_path_factory.mktemp("onnx") / "model.onnx.zip"
    export_onnx(fitted_pipeline, path)
    return path


def interrupted_at_batch(monkeypatch, batch):
    """Make every OnnxScorer raise KeyboardInterrupt as it assesses batch ``batch``."""
    from sklearn_pneumo import OnnxScorer

    calls, assess = [], OnnxScorer._assess_rows

    def stopping(self, prepared):
        calls.append(1)
        if len(calls) == batch:
            raise KeyboardInterrupt
        return assess(self, prepared)

    monkeypatch.setattr(OnnxScorer, "_assess_rows", stopping)


def test_resume_keeps_the_rows_and_refuses_another_run(
    archive, xrays_224, tmp_path, monkeypatch
):
    paths = list(xrays_224[0][:12]) + [str(tmp_path / "missing.jpeg")]
    model = load_onnx(archive)
    out = tmp_path / "rows.csv"
    whole = predict_files(model, paths, tmp_path / "whole.csv", batch_size=4)
    with monkeypatch.context() as patch:
        interrupted_at_batch(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            predict_files(model, paths, out, batch_size=4)
    partial = tmp_path / "rows.csv.partial"
    with open(partial, "a") as file:
        file.write("torn,row")  # as a kill mid-write leaves it
    # Another model, or other inputs, never mix in.
    other = load_onnx(archive)
    other.networks[0].offset += 1.0
    with pytest.raises(ValueError, match="written by another model"):
        predict_files(other, paths, out, batch_size=4, resume=True)
    with pytest.raises(ValueError, match="another list of inputs"):
        predict_files(model, paths[::-1], out, batch_size=4, resume=True)
    # The same model read again (as a new process would) continues it.
    summary = predict_files(load_onnx(archive), paths, out, batch_size=4, resume=True)
    assert summary.n_resumed == 8
    assert out.read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert (
        (summary.n_errors, summary.errors)
        == (whole.n_errors, whole.errors)
        != (
            0,
            [],
        )
    )
    assert summary.n_outliers == whole.n_outliers
    with pytest.raises(FileExistsError, match="overwrite=True"):
        predict_files(model, paths, out)
    predict_files(model, paths[:3], out, overwrite=True)
    assert len(out.read_text().splitlines()) == 4


def test_a_resumed_run_compares_the_answers_of_a_whole_one(
    xray_paths, tmp_path, monkeypatch
):
    review = pretrained_record()["review"]
    model = load_pretrained(runtime="onnx")
    paths = list(xray_paths[0]) + [str(tmp_path / "missing.jpeg")]
    compare = dict(
        batch_size=4,
        review_uncertainty=review["uncertainty"],
        review_share=review["share_above"],
    )
    whole = predict_files(model, paths, tmp_path / "whole.csv", **compare)
    rows = list(csv.DictReader((tmp_path / "whole.csv").open()))
    read = [row for row in rows if not row["error"] and row["outlier"] == "0"]
    above = sum(float(row["uncertainty"]) > review["uncertainty"] for row in read)
    assert (whole.uncertain.n, whole.uncertain.above) == (len(read), above)
    assert whole.uncertain.more and len(read) >= 15  # the later samples
    with monkeypatch.context() as patch:
        interrupted_at_batch(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            predict_files(model, paths, tmp_path / "rows.csv", **compare)
    out = tmp_path / "rows.csv"
    resumed = predict_files(model, paths, out, resume=True, **compare)
    assert resumed.n_resumed == 8 and resumed.uncertain == whole.uncertain
    streamed = predict_files(model, paths, io.StringIO(), **compare)
    assert streamed.uncertain == whole.uncertain
    with pytest.raises(ValueError, match="review_uncertainty needs review_share"):
        predict_files(model, paths, io.StringIO(), review_uncertainty=0.1)


def test_a_model_file_read_twice_has_one_fingerprint(fitted_pipeline, tmp_path):
    save_model(fitted_pipeline, tmp_path / "model.pneumo")
    first = model_fingerprint(load_model(tmp_path / "model.pneumo"))
    assert first == model_fingerprint(load_model(tmp_path / "model.pneumo"))
    changed = load_model(tmp_path / "model.pneumo")
    weights = changed[-1].model_.get_weights()
    weights[0] = weights[0] + 1e-3
    changed[-1].model_.set_weights(weights)
    assert model_fingerprint(changed) != first
    assert os.path.getsize(tmp_path / "model.pneumo") > 0


def test_command_line_never_overwrites_silently(archive, xray_dir, tmp_path):
    from test_cli import run_cli

    out = tmp_path / "rows.csv"
    assert run_cli("predict", archive, xray_dir, "--out", out).returncode == 0
    first = out.read_bytes()
    again = run_cli("predict", archive, xray_dir, "--out", out)
    assert again.returncode == 1
    assert "exists: pass --overwrite" in again.stderr and "--resume" in again.stderr
    assert out.read_bytes() == first
    replaced = run_cli("predict", archive, xray_dir, "--out", out, "--overwrite")
    assert replaced.returncode == 0 and out.read_bytes() == first
    out.unlink()
    resumed = run_cli("predict", archive, xray_dir, "--out", out, "--resume")
    assert resumed.returncode == 0 and out.read_bytes() == first
