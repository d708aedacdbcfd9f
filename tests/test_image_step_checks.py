"""scikit-learn's estimator checks for the image steps.

``parametrize_with_checks`` yields no check for an estimator whose input
tags exclude 2-D numeric arrays (file paths, images of any size): every one
of its checks feeds tabular data. So the checks of the estimator API that
need no data run here by name, each on both steps, and the checks that do
need data are rewritten below with paths and images.
"""

import pickle

import numpy as np
import pytest
import sklearn.utils.estimator_checks as checks
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_pneumo import GrayscaleResize, ImageLoader

STEPS = [ImageLoader(), GrayscaleResize(size=(8, 8))]

API_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_mixin_order",
    "check_valid_tag_types",
    "check_estimator_tags_renamed",
    "check_get_params_invariance",
    "check_set_params",
    "check_parameters_default_constructible",
    "check_param_validation",
    "check_estimators_unfitted",
    "check_do_not_raise_errors_in_init_or_set_params",
]


def _id(value):
    return type(value).__name__ if not isinstance(value, str) else value


@pytest.mark.parametrize("check", API_CHECKS)
@pytest.mark.parametrize("step", STEPS, ids=_id)
def test_estimator_api(step, check):
    getattr(checks, check)(type(step).__name__, clone(step))


@pytest.mark.filterwarnings("ignore:Can't test estimator")
def test_parametrize_with_checks_still_skips_non_tabular_input():
    # When scikit-learn learns to check estimators of other inputs, this
    # fails: then use parametrize_with_checks for the image steps.
    marks = parametrize_with_checks(STEPS)
    yielded = {getattr(check, "func", check).__name__ for _, check in marks.args[1]}
    assert yielded <= {"check_estimator_cloneable"}


@pytest.fixture
def inputs(xray_paths):
    paths, _ = xray_paths
    images = ImageLoader(decode_size=(32, 32)).transform(paths[:4])
    return {ImageLoader: list(paths[:4]), GrayscaleResize: images}


@pytest.mark.parametrize("step", STEPS, ids=_id)
def test_fit_keeps_parameters_and_input(step, inputs):
    X = inputs[type(step)]
    before, X_before = step.get_params(), pickle.dumps(X)
    fitted = clone(step).fit(X)
    assert fitted.get_params() == before
    assert pickle.dumps(X) == X_before
    assert fitted.n_features_in_ == 1


@pytest.mark.parametrize("step", STEPS, ids=_id)
def test_stateless_transform_equals_fitted_and_pickled(step, inputs):
    X = inputs[type(step)]
    unfitted = clone(step).transform(X)
    fitted = clone(step).fit(X)
    restored = pickle.loads(pickle.dumps(fitted))
    for out in (fitted.transform(X), restored.transform(X)):
        assert len(out) == len(unfitted)
        for a, b in zip(out, unfitted):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("step", STEPS, ids=_id)
def test_transform_keeps_sample_order(step, inputs):
    X = inputs[type(step)]
    order = [2, 0, 3, 1]
    whole = clone(step).transform(X)
    reordered = clone(step).transform([X[i] for i in order])
    for i, j in enumerate(order):
        np.testing.assert_array_equal(reordered[i], whole[j])
