"""Each private upstream name in ``sklearn_pneumo._upstream`` still does its job.

A failure here means an upstream release changed something the package
relies on; the message names it, and ``_upstream`` is the one place to mend.
"""

import inspect
from numbers import Integral

import numpy as np
import pytest
from conftest import CALIBRATION_METHODS
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import check_scoring, get_scorer, roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_pneumo import _upstream


def _moved(what):
    return f"upstream change: {what}; mend sklearn_pneumo/_upstream.py"


# -- scikit-learn ------------------------------------------------------------


def test_fit_context_validates_constraints():
    from sklearn_pneumo import GrayscaleResize, ImageLoader

    with pytest.raises(InvalidParameterError, match="'n_jobs' parameter"):
        ImageLoader(n_jobs="many").fit(["a.png"])
    with pytest.raises(InvalidParameterError, match="'size' parameter"):
        GrayscaleResize(size="large").fit([np.zeros((4, 4))])


def test_estimator_params_are_validated_outside_fit():
    from sklearn_pneumo import GrayscaleResize

    with pytest.raises(InvalidParameterError, match="'n_jobs' parameter"):
        GrayscaleResize(n_jobs="many").transform([np.zeros((4, 4))])


def test_validate_params_checks_function_arguments():
    @_upstream.validate_params(
        {
            "n": [_upstream.Interval(Integral, 1, None, closed="left")],
            "kind": [_upstream.StrOptions({"a"})],
            "step": [_upstream.HasMethods("fit_resample"), None],
        },
        prefer_skip_nested_validation=True,
    )
    def f(n, kind="a", step=None):
        return n

    assert f(2) == 2
    for bad in ({"n": 0}, {"n": 1, "kind": "b"}, {"n": 1, "step": object()}):
        with pytest.raises(InvalidParameterError):
            f(**bad)


def test_final_estimator_has_gates_on_the_last_step():
    has_proba = _upstream.final_estimator_has("predict_proba")
    assert has_proba(make_pipeline(StandardScaler(), LogisticRegression()))
    with pytest.raises(AttributeError):
        has_proba(make_pipeline(StandardScaler(), LinearSVC()))


def test_safe_indexing_and_num_samples_take_any_array_like():
    rows = ["a.png", "b.png", "c.png"]
    assert _upstream.safe_indexing(rows, [2, 0]) == ["c.png", "a.png"]
    assert _upstream.safe_indexing(np.array(rows), slice(1, 3)).tolist() == rows[1:]
    assert _upstream.num_samples(rows) == 3
    assert _upstream.num_samples(np.zeros((5, 2))) == 5


def test_scorer_types_cover_what_a_grid_search_holds():
    X, y = np.random.default_rng(0).random((40, 3)), np.tile([0, 1], 20)
    search = GridSearchCV(
        LogisticRegression(),
        {"C": [1.0]},
        scoring=["roc_auc", "accuracy"],
        refit="roc_auc",
        cv=2,
    ).fit(X, y)
    scorers = [
        get_scorer("roc_auc"),
        check_scoring(LogisticRegression()),
        check_scoring(LogisticRegression(), scoring=["roc_auc", "accuracy"]),
        *search.scorer_.values(),
    ]
    for scorer in scorers:
        assert isinstance(scorer, _upstream.SCORER_TYPES), _moved(
            f"scikit-learn's scorers are now {type(scorer).__qualname__}"
        )
    assert _upstream.score_function(get_scorer("roc_auc")) is roc_auc_score, _moved(
        "scikit-learn's scorers no longer keep their metric in _score_func"
    )


@pytest.mark.parametrize("method", CALIBRATION_METHODS)
def test_calibration_types_are_what_a_calibrated_model_holds(method):
    X, y = np.random.default_rng(0).random((40, 3)), np.tile([0, 1], 20)
    model = LogisticRegression().fit(X, y)
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method=method)
    held = calibrated.fit(X, y).calibrated_classifiers_
    for obj in [*held, *held[0].calibrators]:
        assert isinstance(obj, _upstream.CALIBRATION_TYPES), _moved(
            f"CalibratedClassifierCV now holds {type(obj).__qualname__}"
        )


# -- Keras -------------------------------------------------------------------


def test_callback_runtime_state_names_what_keras_sets(tmp_path):
    import keras

    tensorboard = keras.callbacks.TensorBoard(tmp_path)
    names = set(vars(tensorboard))
    missing = set(_upstream.CALLBACK_RUNTIME_STATE) - names
    assert not missing, _moved(f"Keras' TensorBoard callback no longer has {missing}")
    assert vars(keras.callbacks.Callback())["_model"] is None


# -- TensorFlow --------------------------------------------------------------


def _fit_keras_once():
    import keras

    network = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, activation="softmax")]
    )
    network.compile("adam", "sparse_categorical_crossentropy")
    network.fit(np.zeros((8, 3)), np.tile([0, 1], 4), verbose=0)


def _trace_own_custom_gradient():
    import tensorflow as tf

    @tf.custom_gradient
    def double(x):
        return 2 * x, lambda dy: 2 * dy

    tf.function(double).get_concrete_function(tf.TensorSpec([], tf.float32))


