"""Several networks from different seeds, averaged: the ensemble step."""

import numpy as np
from sklearn.ensemble import VotingClassifier
from sklearn.utils import Bunch
from sklearn.utils.metaestimators import available_if

from ._steps import transform_for_prediction


class PneumoEnsemble(VotingClassifier):
    """A soft-voting ``VotingClassifier`` of networks, with their spread.

    As scikit-learn's ``VotingClassifier(voting="soft")``; its members are
    (sampler, :class:`CNNClassifier`) pipelines. :meth:`assess` adds what
    the members say together: how typical an input is of the X-rays each
    was trained on, and how much they disagree. Built by
    :func:`make_pneumo_ensemble`.
    """

    def _members_assess(self):
        members = getattr(self, "estimators_", None)
        return members is None or all(hasattr(m[-1], "assess") for m in members)

    @available_if(_members_assess)
    def assess(self, X):
        """Probabilities, typicality, outlier flags and uncertainty of the members.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)

        Returns
        -------
        Bunch
            ``proba``: the members' average, as :meth:`predict_proba`;
            ``typicality``: the average of each member's typicality minus
            its ``offset_``, so ``outlier`` is ``typicality < 0``;
            ``uncertainty``: the standard deviation over the members (and
            their test-time views) of the probabilities of the class where
            it is largest.
        """
        return combine_assessments(
            [_assess_member(member, X) for member in self.estimators_]
        )

    @available_if(_members_assess)
    def score_samples(self, X):
        """How typical each input is of the members' training X-rays.

        Higher is more typical; negative is flagged by :meth:`is_outlier`.
        """
        return self.assess(X).typicality

    @available_if(_members_assess)
    def is_outlier(self, X):
        """Flag inputs unlike the training X-rays (``score_samples(X) < 0``)."""
        return self.assess(X).outlier


def combine_assessments(results):
    """One assessment from those of several networks (``CNNClassifier._assess``).

    Each result carries its views' probabilities (``views``) and its
    network's ``offset``.
    """
    views = np.concatenate([r.views for r in results])
    typicality = np.mean([r.typicality - r.offset for r in results], axis=0)
    return Bunch(
        proba=np.mean([r.proba for r in results], axis=0),
        typicality=typicality,
        outlier=typicality < 0,
        uncertainty=views.std(axis=0).max(axis=1),
    )


def _assess_member(member, X):
    """A member pipeline's assessment, with its views' probabilities."""
    X = transform_for_prediction(member, X)
    classifier = member.steps[-1][1]
    return Bunch(**classifier._assess(X), offset=classifier.offset_)
