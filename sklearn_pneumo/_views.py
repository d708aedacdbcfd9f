"""Views of X-rays: the same image exposed, framed or processed differently.

The test-time views (:func:`augmented_views`), the CLAHE-processed,
sharpened and re-framed shares of the training X-rays
(:func:`contrast_processed`, :func:`sharpened`, :func:`reframed`) and the
copies the outlier model also learns from (:func:`site_variants`).
"""

import numpy as np
from skimage.exposure import equalize_adapthist, equalize_hist
from skimage.filters import unsharp_mask

from ._noise import noise_level

#: The views scored with ``test_time_augmentation``: the image itself, two
#: exposures (gamma curves on the [0, 1] intensities) and two framings (a
#: tenth cut off at the top and bottom, or at each side, stretched back).
VIEWS = (
    ("plain", None),
    ("gamma_0.8", 0.8),
    ("gamma_1.25", 1.25),
    ("height_cropped", (0.1, 0.0)),
    ("width_cropped", (0.0, 0.1)),
)


def bilinear_matrix(n_in, n_out):
    """(n_out, n_in) weights of a bilinear resize of one axis, pixel centres aligned.

    Output pixel ``i`` samples the input at ``(i + 0.5) * n_in / n_out - 0.5``,
    clamped to the edge pixels: TensorFlow's ``resize(..., "bilinear")``
    without antialiasing (equal within 5e-6), in NumPy, so that every
    scorer, with or without TensorFlow, takes the same views.

    Examples
    --------
    >>> bilinear_matrix(2, 4).tolist()
    [[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]]
    """
    where = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    left = np.floor(where).astype(int)
    right = np.minimum(left + 1, n_in - 1)
    share = (where - left).astype(np.float32)
    weights = np.zeros((n_out, n_in), dtype=np.float32)
    np.add.at(weights, (np.arange(n_out), left), 1 - share)
    np.add.at(weights, (np.arange(n_out), right), share)
    return weights


def _cropped(images, cut):
    """Cut a share of each side off (height, width), then resize back."""
    height, width = images.shape[1:3]
    top, left = round(height * cut[0]), round(width * cut[1])
    inner = images[:, top : height - top, left : width - left, 0]
    # Two matrix products per image (BLAS), not one einsum over five axes.
    resized = (
        bilinear_matrix(inner.shape[1], height)
        @ inner
        @ bilinear_matrix(inner.shape[2], width).T
    )[..., np.newaxis]
    return np.clip(resized, 0.0, 1.0)


def augmented_views(images):
    """Yield ``(name, images)`` for each view in :data:`VIEWS`.

    Parameters
    ----------
    images : ndarray of shape (n, height, width, 1)
        Intensities in [0, 1].

    Yields
    ------
    name : str
    view : ndarray of float32, the shape of ``images``

    Examples
    --------
    >>> import numpy as np
    >>> images = np.full((2, 10, 10, 1), 0.5, dtype=np.float32)
    >>> [(name, view.shape) for name, view in augmented_views(images)][1]
    ('gamma_0.8', (2, 10, 10, 1))
    """
    images = np.asarray(images, dtype=np.float32)
    for name, change in VIEWS:
        if change is None:
            yield name, images
        elif isinstance(change, float):
            yield name, np.power(images, np.float32(change))
        else:
            yield name, _cropped(images, change).astype(np.float32)


