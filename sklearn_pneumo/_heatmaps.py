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
    cams = scaled_by_peak(np.asarray(cams, dtype=np.float32))
    return resize(cams, (len(cams), *image_size), order=1).astype(np.float32)


def scaled_by_peak(maps):
    """Each map divided by its maximum; all zero where that is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> scaled_by_peak(np.array([[[1.0, 4.0]], [[0.0, 0.0]]])).tolist()
    [[[0.25, 1.0]], [[0.0, 0.0]]]
    """
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peaks, out=np.zeros_like(maps), where=peaks > 0)
