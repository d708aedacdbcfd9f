"""``sklearn-pneumo adapt``: a site's class shares from its unlabeled X-rays."""

import csv
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_cli import run_cli

from sklearn_pneumo import load_onnx
from sklearn_pneumo._report_page import model_facts
from sklearn_pneumo.datasets import load_chest_xray_224


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A site's folder of 200 X-rays, nested, with no class folders."""
    root = tmp_path_factory.mktemp("site")
    paths, _ = load_chest_xray_224()
    for i, path in enumerate(paths):
        folder = root / f"day_{i % 3}" / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / f"{i:03d}_{Path(path).name}")
    return root


def test_an_adapted_archive_reads_files_as_it_was_told_to(site, tmp_path):
    out = tmp_path / "site.onnx.zip"
    result = run_cli(
        "adapt", "--pretrained", "--onnx", site, "--out", out, "--intensity", "image"
    )
    assert result.returncode == 0, result.stderr
    assert load_onnx(out).steps[0].intensity == "image"  # kept in the archive


def test_adapts_the_shipped_archive_and_predict_scores_it(site, tmp_path):
    out = tmp_path / "site.onnx.zip"
    result = run_cli("adapt", "--pretrained", "--onnx", site, "--out", out)
    assert result.returncode == 0, result.stderr
    shares = dict(re.findall(r"  (\w+): (0\.\d+) \(95% interval", result.stdout))
    assert set(shares) == {"NORMAL", "PNEUMONIA"}
    assert abs(sum(map(float, shares.values())) - 1) < 0.002
    assert "Estimated from" in result.stdout and "outliers" in result.stdout
    assert "less sure" not in result.stderr  # X-rays it was trained on
    adapted = load_onnx(out)
    assert adapted.prior_shift["target"] == pytest.approx(
        [float(shares["NORMAL"]), float(shares["PNEUMONIA"])], abs=1e-3
    )
    # Plain EM (--prior-strength 0) moves further from the learned shares;
    # --probabilities model reweighs the model's own probabilities.
    assert adapted.prior_shift["calibration"] is not None
    plain = run_cli(
        "adapt",
        "--pretrained",
        "--onnx",
        site,
        "--out",
        tmp_path / "plain.onnx.zip",
        "--prior-strength",
        "0",
        "--probabilities",
        "model",
    )
    assert plain.returncode == 0, plain.stderr
    assert load_onnx(tmp_path / "plain.onnx.zip").prior_shift["calibration"] is None
    learned = float(re.search(r"PNEUMONIA: .*model learned (0\.\d+)", plain.stdout)[1])
    plain_share = float(re.search(r"PNEUMONIA: (0\.\d+)", plain.stdout)[1])
    kept_share = float(shares["PNEUMONIA"])
    assert abs(plain_share - learned) > abs(kept_share - learned) + 0.002
    rows_file = tmp_path / "rows.csv"
    result = run_cli("predict", out, site, "--out", rows_file)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(rows_file.open()))
    assert len(rows) == 200 and {"outlier", "typicality"} <= set(rows[0])


def test_warns_where_the_model_is_less_sure_of_the_site(tmp_path):
    from sklearn_pneumo import PriorShiftAdapter, load_pretrained, pretrained_record
    from sklearn_pneumo.datasets import load_chest_xray_sample

    # The later samples, twice (adapting needs 30): the shipped model is
    # unsure of most of their normal X-rays, which no class share mends.
    paths, _ = load_chest_xray_sample()
    for copy in ("a", "b"):
        (tmp_path / "site" / copy).mkdir(parents=True)
        for path in paths:
            shutil.copy(path, tmp_path / "site" / copy / Path(path).name)
    out = tmp_path / "site.onnx.zip"
    result = run_cli("adapt", "--pretrained", "--onnx", tmp_path / "site", "--out", out)
    assert result.returncode == 0, result.stderr
    adapter = PriorShiftAdapter(load_pretrained(runtime="onnx"), n_bootstrap=0)
    uncertainty = adapter.fit(list(paths) * 2).site_uncertainty_
    assert uncertainty.shape == (adapter.n_samples_,) == (32,)
    above = int((uncertainty > pretrained_record()["review"]["uncertainty"]).sum())
    assert above >= 12
    assert f"{above / 32:.0%} of its answers here lie above" in result.stderr
    assert "class shares estimated from them may be wrong too" in result.stderr
    # So the adapted model answers as the model does, unless told to adapt.
    assert "answers as the model does" in result.stderr
    assert adapter.site_uncertain_
    kept = load_onnx(out).prior_shift
    assert kept["target"] == kept["source"] and kept["calibration"] is None
    model_proba = adapter.estimator.predict_proba(paths)
    np.testing.assert_allclose(adapter.predict_proba(paths), model_proba)
    # The review page's summary says so, of the adapter and of its archive.
    for adapted in (adapter, load_onnx(out)):
        assert model_facts(adapted, None, None)["adaptation"].startswith(
            "none: the model's answers, kept"
        )
    adapter.set_params(on_uncertain_site="adapt")
    moved = adapter.predict_proba(paths)
    facts = model_facts(adapter, None, None)
    assert facts["adaptation"].startswith("class shares adapted to the site")
    assert np.abs(moved - model_proba).max() > 0.05
    forced = tmp_path / "forced.onnx.zip"
    result = run_cli(
        "adapt",
        "--pretrained",
        "--onnx",
        tmp_path / "site",
        "--out",
        forced,
        "--on-uncertain-site",
        "adapt",
    )
    assert result.returncode == 0, result.stderr
    assert "answers as the model does" not in result.stderr
    np.testing.assert_allclose(load_onnx(forced).predict_proba(paths), moved, atol=1e-5)