def test_keras_fits_register_all_reduce_gradients_that_are_released():
    registry = _upstream._gradient_registry()
    before = set(registry)
    _fit_keras_once()
    added = [registry[name] for name in set(registry) - before]
    assert any(map(_upstream._is_all_reduce_gradient, added)), _moved(
        "a Keras fit no longer registers an all_reduce custom gradient, so "
        "released_custom_gradients may no longer be needed"
    )
    before = set(registry)
    with _upstream.released_custom_gradients():
        _fit_keras_once()
        _trace_own_custom_gradient()
    left = [registry[name] for name in set(registry) - before]
    assert len(left) == 1 and not _upstream._is_all_reduce_gradient(left[0])


def test_keras_random_seed_is_what_set_random_seed_set_in_this_thread():
    import threading

    import keras

    keras.utils.set_random_seed(7)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(_upstream.keras_random_seed()))
    thread.start()
    thread.join()
    assert _upstream.keras_random_seed() == 7, _moved(
        "keras.src.utils.rng_utils.get_random_seed no longer returns the seed "
        "keras.utils.set_random_seed set"
    )
    assert seen == [None], _moved("Keras' random seed is no longer kept per thread")


def test_traced_graphs_are_counted():
    import tensorflow as tf

    before = _upstream.live_traced_graphs()
    traced = tf.function(lambda x: x + 1).get_concrete_function(tf.constant(1.0))
    assert _upstream.live_traced_graphs() > before, _moved(
        "tensorflow.python.framework.func_graph.FuncGraph no longer types a "
        "traced graph"
    )
    del traced


# -- scikeras ----------------------------------------------------------------


def test_scikeras_private_steps_take_the_arguments_passed():
    from scikeras.wrappers import KerasClassifier

    expected = {
        "_validate_data": ["self", "X", "y", "reset", "y_numeric"],
        "_predict_raw": ["self", "X", "kwargs"],
        "_build_keras_model": ["self"],
        "_fit_keras_model": [
            "self",
            "X",
            "y",
            "sample_weight",
            "warm_start",
            "epochs",
            "initial_epoch",
            "kwargs",
        ],
    }
    for name, parameters in expected.items():
        method = getattr(KerasClassifier, name, None)
        assert method is not None, _moved(f"scikeras' KerasClassifier lost {name}")
        assert list(inspect.signature(method).parameters) == parameters, _moved(
            f"scikeras' {name} now takes {inspect.signature(method)}"
        )
    assert {"optimizer", "loss"} <= KerasClassifier._compile_kwargs, _moved(
        "scikeras' _compile_kwargs no longer lists Keras' compile arguments"
    )


def _tiny_network(meta, **_):
    import keras

    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(meta["n_classes_"], activation="softmax"),
        ]
    )


@pytest.fixture(scope="module")
def spied():
    """A ScikerasClassifier whose hooks record that scikeras reached them."""

    class Spy(_upstream.ScikerasClassifier):
        def _validate_rows(self, validate, X, y, reset, y_numeric):
            self.calls_.add("validate")
            return super()._validate_rows(validate, X, y, reset, y_numeric)

        def _predict_rows(self, predict, X, **kwargs):
            self.calls_.add("predict")
            return super()._predict_rows(predict, X, **kwargs)

        def _build_network(self, build):
            self.calls_.add("build")
            return super()._build_network(build)

        def _train(self, keras_fit, X, y, sample_weight, **kwargs):
            self.calls_.add("train")
            return super()._train(keras_fit, X, y, sample_weight, **kwargs)

    X, y = np.random.default_rng(0).random((20, 3)), np.tile([0, 1], 10)
    spy = Spy(
        model=_tiny_network,
        loss="sparse_categorical_crossentropy",
        random_state=3,
        jit_compile=False,
        verbose=0,
    )
    spy.calls_ = set()
    spy.fit(X, y).predict(X)
    return spy


def test_scikeras_reaches_every_hook(spied):
    assert spied.calls_ == {"validate", "predict", "build", "train"}, _moved(
        f"scikeras no longer calls the private step behind "
        f"{ {'validate', 'predict', 'build', 'train'} - spied.calls_ }"
    )


def test_scikeras_state_read_by_name(spied):
    assert spied._fit_seed == 3, _moved("scikeras' _random_state")
    assert spied.model_.jit_compile is False, _moved(
        "scikeras no longer passes _compile_kwargs to Keras' compile"
    )
    for name in _upstream.SCIKERAS_CALLBACK_LISTS:
        assert isinstance(vars(spied).get(name), list), _moved(
            f"scikeras no longer keeps {name}"
        )
    assert not spied._has_predict_callbacks()
    assert "build_fn" not in spied.get_params()
    rows = np.zeros((2, spied.n_features_in_), dtype=np.float32)
    assert spied._checked_rows(rows).shape == rows.shape, _moved(
        "scikeras' _validate_data(X=..., y=None) no longer returns (X, y)"
    )


def test_scikeras_routing_prefixes_are_what_it_routes():
    from scikeras.wrappers import KerasClassifier

    routed = KerasClassifier._routing_prefixes
    assert {"model", "optimizer", "fit", "predict"} <= routed, _moved(
        "scikeras' _routing_prefixes"
    )
    classifier = _upstream.ScikerasClassifier(
        model__units=3, callbacks__patience=2, cnn__units=4
    )
    assert classifier._unrouted_parameters() == ["cnn__units"]
