"""Several networks from different seeds, averaged: the ensemble step."""

import numpy as np
from sklearn import get_config
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch
from sklearn.utils.metaestimators import available_if
from sklearn.utils.parallel import Parallel, delayed

from ._decision import LogOddsMixin
from ._steps import transform_for_prediction
from ._typicality import TypicalityMixin, combine_members, summarize_views
from ._walk import final_step


def _fit_member(member, X, y, params):
    """Fit one member; ``params`` reach its final step (its classifier)."""
    steps = getattr(member, "steps", None)
    if steps:
        params = {f"{steps[-1][0]}__{key}": value for key, value in params.items()}
    return member.fit(X, y, **params)


class PneumoEnsemble(LogOddsMixin, TypicalityMixin, VotingClassifier):
    """A soft-voting ``VotingClassifier`` of networks, with their spread.

    As scikit-learn's ``VotingClassifier(voting="soft")``; its members are
    (sampler, :class:`CNNClassifier`) pipelines. :meth:`assess` adds what
    the members say together: how typical an input is of the X-rays each
    was trained on, and how much they disagree. Built by
    :func:`make_pneumo_ensemble`.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members, as in ``VotingClassifier``.
    voting : {"soft"}, default="soft"
        Only soft voting averages probabilities, which :meth:`assess` needs.
    weights : array-like of shape (n_members,) or None, default=None
        Weight of each member in every probability, typicality and spread.
    n_jobs : int or None, default=None
        Members fitted in parallel (joblib); every argument of ``fit``
        reaches each worker with the call.
    flatten_transform, verbose
        As in ``VotingClassifier``.
    test_time_augmentation : bool or None, default=None
        Score every member with test-time views (True) or without (False);
        None keeps each member's own ``test_time_augmentation``.
    inference_dtype_policy : str or None, default=None
        Keras dtype policy every member predicts with (e.g.
        ``"mixed_bfloat16"``); None keeps each member's own.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pneumo import make_pneumo_ensemble
    >>> X = np.random.default_rng(0).random((20, 8, 8), dtype=np.float32)
    >>> pipe = make_pneumo_ensemble(
    ...     2, (8, 8), input="images", epochs=1, model__filters=2, random_state=0
    ... ).fit(X, [0, 1] * 10)
    >>> pipe.set_params(ensemble__weights=[1, 0]).assess(X[:2]).proba.shape
    (2, 2)
    """

    def __init__(
        self,
        estimators,
        *,
        voting="soft",
        weights=None,
        n_jobs=None,
        flatten_transform=True,
        verbose=False,
        test_time_augmentation=None,
        inference_dtype_policy=None,
    ):
        super().__init__(
            estimators,
            voting=voting,
            weights=weights,
            n_jobs=n_jobs,
            flatten_transform=flatten_transform,
            verbose=verbose,
        )
        self.test_time_augmentation = test_time_augmentation
        self.inference_dtype_policy = inference_dtype_policy

    _parameter_constraints = {
        **VotingClassifier._parameter_constraints,
        "test_time_augmentation": ["boolean", None],
        "inference_dtype_policy": [str, None],
    }

    def fit(self, X, y, sample_weight=None, groups=None, image_size=None, **fit_params):
        """Fit every member on ``X`` and ``y``, in parallel with ``n_jobs``.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            As in ``VotingClassifier``.
        groups, image_size : default=None
            Passed to each member's classifier (:meth:`CNNClassifier.fit`),
            as arguments of the call in every joblib worker: the patient of
            each sample, and the ``(height, width)`` of the images.
        **fit_params
            With scikit-learn's metadata routing, routed as in
            ``VotingClassifier``; without it, none are taken.

        Returns
        -------
        self
        """
        given = {"groups": groups, "image_size": image_size}
        params = {key: value for key, value in given.items() if value is not None}
        if get_config()["enable_metadata_routing"]:
            return super().fit(
                X, y, sample_weight=sample_weight, **params, **fit_params
            )
        if fit_params:
            raise TypeError(
                f"{type(self).__name__}.fit got unexpected arguments "
                f"{sorted(fit_params)}: without metadata routing it takes "
                "sample_weight, groups and image_size."
            )
        if self.weights is not None and len(self.weights) != len(self.estimators):
            raise ValueError(
                f"Number of `estimators` and weights must be equal; got "
                f"{len(self.weights)} weights, {len(self.estimators)} estimators"
            )
        names, members = self._validate_estimators()
        self.le_ = LabelEncoder().fit(y)
        self.classes_ = self.le_.classes_
        encoded = self.le_.transform(y)
        if sample_weight is not None:
            params["sample_weight"] = sample_weight
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(clone(member), X, encoded, params)
            for member in members
            if member != "drop"
        )
        fitted = iter(self.estimators_)
        self.named_estimators_ = Bunch(
            **{name: m if m == "drop" else next(fitted) for name, m in self.estimators}
        )
        return self

    def _member_views(self, X, *, typicality, views=True):
        """Per member: its views' probabilities, typicality and ``offset_``.

        With ``views=False`` every member scores the plain view only.
        """
        results = []
        for member in self.estimators_:
            classifier = final_step(member)
            own = classifier.get_params()
            augment = _either(
                self.test_time_augmentation, own["test_time_augmentation"]
            )
            probas, score = classifier._scored_views(
                transform_for_prediction(member, X),
                test_time_augmentation=augment and views,
                inference_dtype_policy=_either(
                    self.inference_dtype_policy, own["inference_dtype_policy"]
                ),
                typicality=typicality,
                mirror_average=own["mirror_average"] and views,
            )
            results.append((probas, score, getattr(classifier, "offset_", None)))
        return results

    def _member_weights(self):
        """``weights`` of the fitted members (those not dropped), or ones."""
        if self.weights is None:
            return np.ones(len(self.estimators_))
        kept = [m != "drop" for _, m in self.estimators]
        return np.asarray(self.weights, dtype=float)[kept]

    def _combined(self, X, *, typicality, views=True):
        """Every member's views with their weights, and the typicality."""
        results = self._member_views(X, typicality=typicality, views=views)
        return combine_members(results, self._member_weights(), typicality)

    def _members_are_networks(self):
        members = getattr(self, "estimators_", None)
        if members is None:
            members = [m for _, m in self.estimators if m != "drop"]
        return all(hasattr(final_step(m), "_scored_views") for m in members)

    def _has_typicality(self):
        if not self._members_are_networks():
            return False
        members = getattr(self, "estimators_", None)
        if members is None:
            return all(final_step(m)._has_typicality() for _, m in self.estimators)
        return all(final_step(m)._has_typicality() for m in members)

    def predict_proba(self, X):
        """The members' probabilities, averaged with ``weights``.

        As ``VotingClassifier.predict_proba``, with each member scored under
        the ensemble's ``test_time_augmentation`` and
        ``inference_dtype_policy`` where they are set.
        """
        if not self._members_are_networks():
            return super().predict_proba(X)
        views, weights, _ = self._combined(X, typicality=False)
        return np.average(views, axis=0, weights=weights)

    @available_if(_has_typicality)
    def assess(self, X):
        """Probabilities, typicality, outlier flags and uncertainty of the members.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)

        Returns
        -------
        Bunch
            ``proba``: as :meth:`predict_proba`; ``typicality``: as
            :meth:`score_samples`, so ``outlier`` is ``typicality < 0``;
            ``uncertainty``: the weighted standard deviation over the members
            (and their test-time views) of the probabilities of the class
            where it is largest.
        """
        views, weights, typicality = self._combined(X, typicality=True)
        return summarize_views(views, typicality, self.offset_, weights)

    def _typicality(self, X):
        return self._combined(X, typicality=True, views=False)[2]

    @property
    def offset_(self):
        """0: typicality is relative to each member's own threshold."""
        return 0.0


def _either(setting, own):
    return own if setting is None else setting
