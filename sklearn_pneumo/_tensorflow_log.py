"""TensorFlow's log: quiet at start-up unless the user asked for it, no false alarms."""

import logging
import os
import sys
from contextlib import contextmanager


@contextmanager
def native_stderr_silenced():
    """Send what native code writes to file descriptor 2 to the null device.

    TensorFlow's libraries log while they load, before any log level applies
    (oneDNN, CUDA, "before absl::InitializeLog"); only the descriptor can be
    silenced. Python's own errors are printed after it is restored.
    """
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def import_tensorflow_quietly():
    """Import TensorFlow, hiding its C++ log if this is its first import.

    Only when the user has not set ``TF_CPP_MIN_LOG_LEVEL``: then it is set
    to 3, which hides the start-up lines (oneDNN notices, "failed call to
    cuInit" on machines without a GPU) and TensorFlow's C++ warnings such as
    "NodeDef mentions attribute use_unbounded_threadpool" on every fit, none
    of them the user's. Errors still raise Python exceptions. Set
    ``TF_CPP_MIN_LOG_LEVEL=0`` before importing to see the whole log.
    """
    if "tensorflow" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    with native_stderr_silenced():
        import tensorflow  # noqa: F401


class _RetracingNoise(logging.Filter):
    """Drop TensorFlow's "triggered tf.function retracing" warnings.

    Every fit builds a new network with new tf.functions, so cross-validation
    and grid searches trace again by design; TensorFlow counts the traces
    across networks and warns as if one function were retraced.
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def drop_retracing_warnings():
    """Install :class:`_RetracingNoise` on TensorFlow's logger, once."""
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _RetracingNoise) for f in logger.filters):
        logger.addFilter(_RetracingNoise())
