"""Whether a site's scores are the source's classes mixed in other shares."""

import numpy as np
import pytest

from sklearn_pneumo._label_shift_check import label_shift_check, score_reference


def scores(y, rng, normal_shift=0.0):
    """Two-class probabilities, as a model's log-odds around -3 and 3."""
    log_odds = rng.normal(np.where(y, 3.0, -3.0 + normal_shift), 1.5)
    p = 1 / (1 + np.exp(-log_odds))
    return np.column_stack([1 - p, p])


def test_the_reference_counts_each_held_out_x_ray_once_by_its_class():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.7
    reference = score_reference(scores(y, rng), y, n_bins=4)
    assert reference.counts.shape == (2, 8) and reference.edges.shape == (2, 3)
    np.testing.assert_array_equal(reference.counts.sum(axis=1), [(~y).sum(), y.sum()])
    # Per predicted class, cut at its quantiles: each bin holds about a fourth.
    per_bin = reference.counts.sum(axis=0).reshape(2, 4)
    assert np.abs(per_bin - per_bin.mean(axis=1, keepdims=True)).max() <= 2


@pytest.mark.parametrize("share", [0.2, 0.74, 0.9])
def test_a_change_of_shares_alone_is_rarely_refused(share):
    rng = np.random.default_rng(1)
    p_values = []
    for seed in range(30):
        held_out = rng.random(500) < 0.74
        reference = score_reference(scores(held_out, rng), held_out)
        site = rng.random(400) < share
        check = label_shift_check(
            scores(site, rng), reference, n_resamples=200, random_state=seed
        )
        p_values.append(check.p_value)
    # At most 3 of 30 below 5 % (1.5 expected), yet not all large either.
    assert np.sum(np.less(p_values, 0.05)) <= 3
    assert np.median(p_values) < 0.8


def test_normal_x_rays_scored_nearer_pneumonia_are_refused():
    rng = np.random.default_rng(2)
    held_out = rng.random(500) < 0.74
    reference = score_reference(scores(held_out, rng), held_out)
    site = rng.random(400) < 0.74
    check = label_shift_check(scores(site, rng, normal_shift=2.0), reference)
    assert check.p_value < 0.01 and check.n == 400
    assert check.shares[1] > 0.74  # read as more pneumonia, as EM reads it


@pytest.fixture(scope="module")
def bundled_scores():
    """The shipped archive's scores of the bundled X-rays, and their labels."""
    from sklearn_pneumo import load_pretrained
    from sklearn_pneumo.datasets import load_chest_xray_224

    paths, y = load_chest_xray_224()
    proba = load_pretrained(runtime="onnx").predict_proba(paths)
    return np.asarray(paths), np.asarray(y), proba


def with_reference(proba, y, *, normal_moved=False):
    """The shipped archive, keeping the reference of ``proba`` and labels ``y``.

    With ``normal_moved``, as if its validation's normal X-rays had scored
    in the pneumonia bins: no mix of those classes gives normal answers.
    """
    from sklearn_pneumo import load_pretrained
    from sklearn_pneumo._prior_shift import calibrated

    scorer = load_pretrained(runtime="onnx")
    reference = score_reference(calibrated(proba, scorer.source_calibration_), y)
    counts = reference.counts.copy()
    if normal_moved:
        counts[0] = counts[0][::-1]
    scorer.source_score_edges_, scorer.source_score_counts_ = reference.edges, counts
    return scorer


