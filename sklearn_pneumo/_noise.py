"""How noisy an X-ray is, and how much noise a network still reads.

Noise shifts a network's answers without leaving its features: the shipped
binary network keeps its ROC AUC on X-rays with Gaussian noise of standard
deviation 0.05 while its accuracy falls from 0.95 to 0.81, the answers
moved toward pneumonia (normal recall 0.98 -> 0.28), and an outlier model
of its features alone flagged a third of them.
So the outlier model also reads the noise level of each image, one-sided:
at fit, the network's own hold-out measures the most noise it reads (its
answers hold), and images noisier than that are flagged.
"""

import numpy as np

#: Standard deviations of Gaussian noise, on the network's [0, 1] input,
#: tried at fit from the smallest up, until the answers no longer hold.
NOISE_LEVELS = tuple(np.round(np.arange(0.005, 0.1001, 0.005), 3))


def noise_level(images):
    """Each image's noise standard deviation, as Immerkær (1996) estimates it.

    The mean absolute response to the 3x3 Laplacian difference kernel
    ``[[1, -2, 1], [-2, 4, -2], [1, -2, 1]]``, which cancels smooth
    intensity, scaled so that Gaussian noise of standard deviation
    ``sigma`` reads ``sigma`` ("Fast noise variance estimation", Computer
    Vision and Image Understanding 64(2), 1996). Anatomy reads a little:
    about 0.004 on training X-rays at 150 px.

    Parameters
    ----------
    images : ndarray of shape (n, height, width) or (n, height, width, 1)

    Returns
    -------
    ndarray of shape (n,) of float64

    Examples
    --------
    >>> import numpy as np
    >>> noisy = np.random.default_rng(0).normal(0.5, 0.02, (1, 100, 100))
    >>> float(noise_level(noisy)[0].round(3))
    0.02
    """
    images = np.asarray(images, dtype=np.float32).reshape(np.shape(images)[:3])
    # The kernel is the outer product of [1, -2, 1] with itself: a second
    # difference down the rows, then across the columns.
    rows = images[:, :-2] - 2 * images[:, 1:-1] + images[:, 2:]
    both = rows[:, :, :-2] - 2 * rows[:, :, 1:-1] + rows[:, :, 2:]
    return np.sqrt(np.pi / 2) / 6 * np.abs(both).mean(axis=(1, 2), dtype=np.float64)


#: Where noise enters, as ``(name, upsampling)``: at the network's input
#: size (white), or at 1.5 times it, clipped to [0, 1] there, then resized
#: as :class:`GrayscaleResize` resizes, as the noise of 224 px X-rays
#: reaches a 150 px network: neighbouring pixels then share it, and what
#: the clipping adds to black and white areas survives the resize, so the
#: answers move sooner per unit of the estimate.
NOISE_KINDS = (("white", 1.0), ("resized", 1.5))


def noise_adder(images, seed, upsampling=1.0):
    """A function of ``sigma``: ``images`` with Gaussian noise of that deviation.

    The noise is drawn once, with ``numpy.random.default_rng(seed)``, and
    scaled by each ``sigma``. With ``upsampling`` above 1, it is added to
    the images resized to that many times their size, clipped there, and
    the result resized back, as noise added at a higher resolution reaches
    the network.

    Parameters
    ----------
    images : ndarray of shape (n, height, width, 1)
        Intensities in [0, 1].
    seed : int or None
    upsampling : float, default=1.0

    Returns
    -------
    callable
        ``add(sigma)`` gives an ndarray of float32 of the shape of
        ``images``, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> images = np.full((2, 40, 40, 1), 0.5, dtype=np.float32)
    >>> white, resized = noise_adder(images, 0), noise_adder(images, 0, 1.5)
    >>> white(0.1).shape == resized(0.1).shape == images.shape
    True
    >>> bool(resized(0.1).std() < white(0.1).std())
    True
    """
    from ._grayscale import resize_like_skimage

    images = np.asarray(images, dtype=np.float32)
    rng = np.random.default_rng(seed)
    if upsampling == 1.0:
        noise = rng.standard_normal(images.shape, np.float32)
        return lambda sigma: np.clip(images + np.float32(sigma) * noise, 0.0, 1.0)
    n, height, width = images.shape[:3]
    size = (round(height * upsampling), round(width * upsampling))
    large = np.stack([resize_like_skimage(image[..., 0], size) for image in images])
    noise = rng.standard_normal(large.shape, np.float32)

    def add(sigma):
        noisy = np.clip(large + np.float32(sigma) * noise, 0.0, 1.0)
        back = [resize_like_skimage(image, (height, width)) for image in noisy]
        return np.asarray(back, dtype=np.float32).reshape(images.shape)

    return add


