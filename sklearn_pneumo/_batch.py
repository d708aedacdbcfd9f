"""Score many image files in batches, writing results as they come."""

import csv
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ._loader import ImageLoadError, check_paths
from .datasets._folder import class_display_names


def _scored_batches(model, paths, batch_size):
    """Yield ``(batch, proba, failures)`` for consecutive batches of ``paths``.

    A pipeline that can decode the next batch while its network scores this
    one (:class:`~sklearn_pneumo.PneumoPipeline`) does so.
    """
    overlapped = getattr(model, "_iter_overlapped", None)
    if overlapped is not None:
        yield from overlapped("predict_proba", paths, batch_size, keep_going=True)
        return
    for start in range(0, len(paths), batch_size):
        batch = paths[start : start + batch_size]
        yield batch, *_score_batch(model, batch)


def _score_batch(model, paths):
    """Probabilities for ``paths``, with unreadable files reported, not dropped."""
    try:
        return model.predict_proba(paths), {}
    except ImageLoadError as error:
        failures = dict(error.failures)
    readable = [p for p in paths if p not in failures]
    proba = model.predict_proba(readable) if readable else np.empty((0, 0))
    return proba, failures


def predict_files(model, paths, output, *, batch_size=256, progress=False):
    """Write a CSV of class probabilities for image files, one batch at a time.

    Peak memory is bounded by ``batch_size``, not by the number of files; a
    :class:`~sklearn_pneumo.PneumoPipeline` decodes the next batch while its
    network scores this one (two batches in memory). A
    file that cannot be read gets a row with its error instead of
    probabilities, so every input path appears in the output, in order.

    Parameters
    ----------
    model : fitted pipeline
        Takes image paths, e.g. from :func:`make_pneumo_pipeline`.
    paths : list, 1-D array or pandas Series
        Image file paths.
    output : str, os.PathLike or file object
        Where the CSV goes: columns ``path``, ``prediction``, one
        ``proba_<class>`` per class, and ``error``. Classes are shown by
        name: as the model has them, or NORMAL/PNEUMONIA for 0/1. A path is written as
        ``<output>.partial`` and renamed to ``output`` once every file is
        scored: an interrupted run leaves the rows it wrote in the
        ``.partial`` file and never a truncated file under the final name.
    batch_size : int, default=256
        Files decoded and scored at once.
    progress : bool, default=False
        Show a progress bar over batches.

    Returns
    -------
    n_errors : int
        Number of files that could not be read.
    """
    paths = check_paths(paths)
    if hasattr(output, "write"):
        return _write_rows(model, paths, output, batch_size, progress)
    partial = Path(f"{os.fspath(output)}.partial")
    with open(partial, "w", newline="") as handle:
        n_errors = _write_rows(model, paths, handle, batch_size, progress)
    os.replace(partial, output)
    return n_errors


def _write_rows(model, paths, handle, batch_size, progress):
    classes = class_display_names(model.classes_)
    header = ["path", "prediction", *[f"proba_{c}" for c in classes], "error"]
    n_errors = 0
    writer = csv.writer(handle)
    writer.writerow(header)
    batches = _scored_batches(model, paths, batch_size)
    n_batches = -(-len(paths) // batch_size)
    for batch, proba, failures in tqdm(
        batches, total=n_batches, desc="Scoring batches", disable=not progress
    ):
        rows = iter(() if proba is None else proba)
        for path in batch:
            if path in failures:
                n_errors += 1
                writer.writerow([path, "", *[""] * len(classes), failures[path]])
                continue
            row = next(rows)
            label = classes[int(np.argmax(row))]
            writer.writerow([path, label, *[f"{p:.6f}" for p in row], ""])
        handle.flush()
    return n_errors
