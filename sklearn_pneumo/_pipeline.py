"""The whole chain, from image files to the CNN, as one imbalanced-learn Pipeline."""

import copy
import math
import warnings

import numpy as np
from imblearn.pipeline import Pipeline
from sklearn import get_config
from sklearn.utils import Bunch
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import has_fit_parameter

from ._classifier import check_labels
from ._grayscale import GrayscaleResize
from ._loader import ImageLoader, ImageLoadError
from ._steps import (
    iter_overlapped,
    prediction_steps,
    transform_for_prediction,
    transform_naming_failures,
    with_border_trimmed,
)
from ._typicality import TypicalityMixin
from ._upstream import (
    final_estimator_has,
    num_samples,
    safe_indexing,
)
from ._walk import fitted_networks

#: Images per chunk when decoding overlaps scoring (rounded up to a
#: multiple of the network's prediction batch, so batches stay the same).
OVERLAP_CHUNK = 256


class PneumoPipeline(TypicalityMixin, Pipeline):
    """An imbalanced-learn ``Pipeline`` whose image size is set in one place.

    The ``size`` of its ``resize`` step is the image size of the whole
    chain: ``fit`` passes it to the final step's ``fit`` as ``image_size``
    (to a :class:`CNNClassifier`, or to a :class:`PneumoEnsemble`, which
    passes it on to every member, in every joblib worker), and each
    classifier whose ``image_size`` is None learns it (its ``image_size_``);
    no parameter is changed,
    so ``get_params()`` is the same before and after ``fit``. So
    ``set_params(resize__size=(64, 64))`` and ``GridSearchCV`` over
    ``resize__size`` just work. A ``load`` step that decodes below that size
    (its ``decode_size``) is warned about: set both. Otherwise it is the
    imblearn ``Pipeline``, built by :func:`make_pneumo_pipeline` and
    :func:`make_pneumo_ensemble`.

    ``predict`` and ``predict_proba`` on more than :data:`OVERLAP_CHUNK`
    samples work chunk by chunk: a background thread decodes and resizes the
    next chunk while the network scores this one, so the two costs overlap
    instead of adding up, and memory holds two chunks of rows rather than the
    whole input. The results are those of the serial path (the network sees
    the same prediction batches), and unreadable files still raise one
    :class:`ImageLoadError` that lists all of them.

    Examples
    --------
    >>> from sklearn_pneumo import make_pneumo_pipeline
    >>> from sklearn_pneumo.datasets import load_chest_xray_224
    >>> paths, y = load_chest_xray_224()
    >>> pipe = make_pneumo_pipeline(epochs=1, model__filters=4)
    >>> pipe = pipe.set_params(resize__size=(32, 32)).fit(paths[::10], y[::10])
    >>> pipe["cnn"].image_size_, pipe["load"].decode_size
    ((32, 32), (150, 150))
    """

    def _with_image_size(self, params):
        """``params`` with the ``resize`` step's size for the final step's fit.

        Warns when the ``load`` step decodes below that size, which loses
        detail; nothing is changed.
        """
        resize = self.named_steps.get("resize")
        if not isinstance(resize, GrayscaleResize):
            return params
        size = tuple(resize.size)
        decode = getattr(self.named_steps.get("load"), "decode_size", None)
        if decode is not None and any(d < s for d, s in zip(decode, size)):
            warnings.warn(
                f"load__decode_size={tuple(decode)} is smaller than "
                f"resize__size={size}: images are decoded below the size they "
                "are resized to, losing detail. Set load__decode_size too (in a "
                "grid search, search both together).",
                UserWarning,
                stacklevel=3,
            )
        name, final = self.steps[-1]
        if final in (None, "passthrough") or not has_fit_parameter(final, "image_size"):
            return params
        routed = get_config()["enable_metadata_routing"]
        return {"image_size" if routed else f"{name}__image_size": size, **params}

    def _chunk_size(self):
        networks = fitted_networks(self)
        batch = networks[0]._predict_batch_size() if networks else 32
        return batch * math.ceil(OVERLAP_CHUNK / batch)

    def _preprocessing_steps(self):
        """The steps applied before the final one at prediction time.

        Samplers act only in fit; a loader's progress bar is replaced by one
        bar over all chunks.
        """
        steps, progress = [], False
        for step in prediction_steps(self):
            if isinstance(step, ImageLoader) and step.progress:
                step, progress = copy.copy(step).set_params(progress=False), True
            steps.append(step)
        return steps, progress

    def _iter_overlapped(self, method, X, chunk_size=None, *, keep_going=False):
        """Yield ``(chunk, result, failures)`` chunk by chunk, decoding ahead.

        ``result`` is ``method`` of the final step on the chunk's rows, and
        ``failures`` lists ``(path, reason)`` for each input of the chunk
        that could not be used, one entry per input. With ``keep_going``, a
        chunk with failures is scored on its other inputs; otherwise nothing
        is scored after the first failure (``result`` is None), but every
        chunk is still read, to name every failing input.
        """
        steps, progress = self._preprocessing_steps()
        size = chunk_size or self._chunk_size()
        n = num_samples(X)
        chunks = [safe_indexing(X, slice(i, i + size)) for i in range(0, n, size)]
        final = getattr(self.steps[-1][1], method)
        borders = method == "assess"

        def score(prepared):
            if not borders:
                return final(prepared)
            rows, trimmed = prepared
            return with_border_trimmed(final(rows), trimmed)

        return iter_overlapped(
            steps,
            score,
            chunks,
            borders=borders,
            keep_going=keep_going,
            progress=progress,
        )

    def _overlapped(self, method, X):
        """``method`` of the final step on ``X``, chunk by chunk, decoding ahead."""
        results, failures = [], []
        for _, result, chunk_failures in self._iter_overlapped(method, X):
            results.append(result)
            failures += chunk_failures
        if failures:
            raise ImageLoadError(failures)
        if isinstance(results[0], Bunch):
            return Bunch(
                **{key: np.concatenate([r[key] for r in results]) for key in results[0]}
            )
        return np.concatenate(results)

    def _should_overlap(self, X, params):
        return not params and num_samples(X) > self._chunk_size()

    @available_if(final_estimator_has("predict"))
    def predict(self, X, **params):
        """Predict the class of each sample, decoding ahead on large inputs.

        As imblearn's ``Pipeline.predict``; see the class description for
        the chunked path taken on more than ``OVERLAP_CHUNK`` samples.
        """
        if self._should_overlap(X, params):
            return self._overlapped("predict", X)
        return super().predict(X, **params)

    @available_if(final_estimator_has("predict_proba"))
    def predict_proba(self, X, **params):
        """Class probabilities of each sample, decoding ahead on large inputs.

        As imblearn's ``Pipeline.predict_proba``; see the class description
        for the chunked path taken on more than ``OVERLAP_CHUNK`` samples.
        """
        if self._should_overlap(X, params):
            return self._overlapped("predict_proba", X)
        return super().predict_proba(X, **params)

    @available_if(final_estimator_has("assess"))
    def assess(self, X):
        """Probabilities, typicality, outlier flags and uncertainty of each sample.

        The final step's ``assess`` (:meth:`CNNClassifier.assess`,
        :meth:`PneumoEnsemble.assess`) on the transformed samples, from the
        same forward pass as the probabilities; chunked like
        :meth:`predict_proba` on large inputs.

        Returns
        -------
        Bunch
            ``proba``, ``typicality``, ``outlier`` and ``uncertainty``; with
            a ``resize`` step that trims borders, also ``border_trimmed``
            (:meth:`GrayscaleResize.border_trimmed`: the share of each
            image's area cut off).
        """
        if self._should_overlap(X, {}):
            return self._overlapped("assess", X)
        steps = prediction_steps(self)
        rows, trimmed = transform_naming_failures(steps, X, borders=True)
        return with_border_trimmed(self.steps[-1][1].assess(rows), trimmed)

    def _has_typicality(self):
        return hasattr(self._final_estimator, "score_samples")

    def _typicality(self, X):
        if self._should_overlap(X, {}):
            return self._overlapped("score_samples", X)
        return self._final_estimator.score_samples(transform_for_prediction(self, X))

    @property
    def offset_(self):
        """The final step's ``offset_``: typicality below it is an outlier."""
        return self._final_estimator.offset_

    def _check_fit_input(self, X, y, params):
        """Check what every step will see, before any step runs.

        Samples and labels of equal number, labels present, and no per-sample
        weights sent past a sampler that changes the samples.
        """
        if y is None:
            raise ValueError("y is required: the class of each X-ray.")
        n_samples, n_labels = num_samples(X), num_samples(y)
        if n_samples != n_labels:
            raise ValueError(
                f"X has {n_samples} samples but y has {n_labels} labels: give "
                "one label per X-ray."
            )
        check_labels(y)
        resamplers = [
            name for name, step in self.steps[:-1] if hasattr(step, "fit_resample")
        ]
        weighted = [key for key in params if key.endswith("sample_weight")]
        if resamplers and weighted:
            raise ValueError(
                f"{weighted[0]} cannot reach the classifier: the sampler step "
                f"{resamplers[0]!r} changes the samples before it, so the "
                "weights would no longer match them. Balance with weights "
                "instead of a sampler (sampler=None; class_weight='balanced'), "
                "or leave sample_weight out."
            )

    def fit(self, X, y=None, **params):
        """Fit every step, with the ``resize`` step's size passed to the final step.

        As imblearn's ``Pipeline.fit``: ``params`` are routed to the steps
        (``cnn__groups=...``, or by metadata routing). ``X`` and ``y`` are
        checked first (:meth:`_check_fit_input`).
        """
        self._check_fit_input(X, y, params)
        return super().fit(X, y, **self._with_image_size(params))

    def fit_transform(self, X, y=None, **params):
        """Fit, then transform, the ``resize`` step's size passed to the final step.

        As imblearn's ``Pipeline.fit_transform``: ``params`` are routed to the steps
        (``cnn__groups=...``, or by metadata routing).
        """
        return super().fit_transform(X, y, **self._with_image_size(params))

    def fit_resample(self, X, y=None, **params):
        """Fit, then resample, with the ``resize`` step's size passed to the final step.

        As imblearn's ``Pipeline.fit_resample``: ``params`` are routed to the steps
        (``cnn__groups=...``, or by metadata routing).
        """
        return super().fit_resample(X, y, **self._with_image_size(params))

    def fit_predict(self, X, y=None, **params):
        """Fit, then predict, with the ``resize`` step's size passed to the final step.

        As imblearn's ``Pipeline.fit_predict``: ``params`` are routed to the steps
        (``cnn__groups=...``, or by metadata routing).
        """
        self._check_fit_input(X, y, params)
        return super().fit_predict(X, y, **self._with_image_size(params))
