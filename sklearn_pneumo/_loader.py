"""Decode image files into arrays: the first step of the pipeline."""

import os
import stat
import struct
import warnings
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from PIL import Image, ImageOps
from sklearn.base import BaseEstimator, TransformerMixin
from tqdm.auto import tqdm

from ._dicom import decode_dicom_frames, is_dicom
from ._threads import N_JOBS, image_threads
from ._upstream import Interval, StrOptions, fit_context, validate_estimator_params
from ._walk import walk_objects

#: EXIF orientations that swap width and height.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


class ImageLoadError(ValueError):
    """Raised when one or more image files cannot be decoded.

    Parameters
    ----------
    failures : list of (str, str)
        Each failing input and the reason it could not be used: one entry
        per input, in input order, so a path given twice that fails is
        listed twice.
    """

    def __init__(self, failures):
        self.failures = list(failures)
        lines = "\n".join(f"  {path}: {reason}" for path, reason in self.failures)
        super().__init__(
            f"{len(self.failures)} image file(s) could not be read:\n{lines}"
        )


def apply_to_readable(function, inputs):
    """``function(inputs)``, or ``function`` of the inputs it can read.

    Returns ``(result, failures)``: when ``function`` raises
    :class:`ImageLoadError`, it is called again on the inputs the error does
    not name (``result`` is None if there are none), and ``failures`` lists
    ``(input, reason)`` for the others; otherwise ``failures`` is empty.

    Examples
    --------
    >>> def lengths(paths):
    ...     bad = [(p, "empty") for p in paths if not p]
    ...     if bad:
    ...         raise ImageLoadError(bad)
    ...     return [len(p) for p in paths]
    >>> apply_to_readable(lengths, ["a.png", "", "bc.png"])
    ([5, 6], [('', 'empty')])
    """
    try:
        return function(inputs), []
    except ImageLoadError as error:
        failures = error.failures
    failing = {path for path, _ in failures}
    readable = [path for path in inputs if path not in failing]
    return (function(readable) if readable else None), failures


def left_out_message(failures, shown=3):
    """What a run says of the unreadable inputs it leaves out, naming a few.

    Examples
    --------
    >>> print(left_out_message([("a.png", "empty file (0 bytes)")]))
    1 file(s) could not be read and are left out (a.png: empty file (0 bytes))
    >>> missing = [(f"{i}.png", "file not found") for i in range(5)]
    >>> print(left_out_message(missing))  # doctest: +NORMALIZE_WHITESPACE
    5 file(s) could not be read and are left out (0.png: file not found;
    1.png: file not found; 2.png: file not found; and 2 more)
    """
    named = "; ".join(f"{path}: {reason}" for path, reason in failures[:shown])
    more = len(failures) - min(shown, len(failures))
    return (
        f"{len({path for path, _ in failures})} file(s) could not be read and "
        f"are left out ({named}{f'; and {more} more' if more else ''})"
    )


def check_paths(paths):
    """Validate a collection of image paths and return it as a list of str.

    Parameters
    ----------
    paths : list, 1-D array, pandas Series, or array of shape (n, 1)
        Paths to image files, as ``str`` or ``os.PathLike``.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If ``paths`` is empty, has another shape, or holds entries that are
        not paths (``None``, NaN, numbers...). Every bad entry is named.

    Examples
    --------
    >>> from pathlib import Path
    >>> check_paths([Path("a.jpeg"), "b.png"])
    ['a.jpeg', 'b.png']
    """
    if isinstance(paths, (str, os.PathLike)):
        raise ValueError(
            "Expected a collection of image paths, got a single path "
            f"{str(paths)!r}; wrap it in a list."
        )
    if (isinstance(paths, np.ndarray) and paths.dtype.kind in "fiub") or (
        isinstance(paths, (list, tuple)) and paths and isinstance(paths[0], np.ndarray)
    ):
        raise ValueError(
            "Expected image file paths, got decoded images (numpy arrays). "
            "This model decodes files itself (input='paths'): pass file "
            "paths, or for images already in memory use a pipeline built with "
            "input='images' (e.g. load_pretrained(input='images'), or "
            "pipe.set_params(load='passthrough'))."
        )
    array = np.asarray(paths, dtype=object)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            "Expected a 1-D collection of image paths or an array of shape "
            f"(n, 1), got an array of shape {array.shape}."
        )
    if array.size == 0:
        raise ValueError("Expected at least one image path, got none.")
    bad = [
        f"  row {i}: {entry!r}"
        for i, entry in enumerate(array)
        if not isinstance(entry, (str, os.PathLike))
    ]
    if bad:
        raise ValueError(
            f"{len(bad)} entries are not file paths (str or os.PathLike):\n"
            + "\n".join(bad)
        )
    return [os.fspath(entry) for entry in array]


