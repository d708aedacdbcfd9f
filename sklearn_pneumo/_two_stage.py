"""Pneumonia or not, then which type: a three-class answer through a binary model.

A network trained to tell normal X-rays from bacterial and from viral
pneumonia spends its capacity on the harder question, and its answer to
"pneumonia or not" can disagree with a model trained on that alone. This
classifier asks the binary model whether an X-ray is normal and the type
model which type it is if not: ``P(normal)`` is the binary model's, and
each type's probability is ``(1 - P(normal))`` times the type model's
share of that type among the pneumonia classes. So its pneumonia-or-not
answer is the binary model's.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._decision import LogOddsMixin
from ._upstream import HasMethods, fit_context, safe_indexing
from ._walk import final_step


def _both_have(name):
    return lambda self: all(
        hasattr(model, name)
        for model in (
            getattr(self, "pneumonia_", self.pneumonia),
            getattr(self, "pneumonia_type_", self.pneumonia_type),
        )
    )


def _normal_column(binary, normal_class):
    """The column of ``binary.classes_`` that means normal."""
    classes = [c.item() if hasattr(c, "item") else c for c in binary.classes_]
    if normal_class in classes:
        return classes.index(normal_class)
    if classes in ([0, 1], [False, True]):  # this package's 0 normal, 1 pneumonia
        return 0
    raise ValueError(
        f"the pneumonia model's classes {classes} hold neither {normal_class!r} "
        "nor 0/1 (0 normal, 1 pneumonia)."
    )


class TwoStageClassifier(
    LogOddsMixin, ClassifierMixin, MetaEstimatorMixin, BaseEstimator
):
    """Normal or pneumonia by one model, then the type of pneumonia by another.

    Parameters
    ----------
    pneumonia : classifier
        Tells normal X-rays from pneumonia: classes 0 (normal) and 1, or
        with ``normal_class`` among them. :meth:`fit` fits a clone on
        ``y != normal_class``.
    pneumonia_type : classifier
        Tells the types of pneumonia; its own ``normal_class`` column, if
        it has one (a three-class model), is left out and the others are
        renormalised. :meth:`fit` fits a clone on the pneumonia X-rays
        alone.
    normal_class : str or int, default="normal"
        The label of normal X-rays.

    Attributes
    ----------
    pneumonia_ : fitted classifier
        The pneumonia model.
    pneumonia_type_ : fitted classifier
        The type model.
    classes_ : ndarray
        The normal class and the types, sorted.
    normal_column_ : int
        The pneumonia model's column of normal X-rays.
    type_columns_ : ndarray
        The type model's columns of the types.
    column_order_ : list of int
        Where each of ``classes_`` sits in ``[normal, *types]``.

    See Also
    --------
    TwoStageClassifier.from_fitted : Compose two fitted models.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_pneumo import TwoStageClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = rng.choice(["normal", "bacterial", "viral"], 300)
    >>> X = rng.normal(size=(300, 2)) + np.c_[y == "bacterial", y == "viral"] * 3
    >>> model = TwoStageClassifier(LogisticRegression(), LogisticRegression())
    >>> model.fit(X, y).classes_.tolist()
    ['bacterial', 'normal', 'viral']
    >>> bool(model.score(X, y) > 0.8)
    True
    """

    _parameter_constraints = {
        "pneumonia": [HasMethods(["predict_proba"])],
        "pneumonia_type": [HasMethods(["predict_proba"])],
        "normal_class": [str, int],
    }

    def __init__(self, pneumonia, pneumonia_type, *, normal_class="normal"):
        self.pneumonia = pneumonia
        self.pneumonia_type = pneumonia_type
        self.normal_class = normal_class

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the pneumonia model on all of ``X``, the type model on pneumonia.

        Raises
        ------
        ValueError
            If ``y`` holds no ``normal_class`` or fewer than two types.
        """
        y = np.asarray(y)
        sick = y != self.normal_class
        types = np.unique(y[sick])
        if sick.all() or len(types) < 2:
            raise ValueError(
                f"y must hold normal X-rays (labelled {self.normal_class!r}) and "
                f"at least two types of pneumonia; it holds {np.unique(y).tolist()}."
            )
        pneumonia = clone(self.pneumonia).fit(X, sick.astype(int))
        types_model = clone(self.pneumonia_type).fit(
            safe_indexing(X, np.flatnonzero(sick)), y[sick]
        )
        return self._fitted(pneumonia, types_model)

    @classmethod
    def from_fitted(cls, pneumonia, pneumonia_type, *, normal_class="normal"):
        """A fitted classifier composed of two fitted models, neither refitted.

        Examples
        --------
        >>> from sklearn_pneumo import TwoStageClassifier, load_pretrained
        >>> model = TwoStageClassifier.from_fitted(
        ...     load_pretrained(runtime="onnx"),
        ...     load_pretrained("normal-bacterial-viral", runtime="onnx"),
        ... )
        >>> model.classes_.tolist()
        ['bacterial', 'normal', 'viral']
        """
        model = cls(pneumonia, pneumonia_type, normal_class=normal_class)
        return model._fitted(pneumonia, pneumonia_type)

    def _fitted(self, pneumonia, pneumonia_type):
        self.pneumonia_, self.pneumonia_type_ = pneumonia, pneumonia_type
        self.normal_column_ = _normal_column(pneumonia, self.normal_class)
        type_classes = np.asarray(pneumonia_type.classes_)
        self.type_columns_ = np.flatnonzero(type_classes != self.normal_class)
        names = [self.normal_class, *type_classes[self.type_columns_].tolist()]
        self.classes_ = np.array(sorted(names))
        self.column_order_ = [names.index(c) for c in self.classes_.tolist()]
        return self

    def _combined(self, binary, types):
        normal = np.asarray(binary, dtype=np.float64)[:, [self.normal_column_]]
        shares = np.asarray(types, dtype=np.float64)[:, self.type_columns_]
        shares /= np.clip(shares.sum(axis=1, keepdims=True), 1e-12, None)
        return np.hstack([normal, (1 - normal) * shares])[:, self.column_order_]

    def stage_probabilities(self, proba):
        """Each model's own probabilities, read back from composed ``proba``.

        The pneumonia model's of every row, and the type model's of the
        rows whose type is asked (P(normal) below 0.5), where it tells the
        types alone (a type model with a normal column of its own cannot be
        read back, and is left out).

        Parameters
        ----------
        proba : array-like of shape (n_samples, n_classes)
            This classifier's probabilities.

        Returns
        -------
        list of (model, ndarray)
            Each stage's model and its probabilities, in its ``classes_``
            order.

        Examples
        --------
        >>> from sklearn_pneumo import load_pretrained
        >>> model = load_pretrained("normal-bacterial-viral", runtime="onnx")
        >>> model.classes_.tolist()
        ['bacterial', 'normal', 'viral']
        >>> proba = [[0.6, 0.2, 0.2], [0.1, 0.8, 0.1]]
        >>> [p.round(3).tolist() for _, p in model.stage_probabilities(proba)]
        [[[0.2, 0.8], [0.8, 0.2]], [[0.75, 0.25]]]
        """
        check_is_fitted(self)
        stacked = np.asarray(proba, dtype=np.float64)[:, np.argsort(self.column_order_)]
        normal = stacked[:, 0]
        binary = np.empty((len(normal), 2))
        binary[:, self.normal_column_] = normal
        binary[:, 1 - self.normal_column_] = 1 - normal
        stages = [(self.pneumonia_, binary)]
        if len(self.type_columns_) == len(self.pneumonia_type_.classes_):
            asked = normal < 0.5
            stages.append(
                (self.pneumonia_type_, stacked[asked, 1:] / (1 - normal[asked, None]))
            )
        return stages

    def predict_proba(self, X):
        """Probabilities of ``classes_``: P(normal), and (1 - P(normal)) x type."""
        check_is_fitted(self)
        return self._combined(
            self.pneumonia_.predict_proba(X), self.pneumonia_type_.predict_proba(X)
        )

    def predict(self, X):
        """The class of largest probability."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _flagged(self, binary_proba, binary_flags, type_flags):
        """The pneumonia model's flags, and the type model's where a type is asked.

        The type model's flags count where the pneumonia model calls the
        input pneumonia (P(normal) below 0.5): of an X-ray it calls normal,
        the type is not the answer, and a type model fitted on pneumonia
        X-rays alone finds normal ones unusual.
        """
        normal = np.asarray(binary_proba, dtype=np.float64)[:, self.normal_column_]
        return np.asarray(binary_flags, dtype=bool) | (
            np.asarray(type_flags, dtype=bool) & (normal < 0.5)
        )

    @available_if(_both_have("assess"))
    def assess(self, X):
        """Probabilities with the pneumonia model's typicality and both models' flags.

        ``outlier`` is set where the pneumonia model flags the input, or
        where it calls the input pneumonia and the type model flags it;
        ``uncertainty`` is the larger of the two models'; ``typicality``
        and ``border_trimmed`` are the pneumonia model's.
        """
        check_is_fitted(self)
        binary = self.pneumonia_.assess(X)
        types = self.pneumonia_type_.assess(X)
        binary["outlier"] = self._flagged(binary.proba, binary.outlier, types.outlier)
        binary["proba"] = self._combined(binary.proba, types.proba)
        binary["uncertainty"] = np.fmax(binary.uncertainty, types.uncertainty)
        return binary

    @available_if(_both_have("score_samples"))
    def score_samples(self, X):
        """The pneumonia model's typicality."""
        return self.pneumonia_.score_samples(X)

    @available_if(_both_have("is_outlier"))
    def is_outlier(self, X):
        """Flagged as :meth:`assess` flags: by the pneumonia model, or by the
        type model where the pneumonia model calls the input pneumonia."""
        return self._flagged(
            self.pneumonia_.predict_proba(X),
            self.pneumonia_.is_outlier(X),
            self.pneumonia_type_.is_outlier(X),
        )

    @property
    def source_priors_(self):
        """The class shares of the source, composed from both stages'.

        The normal share is the pneumonia model's ``source_priors_``; the
        rest is split as the type model's are among its types. Absent
        (AttributeError) unless both stages have them.
        """
        binary = self._stage_state("pneumonia_", "source_priors_")
        types = self._stage_state("pneumonia_type_", "source_priors_")
        normal = binary[self.normal_column_]
        shares = types[self.type_columns_] / types[self.type_columns_].sum()
        return np.r_[normal, (1 - normal) * shares][self.column_order_]

    @property
    def source_calibration_(self):
        """The pneumonia model's calibration, its pneumonia bias on every type.

        An approximation: the temperature also sharpens or softens the
        split between the types. Absent unless that model has one.
        """
        calibration = self._stage_state("pneumonia_", "source_calibration_")
        if calibration is None:
            return None
        biases = np.asarray(calibration[1:])
        normal = biases[self.normal_column_]
        sick = biases[1 - self.normal_column_]
        composed = np.r_[normal, np.full(len(self.type_columns_), sick)]
        return np.r_[calibration[0], composed[self.column_order_]]

    def _stage_state(self, stage, name):
        final = final_step(getattr(self, stage))
        if not hasattr(final, name):
            raise AttributeError(f"the {stage[:-1]} model has no {name}")
        value = getattr(final, name)
        return None if value is None else np.asarray(value, dtype=np.float64)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "classes_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags
