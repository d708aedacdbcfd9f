"""Inputs that are not pediatric chest X-rays, to check outlier flags with."""

import gzip

import numpy as np
from PIL import Image, ImageDraw
from skimage import data as skimage_data
from skimage.transform import resize

from .._grayscale import to_gray, to_unit_float

#: Photographs of scikit-image's bundled data.
_PHOTOGRAPHS = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "clock",
    "moon",
    "rocket",
    "hubble_deep_field",
    "grass",
    "gravel",
    "brick",
)
#: Micrographs and other medical images that are not X-rays.
_MICROGRAPHS = ("cell", "immunohistochemistry", "microaneurysms", "retina")


def _documents(rng, n):
    """Pages of dark text lines on white, of random layout, plus scikit-image's."""
    pages = [skimage_data.page(), skimage_data.text()]
    for _ in range(n):
        page = Image.new("L", (int(rng.integers(300, 600)), 400), 255)
        draw = ImageDraw.Draw(page)
        for row in range(int(rng.integers(8, 20))):
            words = " ".join(
                "".join(chr(rng.integers(97, 123)) for _ in range(rng.integers(2, 9)))
                for _ in range(rng.integers(3, 9))
            )
            draw.text((20, 20 + 18 * row), words, fill=int(rng.integers(0, 90)))
        pages.append(np.asarray(page))
    return pages


def _matplotlib_photographs():
    """Matplotlib's sample photograph, when it is installed."""
    try:
        from matplotlib import cbook
    except ImportError:
        return []
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return [np.asarray(Image.open(path).convert("RGB"))]


def _scans():
    """CT and MR slices bundled with pydicom and Matplotlib, when installed."""
    scans = [skimage_data.shepp_logan_phantom()]
    try:
        import pydicom
        from pydicom.data import get_testdata_file
    except ImportError:
        pydicom = None
    if pydicom is not None:
        for name in ("CT_small.dcm", "MR_small.dcm", "liver_1frame.dcm"):
            pixels = pydicom.dcmread(get_testdata_file(name)).pixel_array
            scans.append(pixels.reshape(-1, *pixels.shape[-2:])[0])
    try:
        from matplotlib import cbook
    except ImportError:
        return [_stretch(scan) for scan in scans]
    with gzip.open(cbook.get_sample_data("s1045.ima.gz", asfileobj=False)) as file:
        scans.append(np.frombuffer(file.read(), np.uint16).reshape(256, 256))
    return [_stretch(scan) for scan in scans]


def _stretch(image):
    """An image scaled to [0, 1] by its own range, as a viewer shows it."""
    image = np.asarray(image, dtype=np.float64)
    low, high = image.min(), image.max()
    return ((image - low) / ((high - low) or 1.0)).astype(np.float32)


def _synthetic(rng):
    """Blank images and noise."""
    return [
        np.zeros((300, 300), np.float32),
        np.ones((300, 300), np.float32),
        np.full((300, 300), 0.5, np.float32),
        rng.random((300, 300), dtype=np.float32),
        rng.random((300, 300, 3), dtype=np.float32),
        np.clip(rng.normal(0.5, 0.15, (300, 300)), 0, 1).astype(np.float32),
    ]


def _turned(grays):
    """Chest X-rays rotated by 90, 180 or 270 degrees, or inverted."""
    turned = []
    for i, gray in enumerate(grays):
        turned.append(np.rot90(gray, k=1 + i % 3).copy())
        turned.append(1.0 - gray)
    return turned


def _collages(grays):
    """X-rays side by side (two) and in a 2x2 grid (four), each at one size."""
    collages = []
    for start in range(0, len(grays) - 1, 4):
        group = grays[start : start + 4]
        height, width = group[0].shape
        tiles = [resize(gray, (height, width)).astype(np.float32) for gray in group]
        collages.append(np.hstack(tiles[:2]))
        if len(tiles) == 4:
            collages.append(np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])]))
    return collages


def _single_lungs(grays):
    """The left or the right half of each X-ray: one lung, cropped."""
    return [
        gray[:, : gray.shape[1] // 2] if i % 2 else gray[:, gray.shape[1] // 2 :]
        for i, gray in enumerate(grays)
    ]


def make_outlier_corpus(xrays=(), *, n_documents=6, random_state=0):
    """Inputs that are not pediatric chest X-rays, each with its kind.

    Built from images that installed packages bundle, so that it needs no
    download: photographs and micrographs of scikit-image, documents (its
    two and ``n_documents`` generated pages of text), CT and MR slices
    (scikit-image's phantom; with the ``dicom`` and ``plot`` extras,
    pydicom's and Matplotlib's sample scans), blank and noise images, and,
    from the chest X-rays given, copies rotated by 90, 180 or 270 degrees
    and inverted ones, collages of them (two side by side, four in a
    grid) and single-lung crops (the left or the right half of each).
    Every image a model is meant to flag.

    Parameters
    ----------
    xrays : sequence of images, default=()
        Decoded chest X-rays to turn, invert, tile and crop (e.g.
        ``ImageLoader()``'s output on real files).
    n_documents : int, default=6
        Generated text pages.
    random_state : int, default=0
        Seeds the generated pages and the noise.

    Returns
    -------
    images : list of ndarray
        Each ``uint8``, ``bool`` or float in [0, 1], gray or RGB: what
        :class:`~sklearn_pneumo.GrayscaleResize` takes.
    kinds : ndarray of str
        ``"photograph"``, ``"micrograph"``, ``"document"``, ``"scan"``,
        ``"synthetic"``, ``"turned_xray"``, ``"collage"`` or
        ``"single_lung"``, one per image.

    Examples
    --------
    >>> from sklearn_pneumo.datasets import make_outlier_corpus
    >>> images, kinds = make_outlier_corpus()
    >>> len(images) == len(kinds), sorted(set(kinds.tolist()))[:3]
    (True, ['document', 'micrograph', 'photograph'])
    """
    rng = np.random.default_rng(random_state)
    grays = [to_gray(to_unit_float(np.asarray(xray))) for xray in xrays]
    groups = {
        "photograph": [getattr(skimage_data, name)() for name in _PHOTOGRAPHS]
        + list(skimage_data.lfw_subset()[::20])
        + _matplotlib_photographs(),
        "micrograph": [getattr(skimage_data, name)() for name in _MICROGRAPHS],
        "document": _documents(rng, n_documents),
        "scan": _scans(),
        "synthetic": _synthetic(rng),
        "turned_xray": _turned(grays),
        "collage": _collages(grays),
        "single_lung": _single_lungs(grays),
    }
    images = [image for group in groups.values() for image in group]
    kinds = np.array([kind for kind, group in groups.items() for _ in group])
    return images, kinds
