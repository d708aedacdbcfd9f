"""Heatmaps as every model gives them: scaled, upsampled, without TensorFlow."""

import numpy as np
from skimage.transform import resize


def finished_heatmaps(cams, image_size):
    """Class activation maps scaled by their maxima and upsampled to ``image_size``.

    Parameters
    ----------
    cams : ndarray of shape (n, height, width)
        Non-negative maps, at the network's feature map size.
    image_size : (int, int)
        The network's input size.

    Returns
    -------
    ndarray of shape (n, *image_size), float32
        In [0, 1]; all zero where a map is.

    Examples
    --------
    >>> import numpy as np
    >>> maps = finished_heatmaps(np.array([[[0.0, 2.0], [0.0, 0.0]]]), (4, 4))
    >>> maps.shape, float(maps.max())
    ((1, 4, 4), 0.5625)
    """
    cams = np.asarray(cams, dtype=np.float32)
    peaks = cams.max(axis=(1, 2), keepdims=True)
    cams = np.divide(cams, peaks, out=np.zeros_like(cams), where=peaks > 0)
    return resize(cams, (len(cams), *image_size), order=1).astype(np.float32)
