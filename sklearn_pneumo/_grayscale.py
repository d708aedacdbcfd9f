"""Turn decoded images into fixed-size grayscale rows: the paper's preprocessing."""

import functools
import os
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from skimage.color import rgb2gray, rgba2rgb
from sklearn.base import BaseEstimator, TransformerMixin

from ._threads import N_JOBS, image_threads
from ._upstream import StrOptions, fit_context, validate_estimator_params

#: Integer dtypes with a fixed full-scale value; other dtypes are refused.
_FULL_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
#: Rounding slack accepted around [0, 1] for float images.
_FLOAT_SLACK = 1e-6


def to_unit_float(image):
    """Scale one image to float32 in [0, 1] by the rule of its dtype.

    ``uint8`` is divided by 255, ``uint16`` by 65535, ``bool`` becomes 0/1,
    and floats must already lie in [0, 1]. Any other dtype, a float outside
    [0, 1], NaN or infinity raises ``ValueError``: nothing is rescaled
    silently.

    Parameters
    ----------
    image : ndarray

    Returns
    -------
    ndarray of float32
        float32 is the precision of the rows the network takes; it halves the
        memory traffic of the resize that follows.

    Examples
    --------
    >>> import numpy as np
    >>> to_unit_float(np.array([[0, 255]], dtype=np.uint8))
    array([[0., 1.]], dtype=float32)
    """
    if image.dtype == bool:
        return image.astype(np.float32)
    if image.dtype in _FULL_SCALE:
        return image.astype(np.float32) / np.float32(_FULL_SCALE[image.dtype])
    if image.dtype.kind != "f":
        raise ValueError(
            f"Unsupported pixel dtype {image.dtype}: use uint8 (0-255), uint16 "
            "(0-65535), bool, or floats in [0, 1]."
        )
    if not np.isfinite(image).all():
        raise ValueError("Image contains NaN or infinite pixel values.")
    low, high = image.min(), image.max()
    if low < -_FLOAT_SLACK or high > 1 + _FLOAT_SLACK:
        raise ValueError(
            f"Float pixel values must lie in [0, 1], got [{low:g}, {high:g}]; "
            "scale the images first (for example divide 0-255 data by 255)."
        )
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def to_gray(image):
    """Convert one image in [0, 1] to 2-D grayscale like ``skimage.color.rgb2gray``.

    Parameters
    ----------
    image : ndarray of shape (h, w), (h, w, 1), (h, w, 3) or (h, w, 4)
        RGBA is composited over white first (``skimage.color.rgba2rgb``).

    Returns
    -------
    ndarray of shape (h, w)

    Examples
    --------
    >>> import numpy as np
    >>> to_gray(np.ones((2, 3, 3))).shape
    (2, 3)
    """
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(
            f"Expected an image of shape (h, w), (h, w, 1), (h, w, 3) or "
            f"(h, w, 4), got shape {image.shape}."
        )
    if image.shape[2] == 4:
        image = rgba2rgb(image)
    return rgb2gray(image)


#: A line (row or column) is padding when fewer than this share of its pixels
#: differ from its median by more than ``_BORDER_TOLERANCE``.
_BORDER_OUTLIERS = 0.02
_BORDER_TOLERANCE = 0.04
#: At most this share of the height (width) is cut off at each side.
_BORDER_MAX_SHARE = 0.25


def _border_lines(lines):
    """How many of ``lines`` (2-D, one line a row), from the first, are border.

    The run of uniform lines, and the line after it where there is one: where
    a border meets the image, a reduced or compressed image blends the two
    into a line that is neither.
    """
    median = np.median(lines, axis=1, keepdims=True)
    differing = (np.abs(lines - median) > _BORDER_TOLERANCE).mean(axis=1)
    uniform = differing < _BORDER_OUTLIERS
    if uniform.all():
        return len(uniform)
    run = int(np.argmin(uniform))
    return run + 1 if run else 0


