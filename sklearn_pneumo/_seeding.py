"""Seeding Keras for one fit without touching the caller's random state."""

import random
from contextlib import contextmanager

import keras
import numpy as np


@contextmanager
def keras_seed(seed):
    """Seed Keras' own generators too, restoring Python's and NumPy's state.

    ``None`` leaves every generator as it is.

    Examples
    --------
    >>> import numpy as np
    >>> state = np.random.get_state()[1][:3].tolist()
    >>> with keras_seed(0):
    ...     _ = np.random.random()
    >>> np.random.get_state()[1][:3].tolist() == state
    True
    """
    if seed is None:
        yield
        return
    python_state, numpy_state = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
