"""Every use of a private name of scikit-learn, scikeras, Keras or TensorFlow.

Private names can change in any upstream release without notice, so they
are used here and nowhere else, each with the reason no public name does
the job. ``tests/test_upstream.py`` checks each one behaves as relied on and
fails with a message naming the upstream change if it does not.

The scikit-learn names are imported eagerly (the image steps need them and
load without TensorFlow); the Keras side is imported on first use:
``ScikerasClassifier`` is built when first asked for.
"""

from contextlib import contextmanager

from sklearn.base import _fit_context
from sklearn.calibration import _CalibratedClassifier, _SigmoidCalibration
from sklearn.metrics._scorer import _MultimetricScorer, _PassthroughScorer, _Scorer
from sklearn.pipeline import _final_estimator_has
from sklearn.utils._indexing import _safe_indexing
from sklearn.utils._param_validation import HasMethods as HasMethods
from sklearn.utils._param_validation import Interval as Interval
from sklearn.utils._param_validation import StrOptions as StrOptions
from sklearn.utils._param_validation import validate_params as validate_params
from sklearn.utils.validation import _num_samples

# -- scikit-learn ------------------------------------------------------------

#: Parameter validation the way scikit-learn's own estimators and functions
#: do it: ``fit_context`` validates ``_parameter_constraints`` once per fit
#: (skipping nested validation), ``validate_params`` a function's arguments;
#: ``HasMethods``, ``Interval`` and ``StrOptions``, the constraint types,
#: have no public home either.
fit_context = _fit_context


def validate_estimator_params(estimator):
    """Validate ``estimator``'s parameters against its ``_parameter_constraints``.

    ``fit_context`` does it in ``fit``; the image steps are stateless and
    also ``transform`` without being fitted, so they validate there by
    calling the estimator's private ``_validate_params``.
    """
    estimator._validate_params()


#: ``available_if`` condition "the final step has this method", as
#: scikit-learn's ``Pipeline`` gates its own methods.
final_estimator_has = _final_estimator_has

#: Row indexing and counting of any array-like (lists, arrays, DataFrames)
#: without converting it, as scikit-learn's meta-estimators chunk.
safe_indexing = _safe_indexing
num_samples = _num_samples

#: The scorer types a saved ``GridSearchCV`` holds in ``scorer_``:
#: persistence must name them to trust them, and they are not exported.
SCORER_TYPES = (_PassthroughScorer, _Scorer, _MultimetricScorer)


#: What a fitted ``CalibratedClassifierCV`` holds in ``calibrated_classifiers_``
#: (with ``method="sigmoid"`` or ``"temperature"``): persistence must name
#: them to trust them, and scikit-learn does not export them. Temperature
#: scaling arrived in scikit-learn 1.8; on 1.7 there is none to trust.
try:
    from sklearn.calibration import _TemperatureScaling
except ImportError:  # scikit-learn 1.7
    CALIBRATION_TYPES = (_CalibratedClassifier, _SigmoidCalibration)
else:
    CALIBRATION_TYPES = (
        _CalibratedClassifier,
        _SigmoidCalibration,
        _TemperatureScaling,
    )

#: The ``method`` values this scikit-learn's ``CalibratedClassifierCV`` takes.
CALIBRATION_METHODS = ("sigmoid", "isotonic") + (
    ("temperature",) if len(CALIBRATION_TYPES) == 3 else ()
)


def score_function(scorer):
    """The metric function behind a scorer made by ``make_scorer``, or None.

    The function is only kept in the scorer's private ``_score_func``;
    persistence lists the functions of scikit-learn's named scorers as
    trusted.
    """
    return getattr(scorer, "_score_func", None)


# -- Keras -------------------------------------------------------------------

#: Attributes Keras sets on a callback while it runs (the network, TensorBoard's
#: summary module and log writers), with their values before any fit. They do
#: not pickle and Keras sets them again at the next fit, so a pickled callback
#: leaves them out.
CALLBACK_RUNTIME_STATE = {"_model": None, "_summary_module": None, "_writers": {}}


# -- Keras -------------------------------------------------------------------


def keras_random_seed():
    """The seed ``keras.utils.set_random_seed`` last set in this thread, or None.

    Keras keeps it per thread but exports no getter; ``build_cnn`` draws its
    layers' seeds from it with a generator of its own, since Keras' default
    draws from Python's process-wide ``random``, which any other thread of
    the process (a Dask worker's own code) may advance meanwhile.
    """
    from keras.src.utils.rng_utils import get_random_seed

    return get_random_seed()


# -- TensorFlow --------------------------------------------------------------


def live_traced_graphs():
    """How many traced TensorFlow graphs (``FuncGraph``) are alive now.

    ``FuncGraph`` has no public name; the memory test counts them to see a
    fit's graph left behind without timing noise.
    """
    import gc

    from tensorflow.python.framework.func_graph import FuncGraph

    def is_graph(obj):
        try:
            return isinstance(obj, FuncGraph)
        except ReferenceError:  # a weak proxy whose object is gone
            return False

    gc.collect()
    return sum(map(is_graph, gc.get_objects()))


def _gradient_registry():
    from tensorflow.python.framework import ops

    return ops._gradient_registry._registry