def test_files_and_the_page_warn_where_scores_are_no_mix_of_the_validation_ones(
    bundled_scores, tmp_path
):
    import csv
    import io
    import warnings

    from sklearn_pneumo import predict_files, review_report

    paths, y, proba = bundled_scores
    site = paths[1::2]
    same = with_reference(proba[::2], y[::2])  # the other half of one source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the site warning may fire: not this one
        summary = predict_files(same, site, tmp_path / "same.csv")
    rows = list(csv.DictReader((tmp_path / "same.csv").open()))
    answered = [row for row in rows if row["outlier"] == "0" and not row["error"]]
    assert summary.unlike_source.n == len(answered) >= 80
    assert summary.uncertain.n == len(answered) < len(rows)  # an outlier left out
    assert not summary.unlike_source.more
    moved = with_reference(proba[::2], y[::2], normal_moved=True)
    with pytest.warns(UserWarning, match="unlike its validation X-rays in any mix"):
        warned = predict_files(moved, site, io.StringIO())
    assert warned.unlike_source.more and warned.unlike_source.n == len(answered)
    report = review_report(moved, site, tmp_path / "page", heatmaps=False)
    assert report.unlike_source.p_value == warned.unlike_source.p_value
    page = (tmp_path / "page" / "index.html").read_text()
    assert "unlike its validation X-rays in any mix of the classes" in page


def test_a_model_without_a_reference_is_not_checked(bundled_scores):
    import io

    from sklearn_pneumo import load_pretrained, predict_files

    paths, _, _ = bundled_scores
    scorer = load_pretrained(runtime="onnx")
    scorer.source_score_edges_ = scorer.source_score_counts_ = None
    summary = predict_files(scorer, paths[:6], io.StringIO())
    assert summary.unlike_source is None


def test_the_three_class_answer_is_checked_stage_by_stage(bundled_scores):
    import csv
    import io
    import warnings

    from sklearn_pneumo import load_pretrained, predict_files

    paths, _, _ = bundled_scores
    model = load_pretrained("normal-bacterial-viral", runtime="onnx")
    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # whether it warns is not asked here
        summary = predict_files(model, paths[::5], out)  # both classes
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    answered = [row for row in rows if row["outlier"] == "0" and not row["error"]]
    pneumonia, types = summary.unlike_source.stages
    assert summary.unlike_source.n == pneumonia.n == len(answered)
    assert types.n == sum(float(row["proba_normal"]) < 0.5 for row in answered)
    smaller = min(pneumonia.p_value, types.p_value)
    assert summary.unlike_source.p_value == min(1, 2 * smaller)


def patients_scores(n_patients, per_patient, share, rng):
    """Labels, scores and patients of X-rays that look alike within a patient.

    Each patient's log-odds sit around its class's by a patient effect (SD
    1.5) that all its X-rays share, then vary by X-ray (SD 0.5).
    """
    sick = rng.random(n_patients) < share
    effect = rng.normal(0, 1.5, n_patients)
    patients = np.repeat(np.arange(n_patients), per_patient)
    log_odds = np.where(sick, 3.0, -3.0)[patients] + effect[patients]
    p = 1 / (1 + np.exp(-rng.normal(log_odds, 0.5)))
    return sick[patients], np.column_stack([1 - p, p]), patients


def test_x_rays_of_one_patient_count_as_fewer_draws():
    rng = np.random.default_rng(3)
    y, proba, patients = patients_scores(150, 4, 0.7, rng)
    alike = score_reference(proba, y, patients).design_effects
    assert np.all(alike > 2)  # four X-rays of a patient: fewer than 2 draws
    apart = score_reference(proba, y, np.arange(len(y))).design_effects
    np.testing.assert_allclose(apart, 1, rtol=0.01)
    np.testing.assert_array_equal(score_reference(proba, y).design_effects, [1, 1])


def test_a_reference_of_patients_counted_by_patient_is_rarely_refused():
    """Sites and references of the same patients' kind, other patients each."""
    rng = np.random.default_rng(4)
    by_patient, by_x_ray = [], []
    for seed in range(30):
        held_out, reference_scores, patients = patients_scores(120, 4, 0.7, rng)
        site, site_scores, _ = patients_scores(60, 4, 0.4, rng)
        for groups, p_values in ((patients, by_patient), (None, by_x_ray)):
            reference = score_reference(reference_scores, held_out, groups)
            check = label_shift_check(
                site_scores, reference, n_resamples=200, random_state=seed
            )
            p_values.append(check.p_value)
    # Counted as independent X-rays, other patients look like another site.
    assert np.sum(np.less(by_x_ray, 0.05)) >= 6
    assert np.sum(np.less(by_patient, 0.05)) <= 3