def _draft_request(image, decode_size):
    """Pillow (width, height) to request for an image in file orientation."""
    height, width = decode_size
    orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    if orientation in _TRANSPOSED_ORIENTATIONS:
        return height, width
    return width, height


#: Pillow modes that ``Image.reduce`` takes as they are.
_REDUCIBLE_MODES = {"L", "LA", "RGB", "RGBA", "I", "F", "La", "RGBa"}


def _reducible(image):
    """The same pixels in a mode ``Image.reduce`` takes.

    16-bit images become 32-bit integers (``I``, same values), 1-bit images
    8-bit gray, palette images RGB (RGBA with transparency), others RGB.
    """
    if image.mode in _REDUCIBLE_MODES:
        return image
    if image.mode.startswith("I;16"):
        return image.convert("I")
    if image.mode == "1":
        return image.convert("L")
    if image.mode in ("PA",) or "transparency" in image.info:
        return image.convert("RGBA")
    return image.convert("RGB")


def _reduce(image, decode_size):
    """Shrink by the largest integer factor that still covers ``decode_size``."""
    height, width = decode_size
    factor = min(image.height // height, image.width // width)
    return _reducible(image).reduce(factor) if factor >= 2 else image


def _reduce_array(image, decode_size):
    """:func:`_reduce` for a float array (decoded DICOM), channel by channel."""
    if image.ndim == 3:
        return np.stack(
            [_reduce_array(image[..., c], decode_size) for c in range(image.shape[2])],
            axis=-1,
        )
    return np.asarray(_reduce(Image.fromarray(image), decode_size))


def _png_significant_bits(path):
    """The bits per sample a PNG's ``sBIT`` chunk declares, or None.

    Pillow keeps the chunk only for writing, so it is read here: the
    chunks before the image data, at most 64 of them.
    """
    with open(path, "rb") as file:
        if file.read(8) != b"\x89PNG\r\n\x1a\n":
            return None
        for _ in range(64):
            head = file.read(8)
            if len(head) < 8:
                return None
            length, kind = struct.unpack(">I4s", head)
            if kind == b"sBIT":
                bits = file.read(length)
                return max(bits) if bits else None
            if kind == b"IDAT":
                return None
            file.seek(length + 4, os.SEEK_CUR)
    return None


def significant_bits(image, path):
    """How many bits of each sample hold data, as the file states it; or None.

    TIFF ``BitsPerSample`` (a 12-bit TIFF is read into 16 bits) and PNG
    ``sBIT``. Detector exports often store 10 to 14 bits in 16.
    """
    if image.format == "TIFF":
        bits = image.tag_v2.get(258)
        return max(bits) if isinstance(bits, tuple) and bits else bits
    if image.format == "PNG" and image.mode.startswith("I"):
        return _png_significant_bits(path)
    return None


def _to_array(image, bits=None):
    """Convert a decoded Pillow image to a 2-D or 3-D numpy array.

    16-bit data stays ``uint16``; with ``bits`` (fewer significant bits than
    16, from the file) it is scaled to the full 16-bit range.
    """
    if image.mode.startswith("I"):
        pixels = np.asarray(image)
        if pixels.min() < 0 or pixels.max() > np.iinfo(np.uint16).max:
            raise ValueError(
                f"integer pixels outside the 16-bit range "
                f"([{pixels.min()}, {pixels.max()}])"
            )
        if bits is not None and 1 < bits < 16:
            scale = 65535 / (2**bits - 1)
            return np.round(np.minimum(pixels, 2**bits - 1) * scale).astype(np.uint16)
        return pixels.astype(np.uint16)
    if image.mode == "F":
        pixels = np.asarray(image, dtype=np.float32)
        if not np.isfinite(pixels).all():
            raise ValueError("float pixels include NaN or infinity")
        return pixels
    if image.mode in ("1", "L", "RGB"):
        return np.asarray(image.convert("L" if image.mode == "1" else image.mode))
    if image.mode in ("LA", "PA", "RGBA") or "transparency" in image.info:
        return np.asarray(image.convert("RGBA"))
    return np.asarray(image.convert("RGB"))


def decode_image(path, *, decode_size=None, max_pixels=100_000_000):
    """Decode one image file into a numpy array.

    The EXIF orientation is applied, palette and CMYK images become RGB,
    images with transparency become RGBA, 16-bit images stay ``uint16``, and
    only the first frame of a multi-frame file (TIFF, GIF) is read
    (:class:`ImageLoader` warns, naming the file). DICOM
    files (``.dcm``, or any file with the ``DICM`` marker) are read with
    pydicom through :func:`~sklearn_pneumo._dicom.decode_dicom` into float32
    in [0, 1], with their modality and VOI LUTs applied.

    Parameters
    ----------
    path : str or os.PathLike
        The image file (any format Pillow reads: JPEG, PNG, BMP, TIFF...; or
        DICOM, which needs the optional ``dicom`` extra).
    decode_size : tuple of (int, int) or None, default=None
        ``(height, width)`` the decoded image must still cover. Larger images
        are decoded at reduced resolution (JPEG DCT scaling, then integer box
        reduction), which keeps memory and time proportional to
        ``decode_size`` rather than to the original size. ``None`` decodes at
        full resolution.
    max_pixels : int or None, default=100_000_000
        Refuse images with more pixels than this before allocating them
        (decompression bombs). ``None`` disables the check.

    Returns
    -------
    ndarray of shape (h, w) or (h, w, c)

    Raises
    ------
    OSError, ValueError, SyntaxError
        If the file is missing, unreadable, truncated, not an image, or too
        large.

    Examples
    --------
    >>> from sklearn_pneumo.datasets import load_chest_xray_sample
    >>> paths, _ = load_chest_xray_sample()
    >>> decode_image(paths[0], decode_size=(150, 150)).dtype
    dtype('uint8')
    """
    return decode_image_frames(path, decode_size=decode_size, max_pixels=max_pixels)[0]


def decode_image_frames(path, *, decode_size=None, max_pixels=100_000_000):
    """:func:`decode_image` of ``path``, and how many frames the file holds."""
    special = _special_file_reason(path)
    if special is not None:
        raise _NotRegularFile(special, path)
    if is_dicom(path):
        image, frames = decode_dicom_frames(path, max_pixels=max_pixels)
        if decode_size is not None:
            image = _reduce_array(image, decode_size)
        return image, frames
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            pixels = image.width * image.height
            if max_pixels is not None and pixels > max_pixels:
                raise ValueError(
                    f"image too large: {image.width}x{image.height} = {pixels} "
                    f"pixels exceeds max_pixels={max_pixels}"
                )
            frames = getattr(image, "n_frames", 1)
            if decode_size is not None and image.format == "JPEG":
                image.draft(image.mode, _draft_request(image, decode_size))
            image.load()
            bits = significant_bits(image, path)
            image = ImageOps.exif_transpose(image)
            if decode_size is not None:
                image = _reduce(image, decode_size)
            return _to_array(image, bits), frames


#: An image whose largest value is below this share of its pixel type's range
#: looks nearly black under the container rule: it is warned about.
_DIM_SHARE = 1 / 16


def scale_intensity(pixels, intensity="container"):
    """Apply an intensity rule to decoded pixels (see :class:`ImageLoader`).

    ``"container"`` keeps integers as they are (their dtype's range is full
    scale later) and requires floats to lie in [0, 1]; ``"image"`` scales
    the image by its own range to float32 in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> scale_intensity(np.array([[100, 300]], dtype=np.uint16), "image")
    array([[0., 1.]], dtype=float32)
    """
    if intensity == "image":
        pixels = pixels.astype(np.float32)
        low, high = float(pixels.min()), float(pixels.max())
        return (pixels - low) / np.float32((high - low) or 1.0)
    if pixels.dtype.kind == "f":
        low, high = float(pixels.min()), float(pixels.max())
        if low < -1e-6 or high > 1 + 1e-6:
            raise ValueError(
                f"float pixels span [{low:g}, {high:g}], outside [0, 1]; pass "
                "intensity='image' (--intensity image on the command line) to "
                "scale each image by its own range"
            )
        return np.clip(pixels, 0.0, 1.0)
    return pixels


def _is_dim(pixels):
    """Whether 16-bit pixels use less than 1/16 of their range."""
    return pixels.dtype == np.uint16 and pixels.max() < 65535 * _DIM_SHARE


class _NotRegularFile(OSError):
    """A FIFO, socket or device, refused without being opened; ``reason`` says which."""

    def __init__(self, reason, path):
        super().__init__(f"{reason}: {os.fspath(path)}")
        self.reason = reason


def _special_file_reason(path):
    """Why ``path`` cannot be opened for reading safely, or None.

    FIFOs, sockets and devices would block or never end when read: they
    are refused from their ``stat``, without being opened.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # missing or unreadable: reported when opened
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        return None
    kind = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
    )
    return f"not a regular file: {kind}"


def _try_decode(path, decode_size, max_pixels, intensity="container"):
    """Decode ``path``; return the array, or the reason it failed as str, and
    how many frames the file holds (1 when it failed)."""
    try:
        pixels, frames = decode_image_frames(
            path, decode_size=decode_size, max_pixels=max_pixels
        )
        return scale_intensity(pixels, intensity), frames
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.UnidentifiedImageError,
        Image.DecompressionBombError,
    ) as error:
        return _failure_reason(path, error), 1


def _failure_reason(path, error):
    """Why ``path`` could not be decoded, as a CSV's error column says it."""
    if isinstance(error, _NotRegularFile):
        return error.reason
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, Image.DecompressionBombError):
        return f"image too large: {error}"
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        return "empty file (0 bytes)"
    if isinstance(error, Image.UnidentifiedImageError):
        return "not an image: its bytes are in no image format that can be read"
    if isinstance(error, OSError) and "truncated" in str(error).lower():
        return f"truncated: the file ends before its image does ({error})"
    return f"{type(error).__name__}: {error}"