def score_views(
    images,
    forward,
    outlier_model,
    *,
    test_time_augmentation,
    typicality,
    mirror_average=False,
):
    """Probabilities of each view, (views, n, classes), and typicality or None.

    What every scorer of this package (a Keras network, an ONNX graph) runs:
    ``forward(images, features)`` gives the probabilities and, when
    ``features``, the features ``outlier_model.score`` reads (with the
    images' noise level). It is called on every view of ``images`` stacked
    (with ``mirror_average``, and on each view's mirror image, the two
    probabilities averaged); typicality is read from the plain view only,
    so with ``typicality`` and several views, the plain view is scored with
    its features and the others, stacked, without.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.full((3, 8, 8, 1), 0.5, dtype=np.float32)
    >>> def forward(view, features):
    ...     return np.full((len(view), 2), 0.5), None
    >>> probas, score = score_views(
    ...     images, forward, None, test_time_augmentation=True, typicality=False
    ... )
    >>> probas.shape, score
    ((5, 3, 2), None)
    >>> def leftward(view, features):  # P(class 1): the left half's brightness
    ...     left = view[:, :, : view.shape[2] // 2].mean(axis=(1, 2, 3))
    ...     return np.stack([1 - left, left], axis=1), None
    >>> images[:, :, :4] = 1.0
    >>> score_views(
    ...     images, leftward, None, test_time_augmentation=False, typicality=False,
    ...     mirror_average=True,
    ... )[0][0, :, 1].tolist()
    [0.75, 0.75, 0.75]
    """
    views = augmented_views(images) if test_time_augmentation else [("plain", images)]
    names, views = zip(*views)
    n_views, n, plain = len(views), len(images), names.index("plain")
    if mirror_average:
        views += tuple(view[:, :, ::-1] for view in views)
    if typicality and len(views) > 1:
        # The features only where they are read, the plain view: in Keras
        # they cost float32 scoring a fifth of its time.
        first, maps = forward(views[plain], True)
        rest, _ = forward(np.concatenate(views[:plain] + views[plain + 1 :]), False)
        rest = np.asarray(rest).reshape(len(views) - 1, n, -1)
        probas = np.insert(rest, plain, np.asarray(first), axis=0)
    else:
        # Every view in one network call: one pass of the batch's views.
        proba, maps = forward(np.concatenate(views), typicality)
        probas = np.asarray(proba).reshape(len(views), n, -1)
    if mirror_average:
        probas = (probas[:n_views] + probas[n_views:]) / 2
    score = None
    if typicality:
        score = outlier_model.score(maps, noise_level(images))
    return probas, score


#: What :func:`contrast_drawn` draws from: CLAHE (``CLAHE_SHARE`` of the
#: time) of a clip limit log-uniform in ``CLAHE_CLIP_LIMITS`` on a grid of
#: ``CLAHE_TILES`` tiles a side, or global histogram equalization blended in
#: at a share drawn from ``EQUALIZED_BLEND``.
CLAHE_SHARE = 2 / 3
CLAHE_CLIP_LIMITS = (0.005, 0.05)
CLAHE_TILES = (3, 12)
EQUALIZED_BLEND = (0.5, 1.0)


def contrast_drawn(image, rng):
    """``image`` contrast-processed as a site's software may, drawn with ``rng``.

    CLAHE (:func:`skimage.exposure.equalize_adapthist`, ``CLAHE_SHARE`` of
    the time) of a clip limit drawn log-uniform from ``CLAHE_CLIP_LIMITS``
    on a grid of ``CLAHE_TILES`` tiles a side, or global histogram
    equalization (:func:`skimage.exposure.equalize_hist`) blended in at a
    share drawn from ``EQUALIZED_BLEND``. The grid is a share of the
    image's size: on 25 training X-rays of 224 px, processing before or
    after resizing to 150 px differed by a fifth of what the processing
    changes (mean absolute intensity 0.022 against 0.106).

    Parameters
    ----------
    image : ndarray of shape (height, width)
        Gray intensities in [0, 1].
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of float32, the shape of ``image``, in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((32, 32))
    >>> processed = contrast_drawn(image, np.random.default_rng(0))
    >>> processed.shape, processed.dtype.name, bool(processed.max() <= 1)
    ((32, 32), 'float32', True)
    """
    if rng.random() < CLAHE_SHARE:
        clip_limit = np.exp(rng.uniform(*np.log(CLAHE_CLIP_LIMITS)))
        tiles = rng.integers(CLAHE_TILES[0], CLAHE_TILES[1] + 1)
        processed = equalize_adapthist(
            image, kernel_size=max(1, max(image.shape) // tiles), clip_limit=clip_limit
        )
    else:
        blend = rng.uniform(*EQUALIZED_BLEND)
        processed = blend * equalize_hist(image) + (1 - blend) * image
    return np.clip(processed, 0, 1).astype(np.float32)


def contrast_processed(images, share, seed, contrast_range=False):
    """A copy of ``images`` with ``share`` of them, drawn at random, processed.

    Contrast-limited adaptive histogram equalization
    (:func:`skimage.exposure.equalize_adapthist`) is the post-processing
    many sites apply to their X-rays before export; a network trained on a
    share of such images learns that they are X-rays too. ``share`` of the
    images (rounded) are drawn with ``numpy.random.default_rng(seed)`` and
    given CLAHE at scikit-image's defaults or, with ``contrast_range``, a
    processing drawn from a range by :func:`contrast_drawn` (with the same
    generator).

    Parameters
    ----------
    images : ndarray of shape (n, height, width, 1)
        Intensities in [0, 1].
    share : float
        Share of the images to process, in [0, 1].
    seed : int or None
    contrast_range : bool, default=False

    Returns
    -------
    ndarray of shape (n, height, width, 1)

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((4, 16, 16, 1)).astype(np.float32)
    >>> processed = contrast_processed(images, 0.5, seed=0)
    >>> int(sum(not np.array_equal(a, b) for a, b in zip(images, processed)))
    2
    >>> ranged = contrast_processed(images, 0.5, seed=0, contrast_range=True)
    >>> int(sum(not np.array_equal(a, b) for a, b in zip(processed, ranged)))
    2
    """
    _check_unit_intensities(images, "clahe")
    process = contrast_drawn if contrast_range else _default_clahe
    return _share_processed(images, share, np.random.default_rng(seed), process)


def _default_clahe(image, _):
    return equalize_adapthist(image)


def _share_processed(images, share, rng, process):
    """A copy of ``images`` with ``share`` of them, drawn with ``rng``, each
    given ``process(image, rng)``."""
    chosen = rng.permutation(len(images))[: round(share * len(images))]
    processed = images.copy()
    for i in chosen:
        processed[i, ..., 0] = process(images[i, ..., 0], rng)
    return processed


def _check_unit_intensities(images, parameter):
    low, high = float(images.min(initial=0.0)), float(images.max(initial=0.0))
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{parameter} needs intensities in [0, 1]; the training images hold "
            f"values from {low:g} to {high:g}."
        )


