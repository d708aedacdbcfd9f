"""The image size a pipeline's fit hands to the classifiers inside it.

The ``resize`` step's ``size`` is the image size of a whole pipeline. A
classifier learns it at fit, as fitted state (``image_size_``), instead of
having its ``image_size`` parameter rewritten: ``fit`` changes no
parameter, so ``get_params()`` and ``clone`` give back what the user built.
A context variable carries it, because the classifiers may sit inside an
ensemble that passes nothing on to its members' ``fit``.
"""

from contextlib import contextmanager
from contextvars import ContextVar

_FITTING = ContextVar("sklearn_pneumo_image_size", default=None)


@contextmanager
def fitting_image_size(size):
    """Within the block, classifiers that are fitted read ``size``.

    Examples
    --------
    >>> with fitting_image_size((24, 40)):
    ...     image_size_hint()
    (24, 40)
    >>> image_size_hint() is None
    True
    """
    token = _FITTING.set(None if size is None else tuple(int(s) for s in size))
    try:
        yield
    finally:
        _FITTING.reset(token)


def image_size_hint():
    """The size of the pipeline being fitted, or None outside such a fit."""
    return _FITTING.get()
