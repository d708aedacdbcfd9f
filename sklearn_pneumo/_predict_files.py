"""Score many image files in batches, writing results as they come."""

import csv
import sys
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from tqdm.auto import tqdm

from ._class_names import class_display_names
from ._loader import apply_to_readable, check_paths
from ._steps import trims_borders
from ._walk import scoring_model
from ._wrapped import assessing_model, wrapped_assess
from ._writing import atomic_write


def _scored_batches(model, paths, batch_size):
    """Yield ``(batch, result, failures)`` for consecutive batches of ``paths``.

    ``result`` is the model's ``assess`` (probabilities, typicality,
    outlier flags, uncertainty) where it has one (or the one of the model
    inside scikit-learn's calibration and threshold wrappers, with the
    wrapper's answers), else its ``predict_proba``, of the batch's readable
    files. A :class:`~sklearn_pneumo.PneumoPipeline`
    decodes the next batch while its network scores this one.
    """
    model = scoring_model(model)
    method = "assess" if hasattr(model, "assess") else "predict_proba"
    # No PneumoPipeline exists unless its module (and TensorFlow) was imported.
    pipelines = sys.modules.get(f"{__package__}._pipeline")
    if pipelines is not None and isinstance(model, pipelines.PneumoPipeline):
        yield from model._iter_overlapped(method, paths, batch_size, keep_going=True)
        return
    score = wrapped_assess(model) or model.predict_proba
    for start in range(0, len(paths), batch_size):
        batch = paths[start : start + batch_size]
        yield batch, *apply_to_readable(score, batch)


def predict_files(model, paths, output, *, batch_size=256, progress=False):
    """Write a CSV of predictions for image files, one batch at a time.

    Peak memory is bounded by ``batch_size``, not by the number of files; a
    :class:`~sklearn_pneumo.PneumoPipeline` decodes the next batch while its
    network scores this one (two batches in memory). Every input gets a
    row, in order: an input that cannot be used (missing, unreadable, not a
    regular file, pixels out of range) gets a row with its error instead of
    predictions, and the other files are still scored.

    Parameters
    ----------
    model : fitted pipeline
        Takes image paths, e.g. from :func:`make_pneumo_pipeline`, or a
        fitted search over one (its ``best_estimator_`` scores).
    paths : list, 1-D array or pandas Series
        Image file paths.
    output : str, os.PathLike or file object
        Where the CSV goes. Columns: ``path``, ``prediction``, one
        ``proba_<class>`` per class; for a model of this package also
        ``typicality`` (its ``score_samples``: higher is more like the
        training X-rays), ``outlier`` (1 where the input is unlike them, 0
        otherwise) and ``uncertainty`` (the spread of the ensemble members'
        or test-time views' probabilities; empty for a single network
        without test-time augmentation); with a ``resize`` step that trims
        borders, ``border_trimmed`` (the share of the image's area cut off
        as uniform border); and ``error``. Classes are shown by
        name: as the model has them, or NORMAL/PNEUMONIA for 0/1. A path is
        written as ``<output>.partial`` and renamed to ``output`` once every
        file is scored: an interrupted run leaves the rows it wrote in the
        ``.partial`` file and never a truncated file under the final name.
    batch_size : int, default=256
        Files decoded and scored at once.
    progress : bool, default=False
        Show a progress bar over batches.

    Returns
    -------
    Bunch
        ``n_files``, ``n_errors`` (inputs with an error row),
        ``n_outliers`` (rows flagged as outliers) and ``errors`` (the
        ``(path, reason)`` of each error row, in order).
    """
    paths = check_paths(paths)
    if hasattr(output, "write"):
        return _write_rows(model, paths, output, batch_size, progress)
    output = Path(output)
    if output.is_dir():
        raise IsADirectoryError(f"output {output} is a directory, not a file")
    with atomic_write(output, "w", keep_partial=True, newline="") as handle:
        return _write_rows(model, paths, handle, batch_size, progress)


def _write_rows(model, paths, handle, batch_size, progress):
    classes = class_display_names(model.classes_)
    inner = assessing_model(scoring_model(model))
    assessed = inner is not None
    extra = ["typicality", "outlier", "uncertainty"] if assessed else []
    if assessed and trims_borders(getattr(inner, "steps", [])):
        extra.append("border_trimmed")
    header = ["path", "prediction", *[f"proba_{c}" for c in classes], *extra, "error"]
    summary = Bunch(n_files=len(paths), n_errors=0, n_outliers=0, errors=[])
    writer = csv.writer(handle)
    writer.writerow(header)
    batches = _scored_batches(model, paths, batch_size)
    n_batches = -(-len(paths) // batch_size)
    for batch, result, failures in tqdm(
        batches, total=n_batches, desc="Scoring batches", disable=not progress
    ):
        reasons = dict(failures)
        rows = iter(_rows(result, assessed))
        for path in batch:
            if path in reasons:
                summary.n_errors += 1
                summary.errors.append((path, reasons[path]))
                blank = [""] * (len(classes) + len(extra))
                writer.writerow([path, "", *blank, reasons[path]])
                continue
            proba, checks, prediction = next(rows)
            label = classes[
                int(np.argmax(proba))
                if prediction is None
                else list(model.classes_).index(prediction)
            ]
            if checks:
                summary.n_outliers += checks[1]
                checks = [
                    f"{checks[0]:.4f}",
                    checks[1],
                    "" if np.isnan(checks[2]) else f"{checks[2]:.4f}",
                    *[f"{share:.4f}" for share in checks[3:]],
                ]
            writer.writerow([path, label, *[f"{p:.6f}" for p in proba], *checks, ""])
        handle.flush()
    return summary


def _rows(result, assessed):
    """``(proba, [typicality, outlier, uncertainty], prediction)`` per row.

    ``prediction`` is None where the class of largest probability is it.
    """
    if result is None:
        return
    if not assessed:
        for proba in result:
            yield proba, [], None
        return
    trimmed = result.get("border_trimmed", [None] * len(result.proba))
    predictions = result.get("prediction", [None] * len(result.proba))
    for proba, typicality, outlier, uncertainty, share, prediction in zip(
        result.proba,
        result.typicality,
        result.outlier,
        result.uncertainty,
        trimmed,
        predictions,
    ):
        checks = [float(typicality), int(outlier), float(uncertainty)]
        checks = checks if share is None else [*checks, float(share)]
        yield proba, checks, prediction