def decode_all(
    paths,
    *,
    decode_size=None,
    max_pixels=100_000_000,
    intensity="container",
    n_jobs=None,
    progress=False,
):
    """Decode every path in parallel threads, keeping going past failures.

    Warns once, naming the files, about 16-bit images that use less than
    1/16 of their range (under ``intensity="container"``), and once about
    files of several frames, whose first frame alone is read.

    Returns
    -------
    results : list
        One array per path, or the reason (str) it could not be decoded.
    failures : list of (str, str)
        ``(path, reason)`` for every input that could not be decoded, one
        entry per input (a path given twice fails twice).
    """
    paths = check_paths(paths)
    n_jobs = image_threads(n_jobs, len(paths))
    jobs = Parallel(n_jobs=n_jobs, require="sharedmem", return_as="generator")(
        delayed(_try_decode)(path, decode_size, max_pixels, intensity) for path in paths
    )
    decoded = list(
        tqdm(jobs, total=len(paths), desc="Decoding images", disable=not progress)
    )
    results = [result for result, _ in decoded]
    several = sorted({(p, f) for p, (_, f) in zip(paths, decoded) if f > 1})
    if several:
        shown = _first_five([f"{p} ({f} frames)" for p, f in several])
        warnings.warn(
            f"{len(several)} image file(s) hold several frames (pages), and "
            f"only the first of each is read: {shown}. Save each frame as a "
            "file of its own to read it.",
            UserWarning,
            stacklevel=3,
        )
    failures = [(p, r) for p, r in zip(paths, results) if isinstance(r, str)]
    dim = sorted(
        {p for p, r in zip(paths, results) if not isinstance(r, str) and _is_dim(r)}
    )
    if dim:
        warnings.warn(
            f"{len(dim)} 16-bit image file(s) use less than 1/16 of the 16-bit "
            "range and will look nearly black: "
            f"{_first_five(dim)}. If they hold fewer "
            "bits (a 12-bit detector export, say) and the file does not say "
            "so, pass intensity='image' (--intensity image on the command "
            "line) to scale each image by its own range.",
            UserWarning,
            stacklevel=3,
        )
    return results, failures