#: The unsharp masks :func:`sharpening_drawn` draws: a radius log-uniform in
#: ``SHARPEN_RADII``, as shares of the image's longer side (at 224 px, 0.75
#: to 9 px), and an amount log-uniform in ``SHARPEN_AMOUNTS``.
SHARPEN_RADII = (1 / 300, 1 / 25)
SHARPEN_AMOUNTS = (0.3, 2.0)


def sharpening_drawn(image, rng):
    """``image`` sharpened by an unsharp mask a site may apply, drawn with ``rng``.

    :func:`skimage.filters.unsharp_mask` of a radius drawn log-uniform from
    ``SHARPEN_RADII`` of the image's longer side, from the fine edge
    enhancement of a radius of a pixel to the wide masks that raise
    large-scale contrast, and an amount drawn log-uniform from
    ``SHARPEN_AMOUNTS``.

    Parameters
    ----------
    image : ndarray of shape (height, width)
        Gray intensities in [0, 1].
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of float32, the shape of ``image``, in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((32, 32))
    >>> processed = sharpening_drawn(image, np.random.default_rng(0))
    >>> processed.shape, processed.dtype.name, bool(processed.max() <= 1)
    ((32, 32), 'float32', True)
    """
    radius = max(image.shape) * np.exp(rng.uniform(*np.log(SHARPEN_RADII)))
    amount = np.exp(rng.uniform(*np.log(SHARPEN_AMOUNTS)))
    processed = unsharp_mask(image, radius=radius, amount=amount)
    return np.clip(processed, 0, 1).astype(np.float32)


def sharpened(images, share, seed):
    """A copy of ``images`` with ``share`` of them, drawn at random, sharpened.

    Sites sharpen X-rays before export, with masks of many radii; a network
    trained on a share of such images learns that they are X-rays too.
    ``share`` of the images (rounded) are drawn, and each given an unsharp
    mask drawn by :func:`sharpening_drawn`, from a generator of its own
    spawned from ``seed``: with the same seed, :func:`contrast_processed`
    draws other images, so that some get both processings and some one.

    Parameters
    ----------
    images : ndarray of shape (n, height, width, 1)
        Intensities in [0, 1].
    share : float
        Share of the images to sharpen, in [0, 1].
    seed : int or None

    Returns
    -------
    ndarray of shape (n, height, width, 1)

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((4, 16, 16, 1)).astype(np.float32)
    >>> processed = sharpened(images, 0.5, seed=0)
    >>> int(sum(not np.array_equal(a, b) for a, b in zip(images, processed)))
    2
    """
    _check_unit_intensities(images, "sharpen")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    return _share_processed(images, share, rng, sharpening_drawn)


#: How :func:`site_variants` changes the training X-rays: the name of each
#: copy and what it is.
SITE_VARIANTS = (
    ("mirrored", "flipped left-right"),
    ("clahe", "contrast-processed by CLAHE (with contrast_range, as drawn)"),
    ("exposure", "a gamma curve drawn from 0.7 to 1.4"),
    ("noise", "Gaussian noise of a standard deviation drawn up to 0.03"),
    ("sharpened", "an unsharp mask of radius 2, its amount drawn from 0.5 to 1.5"),
)


