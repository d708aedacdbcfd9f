"""Three classes through the pneumonia model: pneumonia or not, then the type."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from sklearn_pneumo import (
    PriorShiftAdapter,
    TwoStageClassifier,
    export_onnx,
    load_model,
    load_pretrained,
    save_model,
)
from sklearn_pneumo.datasets import load_chest_xray_sample


def three_classes(n, rng):
    y = rng.choice(["normal", "bacterial", "viral"], n, p=[0.3, 0.45, 0.25])
    X = rng.normal(size=(n, 2)) + np.c_[y == "bacterial", y == "viral"] * 3
    return X, y


def test_fits_both_stages_and_composes_their_answers():
    rng = np.random.default_rng(0)
    X, y = three_classes(600, rng)
    model = TwoStageClassifier(LogisticRegression(), LogisticRegression()).fit(X, y)
    params = model.get_params(deep=False)
    assert model.pneumonia_.classes_.tolist() == [0, 1]
    assert model.pneumonia_type_.classes_.tolist() == ["bacterial", "viral"]
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    normal = list(model.classes_).index("normal")
    np.testing.assert_allclose(
        proba[:, normal], model.pneumonia_.predict_proba(X)[:, 0], rtol=1e-12
    )
    assert model.score(*three_classes(600, rng)) > 0.85
    assert model.get_params(deep=False) == params
    assert clone(model).get_params()["normal_class"] == "normal"


def test_refuses_labels_without_normal_or_types():
    rng = np.random.default_rng(1)
    X, y = three_classes(100, rng)
    model = TwoStageClassifier(LogisticRegression(), LogisticRegression())
    with pytest.raises(ValueError, match="at least two types"):
        model.fit(X, np.where(y == "viral", "bacterial", y))
    with pytest.raises(ValueError, match="normal X-rays"):
        model.fit(X, np.where(y == "normal", "viral", y))


class _Flagging(LogisticRegression):
    """Flags the inputs whose second feature is below -1."""

    def is_outlier(self, X):
        return np.asarray(X)[:, 1] < -1


class _NeverFlagging(LogisticRegression):
    def is_outlier(self, X):
        return np.zeros(len(X), dtype=bool)


def test_type_flags_count_only_where_pneumonia_is_called():
    rng = np.random.default_rng(2)
    X, y = three_classes(400, rng)
    model = TwoStageClassifier(_NeverFlagging(), _Flagging()).fit(X, y)
    type_flags = X[:, 1] < -1
    called_pneumonia = model.pneumonia_.predict_proba(X)[:, 1] > 0.5
    assert (type_flags & ~called_pneumonia).any()  # flags the answer ignores
    np.testing.assert_array_equal(model.is_outlier(X), type_flags & called_pneumonia)


@pytest.mark.filterwarnings("ignore:Estimated class shares at their bound")
def test_the_shipped_answer_agrees_with_the_binary_model(tmp_path):
    model = load_pretrained("normal-bacterial-viral", runtime="onnx")
    binary = load_pretrained(runtime="onnx")
    paths, _ = load_chest_xray_sample()
    assessed = model.assess(paths)
    normal = list(model.classes_).index("normal")
    np.testing.assert_allclose(
        1 - assessed.proba[:, normal], binary.predict_proba(paths)[:, 1], atol=1e-6
    )
    # The type network's flags count where the binary model says pneumonia.
    called_pneumonia = binary.predict_proba(paths)[:, 1] > 0.5
    type_flags = model.pneumonia_type_.is_outlier(paths)
    flags = binary.is_outlier(paths) | (type_flags & called_pneumonia)
    np.testing.assert_array_equal(assessed.outlier, flags)
    np.testing.assert_array_equal(model.is_outlier(paths), flags)
    assert "border_trimmed" in assessed
    # The composed source state lets a site adapt the three-class answer.
    np.testing.assert_allclose(model.source_priors_.sum(), 1)
    adapted = PriorShiftAdapter(FrozenEstimator(model), min_samples=10).fit(paths)
    assert adapted.priors_.shape == (3,)
    # Two archives composed have no file of their own: the errors say so.
    with pytest.raises(ValueError, match="save its Keras form"):
        save_model(adapted, tmp_path / "three.pneumo")
    with pytest.raises(ValueError, match="has no archive of its own"):
        export_onnx(adapted, tmp_path / "three.onnx.zip")
    assert not list(tmp_path.iterdir())


def test_saves_and_loads_the_composed_keras_models(tmp_path):
    model = load_pretrained("normal-bacterial-viral")
    paths, _ = load_chest_xray_sample()
    save_model(model, tmp_path / "three.pneumo")
    loaded = load_model(tmp_path / "three.pneumo")
    np.testing.assert_allclose(
        loaded.predict_proba(paths[:4]), model.predict_proba(paths[:4]), atol=1e-6
    )


def test_each_stage_reads_its_own_probabilities_back():
    rng = np.random.default_rng(2)
    X, y = three_classes(400, rng)
    model = TwoStageClassifier(LogisticRegression(), LogisticRegression()).fit(X, y)
    (binary, binary_proba), (types, type_proba) = model.stage_probabilities(
        model.predict_proba(X)
    )
    assert binary is model.pneumonia_ and types is model.pneumonia_type_
    np.testing.assert_allclose(binary_proba, binary.predict_proba(X), atol=1e-12)
    asked = binary.predict_proba(X)[:, 0] < 0.5
    np.testing.assert_allclose(type_proba, types.predict_proba(X[asked]), atol=1e-9)


def test_the_mixture_check_tests_each_stage_against_its_own_reference():
    from sklearn_pneumo import measure_source_priors
    from sklearn_pneumo._prior_shift import checks_source, unlike_source

    rng = np.random.default_rng(3)
    X, y = three_classes(1500, rng)
    model = TwoStageClassifier(LogisticRegression(), LogisticRegression())
    model.fit(X[:500], y[:500])
    assert not checks_source(model)
    held_out, labels = X[500:1000], y[500:1000]
    measure_source_priors(model.pneumonia_, held_out, labels != "normal")
    sick = labels != "normal"
    measure_source_priors(model.pneumonia_type_, held_out[sick], labels[sick])
    assert checks_source(model)
    site, site_y = X[1000:], y[1000:]
    fewer_viral = np.flatnonzero(site_y != "viral")  # other shares alone
    check = unlike_source(model, model.predict_proba(site[fewer_viral]))
    assert not check.more and check.n == len(fewer_viral)
    assert [stage.n for stage in check.stages] == [
        len(fewer_viral),
        int((model.pneumonia_.predict(site[fewer_viral]) == 1).sum()),
    ]
    # Viral X-rays that look bacterial on the feature telling the types apart:
    # pneumonia or not holds, which type does not, as no mix of types makes.
    moved = site.copy()
    moved[site_y == "viral"] += [1.5, -1.5]
    check = unlike_source(model, model.predict_proba(moved), random_state=0)
    assert check.more and check.stages[1].more
    assert check.p_value == min(1, 2 * min(s.p_value for s in check.stages))