def border_box(gray):
    """``(top, bottom, left, right)`` bounds of ``gray`` without uniform borders.

    A border is a run of rows or columns at an edge that are each of one
    value (black or white padding, a collimation frame, a scanner's margin),
    and the line where it meets the image (which a reduced or compressed
    image blends), up to a quarter of the height or width at each side;
    noise and JPEG ringing of a few percent are tolerated.

    Examples
    --------
    >>> import numpy as np
    >>> gray = np.zeros((20, 24), dtype=np.float32)
    >>> gray[3:17, 4:20] = np.random.default_rng(0).random((14, 16))
    >>> border_box(gray)
    (4, 16, 5, 19)
    """
    height, width = gray.shape
    most_rows, most_columns = (
        int(height * _BORDER_MAX_SHARE),
        int(width * _BORDER_MAX_SHARE),
    )
    top = _border_lines(gray[:most_rows])
    bottom = height - _border_lines(gray[::-1][:most_rows])
    left = _border_lines(gray[top:bottom, :most_columns].T)
    right = width - _border_lines(gray[top:bottom, ::-1][:, :most_columns].T)
    return top, bottom, left, right


def _equalized(gray):
    """Histogram-equalized: each pixel becomes its intensity's rank, in [0, 1].

    The same output for any increasing change of intensities (gamma,
    windowing, a site's contrast curve), up to ties.
    """
    flat = gray.ravel()
    order = np.argsort(flat, kind="stable")
    values, first, counts = np.unique(
        flat[order], return_index=True, return_counts=True
    )
    ranks = (first + counts - 1) / max(flat.size - 1, 1)  # the share at or below
    out = np.empty_like(flat)
    out[order] = np.repeat(ranks, counts)
    return out.reshape(gray.shape).astype(np.float32)


def _stretched(gray):
    """Intensities between the 1st and 99th percentiles stretched to [0, 1]."""
    low, high = np.percentile(gray, (1, 99))
    if high <= low:
        return np.zeros_like(gray)
    return np.clip((gray - low) / (high - low), 0.0, 1.0).astype(np.float32)


#: The ``contrast`` settings of :class:`GrayscaleResize`.
CONTRAST = {"keep": None, "stretch": _stretched, "equalize": _equalized}


def _trimmed_gray(image, border):
    """``image`` gray in [0, 1], borders cut with "trim", and the share cut."""
    image = np.asarray(image)
    if image.size == 0:
        raise ValueError(f"Image is empty (shape {image.shape}).")
    gray = to_gray(to_unit_float(image))
    if border != "trim":
        return gray, 0.0
    top, bottom, left, right = border_box(gray)
    share = 1 - (bottom - top) * (right - left) / gray.size
    return gray[top:bottom, left:right], share


def _preprocessed(image, size, border, contrast):
    """Preprocess one image: gray, borders, contrast, anti-aliased resize.

    With ``border="keep"`` and ``contrast="keep"``, as the paper does: gray,
    then resized.

    Parameters
    ----------
    image : ndarray of shape (h, w) or (h, w, c)
    size : tuple of (int, int)
        Output ``(height, width)``.
    border : {"keep", "trim"}
        "trim" cuts uniform borders off first (:func:`border_box`).
    contrast : {"keep", "stretch", "equalize"}
        Before resizing: "stretch" maps the 1st-99th percentiles to [0, 1];
        "equalize" replaces each intensity by its rank (histogram
        equalization).

    Returns
    -------
    resized : ndarray of shape size, float32 in [0, 1]
    share : float
        The share of ``image`` cut as border.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((40, 40), dtype=np.float32)
    >>> trimmed, share = _preprocessed(np.pad(image, 6), (20, 20), "trim", "keep")
    >>> plain, _ = _preprocessed(image[1:-1, 1:-1], (20, 20), "keep", "keep")
    >>> bool(np.allclose(trimmed, plain)), round(share, 3)
    (True, 0.466)
    >>> equalized, _ = _preprocessed(image, (20, 20), "keep", "equalize")
    >>> darker, _ = _preprocessed(image**1.5, (20, 20), "keep", "equalize")
    >>> float(np.abs(equalized - darker).max()) < 1e-6
    True
    """
    gray, share = _trimmed_gray(image, border)
    change = CONTRAST[contrast]
    resized = resize_like_skimage(gray if change is None else change(gray), size)
    return resized, share


