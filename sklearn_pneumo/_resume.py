"""An interrupted scoring run, continued: what it wrote, checked against this run.

:func:`~sklearn_pneumo.predict_files` writes its rows to ``<output>.partial``
as each batch is scored, beside ``<output>.partial.json``, the run's
state: a fingerprint of the model and one of the inputs (each path, its
size and modification time, in order). A run continued with
``resume=True`` keeps the rows already written when both fingerprints
match, and refuses the ``.partial`` otherwise: rows of another model or
other inputs are never mixed in.
"""

import csv
import hashlib
import json
import os
from numbers import Number
from pathlib import Path

import numpy as np

FORMAT = "sklearn_pneumo.partial"
VERSION = 1


def _is_keras_model(obj):
    return hasattr(obj, "get_weights") and hasattr(obj, "layers")


def model_fingerprint(model):
    """A digest of what ``model`` is: its parameters, fitted state and weights.

    Walks the model's public attributes (parameters and fitted values:
    lists, dicts, NumPy arrays, estimators), reads each Keras network's
    weights, and names everything else by type, so that it is the same in
    every process for the same model, before and after it predicts, and
    moves with any weight, parameter or fitted value.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> a, b = LogisticRegression(C=1.0), LogisticRegression(C=2.0)
    >>> model_fingerprint(a) == model_fingerprint(LogisticRegression())
    True
    >>> model_fingerprint(a) == model_fingerprint(b)
    False
    """
    digest, seen, held = hashlib.sha256(), set(), []

    def enter(obj):
        seen.add(id(obj))
        held.append(obj)  # alive until the end: no later object takes its id

    def visit(obj, depth):
        digest.update(type(obj).__qualname__.encode())
        if depth > 40 or id(obj) in seen:
            return
        if isinstance(obj, (str, bytes, bool, Number, type(None))):
            digest.update(repr(obj).encode())
        elif isinstance(obj, np.ndarray):
            digest.update(f"{obj.dtype}{obj.shape}".encode())
            if obj.dtype != object:
                digest.update(np.ascontiguousarray(obj).tobytes())
            else:
                for item in obj.ravel():
                    visit(item, depth + 1)
        elif _is_keras_model(obj):
            for weights in obj.get_weights():
                digest.update(np.ascontiguousarray(weights).tobytes())
        elif isinstance(obj, (list, tuple)):
            enter(obj)
            for item in obj:
                visit(item, depth + 1)
        elif isinstance(obj, dict):
            enter(obj)
            for key in sorted(obj, key=repr):
                visit(key, depth + 1)
                visit(obj[key], depth + 1)
        elif callable(obj) and hasattr(obj, "__qualname__"):
            digest.update(f"{obj.__module__}.{obj.__qualname__}".encode())
        elif hasattr(obj, "__dict__") and not type(obj).__module__.startswith(
            ("tensorflow", "keras", "onnxruntime")
        ):
            enter(obj)
            # Private attributes are caches and run-time state (a network
            # built for prediction, callbacks), not what the model is.
            public = {k: v for k, v in vars(obj).items() if not k.startswith("_")}
            visit(public, depth + 1)

    visit(model, 0)
    return digest.hexdigest()


def inputs_fingerprint(paths):
    """A digest of the inputs in order: each path, its size and modification time."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            info = os.stat(path)
            facts = f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n"
        except OSError:
            facts = f"{path}\0missing\n"
        digest.update(facts.encode())
    return digest.hexdigest()


def run_state(model, paths, header):
    """What identifies a run: the state written beside its ``.partial`` file."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": model_fingerprint(model),
        "inputs": inputs_fingerprint(paths),
        "n_inputs": len(paths),
        "header": header,
    }


def write_state(state_file, state):
    """Write ``state`` whole (a temporary file, then a rename)."""
    temporary = state_file.with_name(f".{state_file.name}.tmp")
    temporary.write_text(json.dumps(state))
    os.replace(temporary, state_file)


def check_state(state_file, partial, state):
    """Refuse ``partial`` unless ``state_file`` says this model and inputs wrote it."""
    try:
        saved = json.loads(Path(state_file).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(
            f"cannot resume from {partial}: its state file {state_file} is "
            f"missing or damaged ({error}); remove {partial} or pass "
            "overwrite=True (--overwrite) to start again"
        ) from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"cannot resume: {state_file} is not a run state file")
    differs = [
        what
        for key, what in (
            ("model", "another model"),
            ("inputs", "another list of inputs (or files changed since)"),
            ("header", "other columns"),
        )
        if saved.get(key) != state[key]
    ]
    if differs:
        raise ValueError(
            f"cannot resume from {partial}: it was written by "
            f"{' and by '.join(differs)}. Remove it, or pass overwrite=True "
            "(--overwrite) to start again."
        )


def kept_rows(partial, paths, header):
    """The rows of ``partial`` to keep, its torn last line cut off.

    Returns
    -------
    rows : list of dict
        One per input already scored, in input order.

    Raises
    ------
    ValueError
        If the file's rows are not those of the first inputs, in order.
    """
    with open(partial, "rb+") as file:
        data = file.read()
        whole = data.rfind(b"\n") + 1
        if whole < len(data):  # a row cut short when the run was killed
            file.truncate(whole)
    lines = data[:whole].decode().splitlines(keepends=True)
    reader = csv.DictReader(lines)
    if reader.fieldnames != header:
        raise ValueError(f"cannot resume from {partial}: its columns differ")
    rows = list(reader)
    if len(rows) > len(paths) or any(
        row["path"] != path for row, path in zip(rows, paths)
    ):
        raise ValueError(
            f"cannot resume from {partial}: its rows are not those of the first "
            "inputs, in order"
        )
    return rows
