"""The paper's CNN as a scikit-learn classifier, on scikeras' KerasClassifier.

What it changes in scikeras goes through the hooks of
``_upstream.ScikerasClassifier``; this module names no private upstream name.
"""

import inspect
import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import ClassifierTags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._callbacks import detach_callbacks
from ._decision import LogOddsMixin
from ._feature_gaussians import FeatureGaussians, feature_network, first_block
from ._holdout import holdout_indices
from ._network import build_cnn, with_dtype_policy
from ._noise import answers_hold, noise_cut
from ._prior_shift import SOURCE_STATE, store_source_state
from ._seeding import keras_seed
from ._tensorflow_log import drop_retracing_warnings
from ._typicality import TypicalityMixin, summarize_views
from ._upstream import Interval, ScikerasClassifier, StrOptions, fit_context
from ._views import (
    contrast_processed,
    reframed,
    score_views,
    sharpened,
    site_variants,
)

drop_retracing_warnings()


def rows_to_images(X, image_size):
    """Reshape flat rows (n, height * width) to images (n, height, width, 1).

    Examples
    --------
    >>> import numpy as np
    >>> rows_to_images(np.zeros((2, 6)), (2, 3)).shape
    (2, 2, 3, 1)
    """
    return np.asarray(X, dtype=np.float32).reshape(-1, *image_size, 1)


def check_labels(y):
    """Refuse class labels that are missing (None, NaN) or of mixed types.

    Examples
    --------
    >>> check_labels(["normal", None])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: y holds 1 missing label(s) (None or NaN), at rows [1]: ...
    """
    y = np.asarray(y, dtype=object).reshape(-1)
    missing = [
        i
        for i, label in enumerate(y)
        if label is None or (label != label)  # NaN
    ]
    if missing:
        raise ValueError(
            f"y holds {len(missing)} missing label(s) (None or NaN), at rows "
            f"{missing[:10]}{' ...' if len(missing) > 10 else ''}: every sample "
            "needs a class; labels are ints or strings, one type for all."
        )
    kinds = {type(label).__name__ for label in y if not isinstance(label, str)}
    if kinds and any(isinstance(label, str) for label in y):
        raise ValueError(
            f"y mixes strings with {', '.join(sorted(kinds))} labels: labels are "
            "ints or strings, one type for all."
        )