def _closure_functions(function):
    for cell in getattr(function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if callable(value):
            yield value


def _is_all_reduce_gradient(entry):
    """Whether a gradient registry entry is that of a replica ``all_reduce``."""
    stack, seen = [entry["type"]], set()
    while stack:
        function = stack.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        if "all_reduce" in getattr(function, "__qualname__", ""):
            return True
        stack.extend(_closure_functions(function))
    return False


@contextmanager
def released_custom_gradients():
    """Forget the ``all_reduce`` gradient functions TensorFlow registers meanwhile.

    Keras' TensorFlow optimizer sums the gradients with the replica
    context's ``all_reduce``, which wraps its op in ``tf.custom_gradient``.
    Traced in a ``tf.function``, every such call registers a new
    ``CustomGradient-<n>`` function in TensorFlow's global gradient registry
    and never removes it, and that function holds the whole traced training
    graph: every fit of a new network leaked its graph (4 MB for a tiny
    network, about 18 MB for the paper's). That gradient is never looked up
    (nothing differentiates the summed gradients), and a later trace
    registers its own, so once the fit has traced it can go. Other custom
    gradients, such as a user's layer's, are left alone: another thread may
    be tracing with them.
    """
    registry = _gradient_registry()
    before = set(registry)
    try:
        yield
    finally:
        for name in set(registry) - before:
            entry = registry.get(name)
            if name.startswith("CustomGradient-") and entry is not None:
                if _is_all_reduce_gradient(entry):
                    registry.pop(name, None)


# -- scikeras ----------------------------------------------------------------

#: scikeras' lists of the callbacks it hands Keras' fit and predict, set at
#: fit; a loaded network starts with them empty.
SCIKERAS_CALLBACK_LISTS = ("_fit_callbacks", "_predict_callbacks")


def _scikeras_classifier():
    from scikeras.wrappers import KerasClassifier

    class ScikerasClassifier(KerasClassifier):
        """scikeras' ``KerasClassifier`` with its private steps handed to hooks.

        scikeras has no public hook for what ``CNNClassifier`` changes, so
        each private step it takes is passed, as a callable, to a method a
        subclass overrides (each default just runs the step):

        - ``_validate_rows(validate, X, y, reset, y_numeric)``: scikeras'
          ``_validate_data``, the input check of fit and predict;
        - ``_predict_rows(predict, X, **kwargs)``: ``_predict_raw``, where
          scikeras calls Keras' ``predict``;
        - ``_build_network(build)``: ``_build_keras_model``;
        - ``_train(keras_fit, X, y, sample_weight, **kwargs)``:
          ``_fit_keras_model``, around Keras' ``fit``, which runs inside
          :func:`released_custom_gradients`.

        Also: ``jit_compile`` reaches Keras' ``compile`` (scikeras passes
        only the names in ``_compile_kwargs``), ``build_fn`` (scikeras'
        deprecated alias of ``model``) is not a parameter, ``_fit_seed``
        is the seed scikeras drew for this fit,
        ``_has_predict_callbacks()`` says whether predict callbacks are set,
        ``_checked_rows(X)`` is ``X`` as scikeras' input check of predict
        returns it, and ``_unrouted_parameters()`` lists the ``a__b``
        keywords whose prefix scikeras routes nowhere (its
        ``_routing_prefixes``, and ``callbacks``): it keeps them and never
        uses them.
        """

        build_fn = None
        _compile_kwargs = KerasClassifier._compile_kwargs | {"jit_compile"}

        def __init__(self, **params):
            super().__init__(**params)
            del self.build_fn

        @property
        def _fit_seed(self):
            return self._random_state

        def _has_predict_callbacks(self):
            return bool(getattr(self, "_predict_callbacks", None))

        def _unrouted_parameters(self):
            routed = self._routing_prefixes | {"callbacks"}
            return sorted(
                name
                for name in self.get_params(deep=False)
                if "__" in name and name.split("__")[0] not in routed
            )

        def _checked_rows(self, X):
            return self._validate_data(X=X, y=None)[0]

        def _validate_rows(self, validate, X, y, reset, y_numeric):
            return validate(X, y, reset=reset, y_numeric=y_numeric)

        def _predict_rows(self, predict, X, **kwargs):
            return predict(X, **kwargs)

        def _build_network(self, build):
            return build()

        def _train(self, keras_fit, X, y, sample_weight, **kwargs):
            return keras_fit(X, y, sample_weight, **kwargs)

        def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
            validate = super()._validate_data
            return self._validate_rows(validate, X, y, reset, y_numeric)

        def _predict_raw(self, X, **kwargs):
            return self._predict_rows(super()._predict_raw, X, **kwargs)

        def _build_keras_model(self):
            return self._build_network(super()._build_keras_model)

        def _fit_keras_model(self, X, y, sample_weight, *args, **kwargs):
            parent = super()._fit_keras_model

            def keras_fit(X, y, sample_weight, **fit_kwargs):
                with released_custom_gradients():
                    return parent(X, y, sample_weight, *args, **fit_kwargs)

            return self._train(keras_fit, X, y, sample_weight, **kwargs)

    ScikerasClassifier.__module__ = __name__
    ScikerasClassifier.__qualname__ = "ScikerasClassifier"
    return ScikerasClassifier


def __getattr__(name):
    if name == "ScikerasClassifier":
        globals()[name] = _scikeras_classifier()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