@functools.lru_cache(maxsize=1024)
def _resize_operator(n_in, n_out):
    """Sparse (n_out, n_in) matrix of one axis of :func:`resize_like_skimage`.

    Row i holds the weights skimage's resize gives the input pixels for
    output pixel i: scipy's Gaussian (sigma = (factor - 1) / 2, radius
    ``int(4 * sigma + 0.5)``, zero padding), then linear interpolation at
    ``(i + 0.5) * factor - 0.5`` (``grid_mode``, zero padding).
    """
    factor = n_in / n_out
    sigma = max(0.0, (factor - 1) / 2)
    radius = int(4.0 * sigma + 0.5) if sigma > 1e-15 else 0  # scipy skips tiny sigmas
    taps = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * taps**2 / sigma**2) if radius else np.ones(1)
    weights /= weights.sum()
    kept = np.abs(taps) < n_in  # diagonals inside the matrix
    gaussian = sparse.diags_array(
        [np.full(n_in - abs(t), w) for t, w in zip(taps[kept], weights[kept])],
        offsets=list(taps[kept]),
        shape=(n_in, n_in),
    )
    where = (np.arange(n_out) + 0.5) * factor - 0.5
    left = np.floor(where).astype(int)
    right_weight = where - left
    rows = np.repeat(np.arange(n_out), 2)
    columns = np.stack([left, left + 1], axis=1).ravel()
    values = np.stack([1 - right_weight, right_weight], axis=1).ravel()
    inside = (columns >= 0) & (columns < n_in)
    interpolation = sparse.csr_array(
        (values[inside], (rows[inside], columns[inside])), shape=(n_out, n_in)
    )
    return sparse.csr_array(interpolation @ gaussian, dtype=np.float32)


def resize_like_skimage(gray, size):
    """Resize like skimage's ``resize(order=1, mode="constant", anti_aliasing=True)``.

    The same result within float32 rounding, and faster (the docs'
    benchmarks page has the figures): the Gaussian
    anti-aliasing filter and the bilinear interpolation are both separable
    and linear, so each axis is one small sparse matrix (cached per size)
    and the whole resize is two sparse products, followed by skimage's
    clipping to the input's range.

    Parameters
    ----------
    gray : ndarray of shape (h, w), float32
    size : tuple of (int, int)

    Returns
    -------
    ndarray of shape size, float32

    Examples
    --------
    >>> import numpy as np
    >>> from skimage.transform import resize
    >>> gray = np.random.default_rng(0).random((250, 212), dtype=np.float32)
    >>> ours = resize_like_skimage(gray, (150, 150))
    >>> theirs = resize(gray, (150, 150), order=1, mode="constant", anti_aliasing=True)
    >>> bool(np.abs(ours - theirs).max() < 1e-5)
    True
    """
    rows = _resize_operator(gray.shape[0], size[0]) @ gray
    out = np.ascontiguousarray((_resize_operator(gray.shape[1], size[1]) @ rows.T).T)
    out = out.astype(np.float32, copy=False)
    low, high = gray.min(), gray.max()
    if not low <= 0 <= high and out.min() <= 0 <= out.max():
        low, high = min(low, 0), max(high, 0)  # skimage keeps the padding value
    return np.clip(out, low, high, out=out)


def _first_path(X):
    """The first entry of ``X`` if it is a file path, else None."""
    if isinstance(X, np.ndarray):
        first = X.flat[0] if X.size and X.dtype.kind in "USO" else None
    else:
        first = next(iter(X), None)
    return first if isinstance(first, (str, os.PathLike)) else None