class CNNClassifier(LogOddsMixin, TypicalityMixin, ScikerasClassifier):
    """The paper's convolutional network as a scikit-learn classifier.

    Takes flat rows of ``height * width`` grayscale pixels (the output of
    :class:`~sklearn_pneumo.GrayscaleResize`), reshapes them to images and
    trains ``model`` (by default :func:`~sklearn_pneumo.build_cnn`) with the
    paper's settings: Adam, sparse categorical cross-entropy, accuracy,
    20 epochs, batches of 32.

    Unlike a bare scikeras ``KerasClassifier`` it is a real classifier for
    scikit-learn >= 1.7: ``is_classifier`` is True, ``cv=5`` is stratified,
    ``scoring="roc_auc"`` works. Every scikeras parameter is accepted;
    arguments of ``model`` are set with the ``model__`` prefix
    (``model__filters=32``), including in a grid search.

    Parameters
    ----------
    model : callable, default=build_cnn
        Builds the Keras model; receives scikeras' ``meta`` (with
        ``image_size_`` and ``n_classes_``) and the ``model__*`` parameters.
    image_size : tuple of (int, int) or None, default=None
        ``(height, width)`` of the images the rows hold. ``None`` takes the
        ``image_size`` given to :meth:`fit` (a :class:`PneumoPipeline` gives
        its ``resize`` step's size there), else square images (``height =
        width = sqrt(n_features)``); other feature counts are read as
        1-pixel-high images, with a warning. The size used is
        ``image_size_``.
    optimizer : str or keras optimizer, default="adam"
    loss : str or keras loss, default="sparse_categorical_crossentropy"
    metrics : str, list or None, default="accuracy"
    epochs : int, default=20
    batch_size : int, default=32
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling and every Keras random
        generator, and makes TensorFlow ops deterministic during the fit: two
        fits with the same seed on CPU give identical predictions.
    verbose : int, default=0
        Keras' progress output during fit and predict.
    callbacks : list of keras callbacks or None, default=None
        Passed to Keras ``fit`` (``EarlyStopping``, ``TensorBoard``,
        ``CSVLogger``, ``ReduceLROnPlateau``...); grid-searchable like any
        parameter. The classifier pickles with them: a pickled callback keeps
        its settings and what it learned (e.g. ``EarlyStopping.best``) but
        not its run-time links (the network it was attached to, open files,
        TensorBoard's log writers), which Keras sets again at the next fit.
    validation_split : float, default=0.0
        Fraction of the training data held out, stratified and shuffled
        (unlike Keras, which takes the last rows), to report validation loss
        and metrics each epoch, e.g. for ``EarlyStopping``. With ``groups``
        given to ``fit``, each group (patient) stays on one side. After an
        over-sampler, copies of a sample can land on both sides, and groups
        no longer match the resampled rows: prefer ``class_weight`` then.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss.
    shuffle : bool, default=True
        Shuffle the training data each epoch.
    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit``.
    jit_compile : bool or "auto", default="auto"
        Compile training and prediction steps with XLA. Keras' "auto" means
        off on a CPU-only machine; TensorFlow also turns XLA off while
        ``random_state`` makes ops deterministic.
    inference_dtype_policy : str or None, default=None
        Keras dtype policy the network predicts with, e.g.
        ``"mixed_bfloat16"``: ``predict``, ``predict_proba`` and scoring use a
        copy of the trained network with that policy and the same weights
        (its output layer stays float32). Training is unaffected. ``None``
        predicts with the network as trained. On CPUs with bfloat16
        instructions (AVX-512 BF16, AMX) the paper's network scores faster
        in bfloat16; probabilities move by up to about 0.01 from float32
        (the docs' benchmarks page). Keras ``predict`` callbacks or keyword
        arguments run the network as trained.
    outlier_rate : float or None, default=0.01
        Share of real X-rays :meth:`is_outlier` may flag: at fit, the flag's
        threshold ``offset_`` is set so that this share of the X-rays held
        out by ``validation_split`` is flagged (of the training X-rays
        themselves when nothing is held out, which flags fewer new X-rays
        than new inputs of the same source: hold some out to get the rate
        stated). ``None`` fits no outlier model: ``fit`` saves its pass over
        the training data (e.g. for the candidates of a grid search), and
        :meth:`assess`, :meth:`score_samples` and :meth:`is_outlier` are not
        available.
    test_time_augmentation : bool, default=False
        Predict from several views of each X-ray (``_views.VIEWS``: the
        image itself, gamma 0.8 and 1.25, a tenth cut off at the top and
        bottom or at the sides) and average their probabilities; the spread
        of the views is then each prediction's ``uncertainty``
        (:meth:`assess`). Scoring costs one forward pass per view.
    mirror_average : bool, default=False
        Answer with the mean of the network's probabilities for each X-ray
        and for its mirror image (flipped left to right; with
        ``test_time_augmentation``, for each view and its mirror image):
        an X-ray exported mirrored then gets exactly the answer of the X-ray
        as it is. Scoring costs a second forward pass. The views' spread
        (``uncertainty``) and the typicality are those of the mean answers
        and of the X-ray as it is.
    clahe : float, default=0.0
        Share of the training X-rays (not of a ``validation_split``
        hold-out), drawn with ``random_state``, contrast-processed with CLAHE
        (:func:`skimage.exposure.equalize_adapthist`), as many sites export
        them, before each ``fit``: the network and its outlier model then
        take such X-rays for X-rays. Needs intensities in [0, 1] (those of
        :class:`~sklearn_pneumo.GrayscaleResize`).
    contrast_range : bool, default=False
        Give the ``clahe`` share of the training X-rays a contrast
        processing drawn, for each X-ray, from a range of those sites apply
        (``_views.contrast_drawn``: two times in three CLAHE of a clip
        limit from 0.005 to 0.05 on 3 to 12 tiles a side, otherwise global
        histogram equalization blended in at a half to all), instead of
        CLAHE at scikit-image's defaults; with ``outlier_variants``, the
        CLAHE site variant is drawn from that range too.
    sharpen : float, default=0.0
        Share of the training X-rays (not of a ``validation_split``
        hold-out), drawn with ``random_state`` apart from the ``clahe``
        share (so some get both), sharpened before each ``fit`` by an
        unsharp mask of a radius and amount drawn for each X-ray from a
        range sites apply (``_views.sharpening_drawn``: a radius from 1/300
        to 1/25 of the longer side, an amount from 0.3 to 2). Needs
        intensities in [0, 1].
    reframe : float, default=0.0
        Share of each class's training X-rays (not of a ``validation_split``
        hold-out), drawn with ``random_state``, framed as the other class's
        are before each ``fit`` (``_views.reframed``): normal X-rays (class
        ``"normal"``, or 0) lose a tenth of their height at the top and the
        bottom, the others (every class of a model without normal ones) a
        tenth of their width at each side. In the public pediatric dataset
        normal X-rays are narrower for their height than pneumonia ones
        (width over height about 1.2 against 1.5), so a network can tell the
        classes apart by the chest's width once both are stretched to a
        square; at 0.5 the framing no longer tells them apart.
    outlier_variants : bool, default=False
        Try five copies of the X-rays as another site may send them
        (``_views.SITE_VARIANTS``: mirrored, CLAHE-processed, exposed by a
        gamma from 0.7 to 1.4, with noise of a standard deviation up to
        0.03, sharpened; drawn with ``random_state``); of those whose
        answers hold on the held-out X-rays (``site_variants_read_``), fit
        the outlier model on the training X-rays' copies too and take its
        units from the held-out ones', so that :meth:`is_outlier` takes
        such X-rays for X-rays, and only those the network reads. The
        threshold still flags ``outlier_rate`` of the X-rays as they are.
        Costs up to five more forward passes over the training X-rays at
        fit, and five over the held-out ones with each view.
    **kwargs
        Any other scikeras parameter (``run_eagerly``,
        ``validation_batch_size``...) and routed ``model__*``,
        ``optimizer__*``, ``fit__*``, ``predict__*`` parameters.

    Attributes
    ----------
    model_ : keras.Model
        The trained network.
    image_size_ : tuple of (int, int)
        Image size used at fit.
    classes_ : ndarray
        Class labels.
    history_ : dict
        Loss and metrics per epoch.
    n_features_in_ : int
        Pixels per image.
    outlier_model_ : FeatureGaussians
        Class-conditional Gaussians of the network's features of the training
        X-rays, behind :meth:`score_samples`.
    offset_ : float
        Inputs whose :meth:`score_samples` is below it are outliers
        (:meth:`is_outlier`), as scikit-learn's outlier detectors define it.
    site_variants_read_ : list of str
        With ``outlier_variants``: the site variants (``_views.SITE_VARIANTS``)
        of the held-out X-rays whose answers held (each class's recall within
        0.02, ROC AUC within 0.01 of the X-rays as they are); the outlier
        model's units stretch to take them for X-rays.
    readable_noise_ : dict
        The largest standard deviation of Gaussian noise, added to the
        held-out X-rays (the training ones without a hold-out), at which the
        answers held (each class's recall within 0.02, ROC AUC within 0.01,
        so the accuracy at any share of the classes): ``"white"``
        at the network's input size, ``"resized"`` at 1.5 times it, then
        resized. Images noisier than ``outlier_rate`` of such copies are
        outliers.
    source_priors_ : ndarray of shape (n_classes,)
        With a hold-out (``validation_split``): the class shares the
        probabilities reflect, the mean calibrated probability of each class
        on it. :class:`PriorShiftAdapter` starts from them.
    source_calibration_ : ndarray of shape (n_classes + 1,)
        With a hold-out: a temperature and a bias per class fitted to the
        hold-out's log-probabilities and labels (bias-corrected temperature
        scaling), which :class:`PriorShiftAdapter` applies first.
    source_score_edges_, source_score_counts_ : ndarray
        With a hold-out: how each class's calibrated probabilities on it
        spread over bins (per predicted class, cut at the quantiles of its
        probability), against which :class:`PriorShiftAdapter` tests
        whether a site differs by its class shares alone.
    source_score_design_effects_ : ndarray of shape (n_classes,)
        With a hold-out: how many of each class's held-out X-rays count as
        one independent draw in that test, measured by patient where
        ``groups`` were given to ``fit`` (else 1).

    See Also
    --------
    build_cnn : The default network.
    make_pneumo_pipeline : The whole chain from file paths to this classifier.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pneumo import CNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((40, 16 * 16), dtype=np.float32)
    >>> y = np.repeat(["normal", "pneumonia"], 20)
    >>> clf = CNNClassifier(epochs=1, model__filters=4, random_state=0).fit(X, y)
    >>> clf.image_size_, clf.predict_proba(X).shape
    ((16, 16), (40, 2))
    """

    def __init__(
        self,
        model=build_cnn,
        *,
        image_size=None,
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics="accuracy",
        epochs=20,
        batch_size=32,
        random_state=None,
        verbose=0,
        callbacks=None,
        validation_split=0.0,
        class_weight=None,
        shuffle=True,
        warm_start=False,
        jit_compile="auto",
        inference_dtype_policy=None,
        outlier_rate=0.01,
        test_time_augmentation=False,
        mirror_average=False,
        clahe=0.0,
        contrast_range=False,
        sharpen=0.0,
        reframe=0.0,
        outlier_variants=False,
        **kwargs,
    ):
        super().__init__(
            model=model,
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            epochs=epochs,
            batch_size=batch_size,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            class_weight=class_weight,
            shuffle=shuffle,
            warm_start=warm_start,
            **kwargs,
        )
        self.image_size = image_size
        self.jit_compile = jit_compile
        self.inference_dtype_policy = inference_dtype_policy
        self.outlier_rate = outlier_rate
        self.test_time_augmentation = test_time_augmentation
        self.mirror_average = mirror_average
        self.clahe = clahe
        self.contrast_range = contrast_range
        self.sharpen = sharpen
        self.reframe = reframe
        self.outlier_variants = outlier_variants

    __metadata_request__fit = {"groups": True, "image_size": True}
    # The parameters this class adds or gives new defaults; scikeras checks
    # the rest (model, optimizer, loss...) when it builds the network.
    _parameter_constraints = {
        "image_size": [tuple, list, None],
        "epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "shuffle": ["boolean"],
        "warm_start": ["boolean"],
        "jit_compile": ["boolean", StrOptions({"auto"})],
        "inference_dtype_policy": [str, None],
        "outlier_rate": [Interval(Real, 0, 1, closed="neither"), None],
        "test_time_augmentation": ["boolean"],
        "mirror_average": ["boolean"],
        "clahe": [Interval(Real, 0, 1, closed="both")],
        "contrast_range": ["boolean"],
        "sharpen": [Interval(Real, 0, 1, closed="both")],
        "reframe": [Interval(Real, 0, 1, closed="both")],
        "outlier_variants": ["boolean"],
    }

    def __repr__(self):
        return BaseEstimator.__repr__(self)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_prediction_networks", None)
        memo = {}
        for key, value in state.items():
            if "callbacks" in key:
                state[key] = detach_callbacks(value, memo)
        return state

    def __setstate__(self, state):
        # A model saved before a parameter existed was fitted as its default
        # fits: the parameter takes it (get_params, clone and refits need it).
        defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(CNNClassifier).parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        super().__setstate__({**defaults, **state})

    def _resolve_image_size(self, n_features, fit_size):
        if self.image_size is not None:
            height, width = self.image_size
            if height * width != n_features:
                raise ValueError(
                    f"image_size={tuple(self.image_size)} means {height * width} "
                    f"pixels per image, but X has {n_features} features."
                )
            return (int(height), int(width))
        if fit_size is not None and fit_size[0] * fit_size[1] == n_features:
            return (int(fit_size[0]), int(fit_size[1]))
        side = math.isqrt(n_features)
        if side * side == n_features:
            return (side, side)
        warnings.warn(
            f"X has {n_features} features, not a square number: reading each "
            f"row as a 1x{n_features} image. Pass image_size=(height, width) "
            "for non-square images.",
            UserWarning,
            stacklevel=4,
        )
        return (1, n_features)

    def _check_flat_images(self, X, reset):
        if sp.issparse(X):
            raise TypeError(
                "Sparse data was passed for X, but dense data is required: "
                f"{type(self).__name__} takes flat images (n_samples, height * width)."
            )
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2-D array of flat images (n_samples, height * width), "
                f"got shape {X.shape}. Reshape your data, e.g. with "
                "GrayscaleResize or X.reshape(len(X), -1)."
            )
        if not reset and X.shape[1] != self.n_features_in_:
            height, width = self.image_size_
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input "
                f"({height}x{width} images, as at fit)."
            )
        return X

    def _validate_rows(self, validate, X, y, reset, y_numeric):
        if X is not None:
            X = self._check_flat_images(X, reset)
        if reset and y is not None:
            check_labels(y)
        X, y = validate(X, y, reset=reset, y_numeric=y_numeric)
        if reset and y is not None and len(np.unique(y)) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, got "
                f"only one class: {np.unique(y)[0].item()!r}."
            )
        return X, y

    def _learn_image_size(self, X, image_size):
        """Set ``image_size_`` from the parameter, ``fit``'s argument or ``X``."""
        X = self._check_flat_images(X, reset=True)
        self.image_size_ = self._resolve_image_size(X.shape[1], image_size)
        return X

    @property
    def feature_encoder(self):
        """Reshape flat rows to images of ``image_size_`` for the network."""
        return FunctionTransformer(
            rows_to_images, kw_args={"image_size": self.image_size_}
        )

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None, image_size=None, **kwargs):
        """Train a new network on flat images.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss; samples of weight 0 are dropped.
        groups : array-like of shape (n_samples,), default=None
            Group of each sample, e.g. the patient (see
            :func:`~sklearn_pneumo.datasets.patient_groups`). Used only by
            ``validation_split``, to keep each group on one side of the
            hold-out. Requested by default under scikit-learn's metadata
            routing, so ``GridSearchCV(...).fit(X, y, groups=groups)`` passes
            it on; without routing, pass ``cnn__groups=groups`` to a pipeline.
        image_size : tuple of (int, int) or None, default=None
            ``(height, width)`` of the images the rows hold, when the
            ``image_size`` parameter is None: a :class:`PneumoPipeline`
            passes its ``resize`` step's size here. Ignored where it does not
            match the number of features (a step in between changed them).
        **kwargs
            Passed to Keras ``fit``.

        Returns
        -------
        self
        """
        self._refuse_unrouted_parameters()
        if groups is not None:
            groups = np.asarray(groups).reshape(-1)
            if sample_weight is not None and len(groups) == len(sample_weight):
                groups = groups[np.asarray(sample_weight) != 0]
        if not (self.warm_start and self.initialized_):
            X = self._learn_image_size(X, image_size)
        return super().fit(X, y, sample_weight=sample_weight, groups=groups, **kwargs)

    def _refuse_unrouted_parameters(self):
        """Refuse ``a__b`` parameters that no part of the classifier would read."""
        unrouted = self._unrouted_parameters()
        if unrouted:
            name = unrouted[0].split("__", 1)[1]
            raise ValueError(
                f"{type(self).__name__} got parameters nothing reads: "
                f"{', '.join(map(repr, unrouted))}. Routed parameters start with "
                "model__, optimizer__, loss__, metrics__, compile__, fit__, "
                "predict__ or callbacks__; the classifier's own take no prefix "
                f"(e.g. {name}=...)."
            )

    def partial_fit(self, X, y, sample_weight=None, image_size=None, **kwargs):
        """Train the network for one more epoch, building it on the first call.

        Parameters
        ----------
        X, y, sample_weight, image_size
            As in :meth:`fit`; ``image_size`` is read on the first call only.
        **kwargs
            Passed to Keras ``fit``.

        Returns
        -------
        self
        """
        self._refuse_unrouted_parameters()
        if not self.initialized_:
            X = self._learn_image_size(X, image_size)
        return super().partial_fit(X, y, sample_weight=sample_weight, **kwargs)

    def predict_proba(self, X, **kwargs):
        """Class probabilities, shape (n_samples, n_classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)
        **kwargs
            Passed to Keras ``predict``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        proba = super().predict_proba(X, **kwargs)
        # scikeras squeezes the result of a single sample to 1-D.
        return np.asarray(proba).reshape(-1, len(self.classes_))

    def _network(self, policy, features=False):
        """The trained network under dtype ``policy`` (None: as trained).

        With ``features``, a copy that also returns the features the outlier
        model reads. Copies are kept until the next fit.
        """
        if policy is None and not features:
            return self.model_
        networks = self.__dict__.setdefault("_prediction_networks", {})
        if (policy, features) not in networks:
            if features:
                network = feature_network(self._network(policy))
            else:
                # The outlier model's narrowest features in float32 whatever
                # the policy: computed in bfloat16, they flagged half of the
                # shipped model's X-rays.
                network = with_dtype_policy(
                    self.model_, policy, float32=first_block(self.model_)
                )
            networks[policy, features] = network
        return networks[policy, features]

    def _forward(self, images, policy, features=False):
        """Probabilities of images, and their features if asked (else None)."""
        network, batch = self._network(policy, features), self._predict_batch_size()
        outputs = [
            network.predict_on_batch(images[start : start + batch])
            for start in range(0, len(images), batch)
        ]
        if not features:
            return np.concatenate(outputs), None
        proba, *maps = [np.concatenate(column) for column in zip(*outputs)]
        return proba, maps

    def _fit_outlier_model(self, images, y, held_out=None, held_out_y=None):
        """Fit the feature Gaussians on training images; set ``offset_``.

        On ``held_out`` images (the training images when None) and their
        labels ``held_out_y``: with ``outlier_variants``, which site
        variants the network reads (``site_variants_read_``: their answers
        hold); the units of each depth, from the held-out images and those
        variants of them; the threshold, the ``outlier_rate`` quantile of
        the held-out images' typicality; and the noise the network reads
        (``readable_noise_``), which sets the noise level flagged. The
        Gaussians are fitted on the training images and, of their site
        variants, on those the network reads: the outlier model learns to
        accept what the network reads, and nothing else.
        """

        def features(images):
            return self._forward(images, self.inference_dtype_policy, features=True)[1]

        y = np.asarray(y).reshape(len(y), -1)[:, 0]
        reference, reference_y = images, y
        if held_out is not None and len(held_out):
            reference, reference_y = held_out, held_out_y
        reference_y = np.asarray(reference_y).reshape(len(reference), -1)[:, 0]
        plain = self._proba(reference)
        read = [features(reference)]
        self.site_variants_read_ = []
        if self.outlier_variants:
            for name, copy in site_variants(
                reference, self._fit_seed, contrast_range=self.contrast_range
            ):
                if answers_hold(plain, self._proba(copy), reference_y):
                    self.site_variants_read_.append(name)
                    read.append(features(copy))
        fitted = [features(images)]
        if self.site_variants_read_:
            fitted += [
                features(copy)
                for _, copy in site_variants(
                    images,
                    self._fit_seed,
                    self.site_variants_read_,
                    self.contrast_range,
                )
            ]
        self.outlier_model_ = FeatureGaussians().fit(
            [np.concatenate(depth) for depth in zip(*fitted)],
            np.tile(y, len(fitted)),
            read,
        )
        typicality = self.outlier_model_.score(read[0])
        self.offset_ = float(np.quantile(typicality, self.outlier_rate))
        cut, self.readable_noise_ = noise_cut(
            self._proba, reference, reference_y, self.outlier_rate, self._fit_seed
        )
        # Noise at the cut scores exactly the threshold.
        self.outlier_model_.noise_scale_ = cut / max(-self.offset_, 1e-12)

    def _scored_views(
        self,
        X,
        *,
        test_time_augmentation,
        inference_dtype_policy,
        typicality,
        mirror_average=None,
    ):
        """Probabilities of each view, (views, n, classes), and typicality or None.

        What every prediction of this classifier (and of an ensemble of
        them, which passes its own settings) is made of. Typicality is read
        from the plain view's features, when asked. ``mirror_average`` None
        takes the classifier's own.
        """
        check_is_fitted(self)
        images = self.feature_encoder_.transform(self._checked_rows(X))

        def forward(view, features):
            return self._forward(view, inference_dtype_policy, features)

        return score_views(
            images,
            forward,
            getattr(self, "outlier_model_", None),
            test_time_augmentation=test_time_augmentation,
            typicality=typicality,
            mirror_average=(
                self.mirror_average if mirror_average is None else mirror_average
            ),
        )

    def _has_typicality(self):
        if not self.__sklearn_is_fitted__():
            return self.outlier_rate is not None
        return "outlier_model_" in vars(self)

    @available_if(_has_typicality)
    def assess(self, X):
        """Probabilities, typicality, outlier flags and uncertainty, in one pass.

        Parameters
        ----------
        X : array-like of shape (n_samples, height * width)

        Returns
        -------
        Bunch
            ``proba`` (n_samples, n_classes): as :meth:`predict_proba`, up to
            float rounding; ``typicality`` (n_samples,): as
            :meth:`score_samples`; ``outlier`` (n_samples,) bool: as
            :meth:`is_outlier`; ``uncertainty`` (n_samples,): with
            ``test_time_augmentation``, the standard deviation of the
            probabilities over the views (of the class where it is largest);
            NaN without it, since one view has no spread.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_pneumo import CNNClassifier
        >>> rng = np.random.default_rng(0)
        >>> X = rng.random((40, 16 * 16), dtype=np.float32)
        >>> clf = CNNClassifier(epochs=1, model__filters=4, random_state=0)
        >>> result = clf.fit(X, [0, 1] * 20).assess(X)
        >>> result.proba.shape, result.typicality.shape, result.outlier.dtype
        ((40, 2), (40,), dtype('bool'))
        >>> clf.set_params(test_time_augmentation=True).assess(X[:3]).uncertainty.shape
        (3,)
        """
        views, typicality = self._scored_views(
            X,
            test_time_augmentation=self.test_time_augmentation,
            inference_dtype_policy=self.inference_dtype_policy,
            typicality=True,
        )
        return summarize_views(views, typicality, self.offset_)

    def _typicality(self, X):
        return self._scored_views(
            X,
            test_time_augmentation=False,
            inference_dtype_policy=self.inference_dtype_policy,
            typicality=True,
            mirror_average=False,
        )[1]

    def _predict_rows(self, predict, X, **kwargs):
        # Keras' predict builds a data pipeline on every call (about 60 ms for
        # one 150x150 image on 2 CPU cores); predict_on_batch over the same
        # batches gives the same result without it (about 3 ms).
        if kwargs or not self.initialized_ or self._has_predict_callbacks():
            return predict(X, **kwargs)
        views, _ = self._scored_views(
            X,
            test_time_augmentation=self.test_time_augmentation,
            inference_dtype_policy=self.inference_dtype_policy,
            typicality=False,
        )
        return views.mean(axis=0)

    def _predict_batch_size(self):
        """Rows per prediction step: ``predict__batch_size``, else ``batch_size``."""
        return getattr(self, "predict__batch_size", None) or self.batch_size or 32

    def _build_network(self, build):
        with keras_seed(self._fit_seed):
            return build()

    def _train(self, keras_fit, X, y, sample_weight, groups=None, **kwargs):
        held_out = held_out_labels = patients = None
        if self.validation_split and "validation_data" not in kwargs:
            if groups is not None and len(groups) != len(y):
                raise ValueError(
                    f"groups has {len(groups)} entries but {type(self).__name__} "
                    f"got {len(y)} samples: a sampler before it (e.g. "
                    "RandomOverSampler) changed the samples. Use class_weight "
                    "instead of a sampler (sampler=None) to hold out by group."
                )
            train, held_out = holdout_indices(
                y, self.validation_split, self._fit_seed, groups
            )
            if groups is not None:
                patients = np.asarray(groups)[held_out]
            validation = (X[held_out], y[held_out])
            if sample_weight is not None:
                validation += (sample_weight[held_out],)
                sample_weight = sample_weight[train]
            X, y, kwargs["validation_data"] = X[train], y[train], validation
            held_out, held_out_labels = validation[0], validation[1]
        if self.contrast_range and not self.clahe:
            warnings.warn(
                "contrast_range=True processes the clahe share of the training "
                "X-rays, and clahe=0: none is processed. Set clahe too, e.g. "
                "clahe=0.5.",
                UserWarning,
                stacklevel=2,
            )
        X = self._as_trained_on(X, y, self._fit_seed)
        for fitted in (
            "_prediction_networks",
            "outlier_model_",
            "offset_",
            "readable_noise_",
            "site_variants_read_",
            *SOURCE_STATE,
        ):
            self.__dict__.pop(fitted, None)
        with keras_seed(self._fit_seed):
            result = keras_fit(X, y, sample_weight, **kwargs)
        if held_out is not None and len(held_out):
            labels = np.asarray(held_out_labels).reshape(len(held_out), -1)[:, 0]
            store_source_state(self, self._proba(held_out), labels, patients)
        if self.outlier_rate is not None:
            self._fit_outlier_model(X, y, held_out, held_out_labels)
        return result

    def _as_trained_on(self, X, y, seed):
        """Training images ``X`` (labels ``y``, encoded) as the network learns
        from them: their ``reframe``, ``clahe`` and ``sharpen`` shares
        changed, drawn with ``seed``."""
        if self.reframe:
            X = reframed(X, y, self.reframe, seed, self._normal_label())
        if self.clahe:
            X = contrast_processed(X, self.clahe, seed, self.contrast_range)
        if self.sharpen:
            X = sharpened(X, self.sharpen, seed)
        return X

    def _normal_label(self):
        """The encoded label of class "normal", else of 0, else None (no normal)."""
        names = [str(c).lower() for c in self.classes_]
        for normal in ("normal", "0"):
            if normal in names:
                return names.index(normal)
        return None

    def _proba(self, images):
        """The probabilities of encoded ``images``, as :meth:`predict_proba` gives."""

        def forward(view, features):
            return self._forward(view, self.inference_dtype_policy, features)

        views, _ = score_views(
            images,
            forward,
            None,
            test_time_augmentation=self.test_time_augmentation,
            typicality=False,
            mirror_average=self.mirror_average,
        )
        return views.mean(axis=0)

    def __sklearn_is_fitted__(self):
        return self.initialized_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(poor_score=True)
        tags.target_tags.required = True
        return tags