def _first_five(names):
    """``names`` joined by commas, the first five and how many more."""
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return ", ".join(names[:5]) + more


def decode_images(paths, **kwargs):
    """Decode many image files in parallel; see :class:`ImageLoader`."""
    results, failures = decode_all(paths, **kwargs)
    if failures:
        raise ImageLoadError(failures)
    return results


class ImageLoader(TransformerMixin, BaseEstimator):
    """Decode image files into arrays.

    A stateless transformer: ``transform`` maps image file paths to the
    decoded images, one array per path, in order. It is the first step of
    :func:`~sklearn_pneumo.make_pneumo_pipeline`, followed by
    :class:`~sklearn_pneumo.GrayscaleResize`.

    Parameters
    ----------
    decode_size : tuple of (int, int) or None, default=None
        ``(height, width)`` every decoded image must still cover. Larger
        images are decoded at reduced resolution (JPEG DCT scaling, then
        integer box reduction for every format), so memory and time grow with
        the number of images times ``decode_size``, not times the original
        size. Set it to the size the images are resized to next. ``None``
        decodes at full resolution.
    max_pixels : int or None, default=100_000_000
        Images with more pixels are refused before they are allocated
        (decompression bombs). ``None`` disables the check.
    intensity : {"container", "image"}, default="container"
        What full scale is. ``"container"``: the pixel type's range (8-bit
        data 0-255, 16-bit data 0-65535), or the bits the file says it holds
        (TIFF ``BitsPerSample``, PNG ``sBIT``, DICOM ``BitsStored``: a 12-bit
        export is scaled by 4095); float images must lie in [0, 1]. A 16-bit
        image that uses less than 1/16 of its range is warned about, naming
        the file. ``"image"``: each image is scaled by its own range (min to
        max) to float32 in [0, 1], for exports whose bit depth is unknown or
        float files in other units.
    n_jobs : int, None or "auto", default="auto"
        Number of threads that decode in parallel. ``"auto"`` uses every
        core from 16 images on and one thread below; an int or ``None`` has
        joblib's meaning (``-1`` all cores, ``None`` one unless a
        ``joblib.parallel_config`` context says otherwise). scikit-learn's
        estimators default to ``n_jobs=None`` because their jobs are mostly
        processes that copy the data; here the jobs are threads decoding
        JPEGs with the GIL released, which pay from a few dozen images on,
        so the default uses the cores a user has, as scikit-learn's threaded
        estimators (``HistGradientBoostingClassifier``) do. Inside a parallel
        loop (``GridSearchCV(n_jobs=-1)``) set 1 to keep one thread per
        worker. Always threads in this process, even inside
        ``joblib.parallel_config(backend=...)`` with a process or cluster
        backend, which would only ship the decoded images back.
    progress : bool, default=False
        Show a tqdm progress bar while decoding.

    Attributes
    ----------
    n_features_in_ : int
        Always 1: one path per sample.

    See Also
    --------
    GrayscaleResize : Turn the decoded images into fixed-size grayscale rows.
    sklearn_pneumo.datasets.find_unreadable_images : Check files up front.

    Notes
    -----
    Formats are those Pillow reads (JPEG, PNG, BMP, TIFF, GIF, WebP...),
    and DICOM through pydicom (``pip install 'sklearn-pneumo[dicom]'``): the
    modality and VOI LUTs are applied, ``MONOCHROME1`` is inverted so that
    bone is bright, and the result is float32 in [0, 1].
    EXIF orientation is applied; palette and CMYK images become RGB, images
    with transparency RGBA, 16-bit images stay ``uint16``; a multi-frame file
    gives its first frame, with a warning that names the file. When any file
    cannot be read, ``transform`` raises one :class:`ImageLoadError` that
    lists every bad file with its reason; no row is ever dropped.

    Examples
    --------
    >>> from sklearn_pneumo import ImageLoader
    >>> from sklearn_pneumo.datasets import load_chest_xray_sample
    >>> paths, y = load_chest_xray_sample()
    >>> images = ImageLoader(decode_size=(150, 150)).transform(paths)
    >>> len(images) == len(paths), images[0].ndim
    (True, 2)
    """

    _parameter_constraints = {
        "decode_size": [tuple, None],
        "max_pixels": [Interval(Integral, 1, None, closed="left"), None],
        "intensity": [StrOptions({"container", "image"})],
        "n_jobs": [*N_JOBS, None, StrOptions({"auto"})],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        *,
        decode_size=None,
        max_pixels=100_000_000,
        intensity="container",
        n_jobs="auto",
        progress=False,
    ):
        self.decode_size = decode_size
        self.max_pixels = max_pixels
        self.intensity = intensity
        self.n_jobs = n_jobs
        self.progress = progress

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check parameters and inputs; nothing is learned.

        Parameters
        ----------
        X : list, 1-D array, pandas Series or array of shape (n, 1)
            Image file paths.
        y : None
            Ignored.

        Returns
        -------
        self : ImageLoader
        """
        self._check_decode_size()
        check_paths(X)
        self.n_features_in_ = 1
        return self

    def _check_decode_size(self):
        """``decode_size`` is None or two positive ints (no constraint type says so)."""
        size = self.decode_size
        if size is not None and (
            len(size) != 2 or not all(isinstance(s, Integral) and s >= 1 for s in size)
        ):
            raise ValueError(
                f"decode_size must be None or (height, width) of positive ints, "
                f"got {size!r}."
            )

    def transform(self, X):
        """Decode every image file.

        Parameters
        ----------
        X : list, 1-D array, pandas Series or array of shape (n, 1)
            Image file paths (``str`` or ``os.PathLike``).

        Returns
        -------
        images : list of ndarray
            One array of shape (h, w) or (h, w, c) per path, in order.

        Raises
        ------
        ImageLoadError
            Listing every file that could not be read and why.
        """
        images, failures = self._readable(X)
        if failures:
            raise ImageLoadError(failures)
        return images

    def _readable(self, X):
        """``(images, failures)``: the images of the inputs that could be
        read, in order, and ``(path, reason)`` for each other input."""
        validate_estimator_params(self)  # transform needs no fit
        self._check_decode_size()
        results, failures = decode_all(
            X,
            decode_size=self.decode_size,
            max_pixels=self.max_pixels,
            intensity=self.intensity,
            n_jobs=self.n_jobs,
            progress=self.progress,
        )
        return [r for r in results if not isinstance(r, str)], failures

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        return tags


def image_loaders(model):
    """Every :class:`ImageLoader` inside ``model``, as :func:`walk_objects` finds them.

    A pipeline's, an ensemble's or two-stage classifier's, an ONNX archive's
    steps, and those of the models adapted or calibrated from them, each
    once: so that a setting of how files are read (``intensity``) reaches
    every place that reads them.

    Examples
    --------
    >>> from sklearn_pneumo import make_pneumo_pipeline
    >>> pipe = make_pneumo_pipeline((16, 16))
    >>> [type(loader).__name__ for loader in image_loaders(pipe)]
    ['ImageLoader']
    """
    found = {}
    for _, obj in walk_objects(model):
        if isinstance(obj, ImageLoader):
            found.setdefault(id(obj), obj)
    return list(found.values())
