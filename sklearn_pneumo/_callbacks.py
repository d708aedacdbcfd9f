"""Keras callbacks that pickle: copies without their run-time links."""

import copy
import pickle

import keras

from ._upstream import CALLBACK_RUNTIME_STATE


def _picklable(value):
    try:
        pickle.dumps(value)
    except (TypeError, AttributeError, ValueError, pickle.PicklingError):
        return False
    return True


def detach_callbacks(value, memo):
    """Copy callbacks (possibly in lists or dicts) without their run-time state.

    Keras sets the network, open files and log writers of a callback again
    when a fit starts; the copy has them reset (to their value before any
    fit, or None), so it pickles. ``memo`` maps ``id(original)`` to its copy,
    so that a callback shared by several containers stays shared.
    """
    if isinstance(value, keras.callbacks.Callback):
        if id(value) not in memo:
            detached = copy.copy(value)
            for name, attribute in vars(value).items():
                if name in CALLBACK_RUNTIME_STATE:
                    setattr(detached, name, copy.copy(CALLBACK_RUNTIME_STATE[name]))
                elif not _picklable(attribute):
                    setattr(detached, name, None)
            memo[id(value)] = detached
        return memo[id(value)]
    if isinstance(value, (list, tuple)):
        return type(value)(detach_callbacks(item, memo) for item in value)
    if isinstance(value, dict):
        return {key: detach_callbacks(item, memo) for key, item in value.items()}
    return value