def test_refuses_with_a_clear_error_and_writes_nothing(site, tmp_path):
    out = tmp_path / "adapted.onnx.zip"
    empty = tmp_path / "empty"
    empty.mkdir()
    noise = tmp_path / "noise"
    noise.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(noise / f"photo_{i}.png")
    cases = {
        f"no image files found in {empty}: image files end in": (
            "--pretrained",
            "--onnx",
            empty,
        ),
        "Most were flagged as unlike the X-rays the model was trained on": (
            "--pretrained",
            "--onnx",
            noise,
        ),
        "adapts to a .pneumo file": ("--pretrained", site),
        "composes two archives": (
            "--pretrained",
            "--onnx",
            "--classes",
            "normal-bacterial-viral",
            site,
        ),
    }
    for message, args in cases.items():
        target = tmp_path / "adapted.pneumo" if "pneumo file" in message else out
        result = run_cli("adapt", *args, "--out", out)
        assert result.returncode != 0
        assert message in result.stderr, result.stderr
        assert not target.exists()


def test_a_missing_optional_dependency_is_one_line_not_a_traceback(
    site, tmp_path, monkeypatch
):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "onnxruntime" else find_spec(name, *args),
    )
    out = tmp_path / "adapted.onnx.zip"
    result = run_cli("adapt", "--pretrained", "--onnx", site, "--out", out)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "sklearn-pneumo: error: load_onnx needs onnxruntime: "
        "pip install 'sklearn-pneumo[onnx]'."
    ]
    assert not out.exists()


def test_a_model_without_source_shares_says_how_to_add_them(
    fitted_pipeline, site, tmp_path
):
    from sklearn_pneumo import save_model

    save_model(fitted_pipeline, tmp_path / "model.pneumo")
    out = tmp_path / "adapted.pneumo"
    result = run_cli("adapt", tmp_path / "model.pneumo", site, "--out", out)
    assert result.returncode == 1
    assert "no source_priors_" in result.stderr
    assert "measure_source_priors" in result.stderr
    assert "Scoring" not in result.stderr  # refused before the site is read
    assert not out.exists()


def shipped_archive_with(path, **fields):
    """The shipped ONNX archive with manifest ``fields`` replaced, at ``path``."""
    import hashlib
    import json
    import zipfile

    import sklearn_pneumo

    shipped = (
        Path(sklearn_pneumo.__file__).parent / "pretrained" / "pneumo_150.onnx.zip"
    )
    with zipfile.ZipFile(shipped) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    assert manifest["sha256"] == {
        name: hashlib.sha256(data).hexdigest()
        for name, data in members.items()
        if name != "manifest.json"
    }
    members["manifest.json"] = json.dumps({**manifest, **fields}).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_keeps_the_answers_where_the_site_scores_as_no_mix_of_the_source(
    site, tmp_path
):
    from sklearn_pneumo import load_pretrained
    from sklearn_pneumo._label_shift_check import score_reference
    from sklearn_pneumo._prior_shift import calibrated

    shipped = load_pretrained(runtime="onnx")
    paths, y = load_chest_xray_224()
    proba = shipped.predict_proba(paths)
    reference = score_reference(
        calibrated(proba, shipped.source_calibration_), np.asarray(y)
    )
    # As if the validation's normal X-rays had scored in the pneumonia bins.
    counts = reference.counts.copy()
    counts[0] = counts[0][::-1]
    moved = {"edges": reference.edges.tolist(), "counts": counts.tolist()}
    model = shipped_archive_with(tmp_path / "moved.onnx.zip", source_scores=moved)
    out = tmp_path / "site.onnx.zip"
    result = run_cli("adapt", model, site, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "unlike its validation X-rays in any mix of the classes" in result.stderr
    assert "lean toward the class the model errs toward" in result.stderr
    kept = load_onnx(out).prior_shift
    assert kept["target"] == kept["source"] and kept["calibration"] is None


def test_keeps_the_answers_where_more_are_flagged_than_the_model_flags(site, tmp_path):
    # As if the model flagged one in a million of its validation X-rays:
    # the site's one or two flagged are more than that allows.
    model = shipped_archive_with(tmp_path / "rare.onnx.zip", outlier_rate=1e-6)
    out = tmp_path / "site.onnx.zip"
    result = run_cli("adapt", model, site, "--out", out)
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"\d+ of 200 X-rays \(\d+%\) are flagged as outliers, against the 0\.0% of",
        result.stderr,
    )
    kept = load_onnx(out).prior_shift
    assert kept["target"] == kept["source"] and kept["calibration"] is None
