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