def _as_image_list(X):
    """Split the input of GrayscaleResize into a list of single images."""
    path = _first_path(X)
    if path is not None:
        raise ValueError(
            f"Expected decoded images (numpy arrays), got file paths such as "
            f"{str(path)!r}. This model was built for images (input='images'): "
            "decode the files first with ImageLoader, or use a pipeline built "
            "with input='paths' (the default of make_pneumo_pipeline), which "
            "decodes them itself."
        )
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim in (3, 4):
            return list(X)
        raise ValueError(
            "Expected images as a list of arrays, an array of shape (n, h, w) "
            f"or (n, h, w, c); got an array of shape {X.shape}."
        )
    images = list(X)
    if not images:
        raise ValueError("Expected at least one image, got none.")
    for i, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
            shape = getattr(image, "shape", type(image).__name__)
            raise ValueError(
                f"Image {i} must be a 2-D or 3-D numpy array, got {shape}."
            )
    return images


class GrayscaleResize(TransformerMixin, BaseEstimator):
    """Convert images to grayscale, resize them, and flatten them to rows.

    Follows the paper: colour images become gray as
    ``skimage.color.rgb2gray`` does, then are resized with anti-aliasing
    (``skimage.transform.resize``, bilinear, ``mode="constant"``; computed
    as two cached sparse products, equal to skimage's within float32
    rounding and faster; see ``resize_like_skimage``). The output
    is the flat 2-D array scikit-learn and imbalanced-learn steps expect;
    :class:`~sklearn_pneumo.CNNClassifier` turns rows back into images.

    Pixel scaling by dtype: ``uint8`` / 255, ``uint16`` / 65535 (the full
    16-bit range, never clipped to 8 bits), ``bool`` as 0/1, floats must lie in
    [0, 1]. Other dtypes, floats outside [0, 1], NaN and infinity raise
    ``ValueError``.

    Two settings make X-rays from other sites look like each other before
    any network sees them (canonical inputs); their defaults keep the
    paper's preprocessing:

    Parameters
    ----------
    size : tuple of (int, int), default=(150, 150)
        Output image ``(height, width)``.
    border : {"keep", "trim"}, default="keep"
        "trim" cuts uniform borders (black or white padding, frames, up to
        a quarter of each side) off each image before it is resized, so a
        padded export is framed like an unpadded one.
    contrast : {"keep", "stretch", "equalize"}, default="keep"
        Applied to each image before it is resized: "stretch" maps its 1st to 99th
        percentile to [0, 1] (indifferent to windowing); "equalize" replaces
        each intensity by its rank in the image (histogram equalization:
        indifferent to any increasing contrast curve a site applies).
    n_jobs : int, None or "auto", default="auto"
        Number of threads; ``"auto"`` uses every core from 16 images on (see
        :class:`ImageLoader` for why this differs from scikit-learn's
        ``None``). Always threads in this process, even inside
        ``joblib.parallel_config(backend=...)`` with a process or cluster
        backend: the rows are written into one shared array.

    Attributes
    ----------
    n_features_in_ : int
        Number of images per sample: always 1.

    See Also
    --------
    ImageLoader : Decode image files into the arrays this step takes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pneumo import GrayscaleResize
    >>> images = np.random.default_rng(0).integers(0, 256, (4, 60, 40, 3), np.uint8)
    >>> X = GrayscaleResize(size=(30, 20)).fit_transform(images)
    >>> X.shape, X.dtype
    ((4, 600), dtype('float32'))
    """

    _parameter_constraints = {
        "size": [tuple],
        "border": [StrOptions({"keep", "trim"})],
        "contrast": [StrOptions(set(CONTRAST))],
        "n_jobs": [*N_JOBS, None, StrOptions({"auto"})],
    }

    def __init__(
        self, *, size=(150, 150), border="keep", contrast="keep", n_jobs="auto"
    ):
        self.size = size
        self.border = border
        self.contrast = contrast
        self.n_jobs = n_jobs

    def _check_size(self, validate=True):
        """``size`` as (height, width) of two positive ints.

        ``validate`` checks every parameter first, as :meth:`fit` does:
        transforming needs no fit.
        """
        if validate:
            validate_estimator_params(self)
        size = tuple(self.size)
        if len(size) != 2 or not all(isinstance(s, Integral) and s >= 1 for s in size):
            raise ValueError(
                "size must be (height, width) with positive integers, "
                f"got {self.size!r}."
            )
        return size

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check parameters and inputs; nothing is learned.

        Parameters
        ----------
        X : list of ndarray, or ndarray of shape (n, h, w) or (n, h, w, c)
            Images.
        y : None
            Ignored.

        Returns
        -------
        self : GrayscaleResize
        """
        self._check_size(validate=False)
        _as_image_list(X)
        self.n_features_in_ = 1
        return self

    def transform(self, X):
        """Convert, resize and flatten every image.

        Parameters
        ----------
        X : list of ndarray, or ndarray of shape (n, h, w) or (n, h, w, c)
            Images of any sizes, each (h, w), (h, w, 1), (h, w, 3) or
            (h, w, 4).

        Returns
        -------
        ndarray of shape (n, height * width), float32 in [0, 1]
        """
        return self._rows_and_border_trimmed(X)[0]

    def _rows_and_border_trimmed(self, X):
        """:meth:`transform` and :meth:`border_trimmed` in one pass over ``X``."""
        size = self._check_size()
        images = _as_image_list(X)
        # Rows are written in place: peak memory is one output array, not two.
        rows = np.empty((len(images), size[0] * size[1]), dtype=np.float32)
        shares = np.zeros(len(images))
        Parallel(n_jobs=image_threads(self.n_jobs, len(images)), require="sharedmem")(
            delayed(_resize_into)(
                rows, shares, i, image, size, self.border, self.contrast
            )
            for i, image in enumerate(images)
        )
        return rows, shares

    def border_trimmed(self, X):
        """Share of each image's area that :meth:`transform` cuts off as border.

        0 for every image with ``border="keep"``; with ``"trim"``, one minus
        the area inside :func:`border_box` over the whole area. A
        pipeline's ``assess`` and the CSV of
        :func:`~sklearn_pneumo.predict_files` report it as
        ``border_trimmed``.

        Parameters
        ----------
        X : list of ndarray, or ndarray of shape (n, h, w) or (n, h, w, c)
            Images, as :meth:`transform` takes them.

        Returns
        -------
        ndarray of shape (n,), float

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_pneumo import GrayscaleResize
        >>> image = np.random.default_rng(0).random((40, 40))
        >>> padded = np.pad(image, ((0, 0), (10, 10)))  # 20 columns of 60 black
        >>> share = GrayscaleResize(size=(8, 8), border="trim").border_trimmed([padded])
        >>> share * 60  # and the line where each border meets the image
        array([22.])
        """
        self._check_size()
        images = _as_image_list(X)
        shares = np.zeros(len(images))
        for i, image in enumerate(images):
            try:
                shares[i] = _trimmed_gray(image, self.border)[1]
            except ValueError as error:
                raise ValueError(f"Image {i}: {error}") from None
        return shares

    def get_feature_names_out(self, input_features=None):
        """Pixel names ``pixel_<row>_<column>`` of the flat output.

        Returns
        -------
        ndarray of str of shape (height * width,)
        """
        height, width = self._check_size()
        return np.array(
            [f"pixel_{r}_{c}" for r in range(height) for c in range(width)],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False  # images, not a table of samples
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _resize_into(rows, shares, index, image, size, border, contrast):
    """Write image ``index``, preprocessed, into ``rows``; name it in errors.

    The share of it cut off as border goes into ``shares``.
    """
    try:
        resized, shares[index] = _preprocessed(image, size, border, contrast)
        rows[index] = resized.ravel()
    except ValueError as error:
        raise ValueError(f"Image {index}: {error}") from None
