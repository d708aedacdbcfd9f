"""How many threads decode and resize images: the ``n_jobs="auto"`` rule."""

from numbers import Integral

from ._upstream import Interval

#: joblib's ``n_jobs`` as parameter constraints: any int but 0, which joblib
#: would refuse only once the images are being read, as if they were at fault.
N_JOBS = [
    Interval(Integral, None, -1, closed="right"),
    Interval(Integral, 1, None, closed="left"),
]

#: Fewest images for which "auto" starts threads: below this, starting them
#: costs about as much as it saves (a full-size X-ray takes 2-5 ms).
AUTO_MIN_IMAGES = 16


def image_threads(n_jobs, n_images):
    """joblib ``n_jobs`` for a step over ``n_images`` images.

    ``"auto"`` means every core (``-1``) from :data:`AUTO_MIN_IMAGES` images
    on and one thread below; any other value is joblib's own, but never
    more threads than images: joblib starts every thread it is asked for
    before the first task, so an ``n_jobs`` in the thousands (mistyped, or
    read from a crafted model file) would otherwise exhaust the process'
    threads on a batch of two.

    Examples
    --------
    >>> image_threads("auto", 1000), image_threads("auto", 3), image_threads(None, 1000)
    (-1, 1, None)
    >>> image_threads(8, 1000), image_threads(64_000, 2), image_threads(-1, 2)
    (8, 2, -1)
    """
    if n_jobs == "auto":
        return -1 if n_images >= AUTO_MIN_IMAGES else 1
    if n_jobs is not None and n_jobs > n_images:
        return max(n_images, 1)
    return n_jobs