def reframed(images, labels, share, seed, normal=0):
    """A copy of ``images`` with ``share`` of each class framed as the others are.

    In the public pediatric dataset normal X-rays are about 1.2 times as wide
    as high and pneumonia X-rays about 1.5 times, so once stretched to a
    square the chest's width tells the classes apart; a site that frames
    differently (another collimation, another age) breaks that shortcut. A
    network trained on a share of each class framed as the other is framed
    cannot take it: ``share`` of the normal X-rays (label ``normal``) lose a
    tenth of their height at the top and at the bottom, and ``share`` of the
    others a tenth of their width at each side, stretched back to their size
    (the crops of the ``height_cropped`` and ``width_cropped`` views). Each
    class's share (rounded) is drawn with ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    images : ndarray of shape (n, height, width, 1)
        Intensities in [0, 1].
    labels : ndarray of shape (n,)
        Encoded labels.
    share : float
        Share of each class to re-frame, in [0, 1].
    seed : int or None
    normal : int or None, default=0
        The label of normal X-rays; None when none are normal (a model of
        the types of pneumonia): every class is then cropped at the sides.

    Returns
    -------
    ndarray of float32, the shape of ``images``

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((4, 10, 10, 1)).astype(np.float32)
    >>> framed = reframed(images, np.array([0, 0, 1, 1]), 0.5, seed=0)
    >>> changed = [not np.array_equal(a, b) for a, b in zip(images, framed)]
    >>> int(sum(changed[:2])), int(sum(changed[2:]))  # one of each class
    (1, 1)
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels).reshape(len(images), -1)[:, 0]
    framed = np.array(images, dtype=np.float32)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        chosen = members[: round(share * len(members))]
        cut = (0.1, 0.0) if label == normal else (0.0, 0.1)
        if len(chosen):
            framed[chosen] = _cropped(framed[chosen], cut)
    return framed


def site_variants(images, seed, names=None, contrast_range=False):
    """Yield ``(name, copy)``: ``images`` as another site may send them.

    One copy per entry of :data:`SITE_VARIANTS` (or of ``names``), each of
    every image, so that a model of what X-rays look like learns these are
    X-rays too. Each copy's exposures, noise or amounts are drawn with a
    generator of its own, seeded by ``seed`` and its place in
    :data:`SITE_VARIANTS`: a copy is the same whichever others are made.

    Parameters
    ----------
    images : ndarray of shape (n, height, width, 1)
        Intensities in [0, 1].
    seed : int or None
    names : collection of str, default=None
        The copies to make, by name; all when None.
    contrast_range : bool, default=False
        Process the ``"clahe"`` copy with a processing drawn from a range
        (:func:`contrast_drawn`) instead of CLAHE at scikit-image's defaults.

    Yields
    ------
    name : str
    copy : ndarray of float32, the shape of ``images``, in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((2, 16, 16, 1)).astype(np.float32)
    >>> variants = dict(site_variants(images, seed=0))
    >>> list(variants)
    ['mirrored', 'clahe', 'exposure', 'noise', 'sharpened']
    >>> bool((variants["mirrored"][:, :, ::-1] == images).all())
    True
    >>> [name for name, _ in site_variants(images, 0, names={"noise", "clahe"})]
    ['clahe', 'noise']
    """
    images = np.asarray(images, dtype=np.float32)
    shape = (len(images), 1, 1, 1)

    def exposed(rng):
        gammas = np.exp(rng.uniform(np.log(0.7), np.log(1.4), shape))
        return np.power(images, gammas.astype(np.float32))

    def noisy(rng):
        sigmas = rng.uniform(0.0, 0.03, shape).astype(np.float32)
        noise = rng.standard_normal(images.shape, dtype=np.float32)
        return np.clip(images + sigmas * noise, 0.0, 1.0)

    def sharpened(rng):
        amounts = rng.uniform(0.5, 1.5, len(images))
        copies = [
            unsharp_mask(image[..., 0], radius=2, amount=amount)
            for image, amount in zip(images, amounts)
        ]
        return np.clip(copies, 0.0, 1.0)[..., np.newaxis].astype(np.float32)

    make = {
        "mirrored": lambda rng: images[:, :, ::-1],
        "clahe": lambda rng: contrast_processed(images, 1.0, seed, contrast_range),
        "exposure": exposed,
        "noise": noisy,
        "sharpened": sharpened,
    }
    for place, (name, _) in enumerate(SITE_VARIANTS):
        if names is None or name in names:
            yield (
                name,
                make[name](
                    np.random.default_rng(None if seed is None else [place, seed])
                ),
            )