def answers_hold(proba, changed, labels):
    """Whether ``changed`` probabilities answer as well as ``proba``, at any mix.

    Each class's recall within 0.02 and the ROC AUC within 0.01 (one class
    against the rest, averaged, for more than two; left out when ``labels``
    hold one class). Since accuracy is the recalls weighted by the classes'
    shares, it then stays within 0.02 at any share of the classes: a change
    that moves answers from one class to the other, which on one mix of
    X-rays may even raise the accuracy, does not hold.

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    >>> answers_hold(proba, proba, np.array([0, 1, 1, 0]))
    True
    >>> answers_hold(proba, proba[:, ::-1], np.array([0, 1, 1, 0]))
    False
    """
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels).astype(np.intp)  # column indices, maybe as floats
    present = np.unique(labels)

    def figures(p):
        answers = np.argmax(p, axis=1)
        recalls = np.array([np.mean(answers[labels == c] == c) for c in present])
        if len(present) < 2:
            return recalls, 0.0
        if p.shape[1] == 2:
            return recalls, roc_auc_score(labels, p[:, 1])
        scores = p[:, present] / p[:, present].sum(axis=1, keepdims=True)
        return recalls, roc_auc_score(labels, scores, multi_class="ovr")

    (recalls, auc), (changed_recalls, changed_auc) = figures(proba), figures(changed)
    return bool(np.all(changed_recalls >= recalls - 0.02) and changed_auc >= auc - 0.01)


def readable_noise(predict_proba, labels, add_noise):
    """The largest of :data:`NOISE_LEVELS` at which the answers still hold.

    Tried from the smallest up, each on ``add_noise(sigma)`` against
    ``add_noise(0.0)``; 0.0 when even the smallest moves the answers.

    Parameters
    ----------
    predict_proba : callable
        Probabilities of images, (n, n_classes).
    labels : ndarray of shape (n,)
        The classes of labelled X-rays the network was not fitted on, as
        column indices of the probabilities.
    add_noise : callable
        Those X-rays with noise of a given standard deviation
        (:func:`noise_adder`).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((20, 8, 8, 1)).astype(np.float32)
    >>> labels = (images.mean(axis=(1, 2, 3)) > 0.5).astype(int)
    >>> def proba(x):  # reads the mean brightness, which noise hardly moves
    ...     p = (x.mean(axis=(1, 2, 3)) > 0.5).astype(float)
    ...     return np.column_stack([1 - p, p])
    >>> readable_noise(proba, labels, noise_adder(images, 0)) > 0
    True
    """
    # Against the images as ``add_noise`` resizes them, without noise: what
    # the resizing alone changes is not the noise's doing.
    plain = predict_proba(add_noise(0.0))
    readable = 0.0
    for sigma in NOISE_LEVELS:
        if not answers_hold(plain, predict_proba(add_noise(sigma)), labels):
            break
        readable = float(sigma)
    return readable


def noise_cut(predict_proba, images, labels, rate, seed):
    """The noise level above which images are flagged, and what set it.

    For each of :data:`NOISE_KINDS`, the most noise at which the answers on
    ``images`` hold (:func:`readable_noise`), and the ``1 - rate`` quantile
    of the noise level of ``images`` with that noise; the cut is the lowest
    of these, so that ``rate`` at most of the images with noise the network
    reads, of either kind, are flagged. Never below the noise level of any
    of ``images`` as they are: their answers are the ones that hold, and
    the threshold on the features already flags ``rate`` of them.

    Returns
    -------
    cut : float
    readable : dict
        The readable standard deviation of each kind, by name.
    """
    cuts, readable = [], {}
    for name, upsampling in NOISE_KINDS:
        add_noise = noise_adder(images, seed, upsampling)
        readable[name] = readable_noise(predict_proba, labels, add_noise)
        noisy = add_noise(readable[name])
        cuts.append(float(np.quantile(noise_level(noisy), 1 - rate)))
    return max(min(cuts), float(noise_level(images).max())), readable
