"""Score many image files in batches, writing results as they come."""

import csv
import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from tqdm.auto import tqdm

from ._class_names import class_display_names
from ._label_shift_check import unlike_source_warning
from ._loader import apply_to_readable, check_paths
from ._prior_shift import checks_source, unlike_source
from ._resume import check_state, kept_rows, run_state, write_state
from ._site_warning import (
    check_review_share,
    compare_share,
    review_cut,
    uncertainty_warning,
)
from ._steps import trims_borders
from ._walk import scoring_model
from ._wrapped import assessing_model, inner_model, wrapped_assess


def _scored_batches(model, paths, batch_size):
    """Yield ``(batch, result, failures)`` for consecutive batches of ``paths``.

    ``result`` is the model's ``assess`` (probabilities, typicality,
    outlier flags, uncertainty) where it has one (or the one of the model
    inside scikit-learn's calibration and threshold wrappers, with the
    wrapper's answers), else its ``predict_proba``, of the batch's readable
    files. A :class:`~sklearn_pneumo.PneumoPipeline` or an ONNX archive
    decodes the next batch while its networks score this one, and decodes
    each file once.
    """
    model = scoring_model(model)
    method = "assess" if hasattr(model, "assess") else "predict_proba"
    if hasattr(model, "_iter_overlapped"):  # PneumoPipeline, OnnxScorer
        yield from model._iter_overlapped(method, paths, batch_size, keep_going=True)
        return
    score = wrapped_assess(model) or model.predict_proba
    for start in range(0, len(paths), batch_size):
        batch = paths[start : start + batch_size]
        yield batch, *apply_to_readable(score, batch)


def predict_files(
    model,
    paths,
    output,
    *,
    batch_size=256,
    progress=False,
    resume=False,
    overwrite=False,
    client=None,
    review_uncertainty=None,
    review_share=None,
):
    """Write a CSV of predictions for image files, one batch at a time.

    Peak memory is bounded by ``batch_size``, not by the number of files; a
    :class:`~sklearn_pneumo.PneumoPipeline` or an ONNX archive
    (:class:`~sklearn_pneumo.OnnxScorer`) decodes the next batch while its
    networks score this one (two batches in memory). Every input gets a
    row, in order: an input that cannot be used (missing, unreadable, not a
    regular file, pixels out of range) gets a row with its error instead of
    predictions, and the other files of its batch are still scored, each
    decoded once.

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
        ``.partial`` file and never a truncated file under the final name;
        beside it, ``<output>.partial.json`` identifies the run (the
        model's fingerprint and the inputs', see ``resume``).
    batch_size : int, default=256
        Files decoded and scored at once.
    progress : bool, default=False
        Show a progress bar on stderr: X-rays scored, their rate, time left.
    resume : bool, default=False
        Continue an interrupted run from ``<output>.partial``: its rows are
        kept (a row torn when the run was killed is cut off) and only the
        inputs after them are scored, so the final file is the one an
        uninterrupted run writes. Refused, with a ValueError, if the
        ``.partial`` was written by another model or for other inputs
        (another list, or files whose size or modification time changed).
        Without a ``.partial``, the run starts afresh.
    overwrite : bool, default=False
        Replace an existing ``output``; without it (or ``resume``), an
        existing ``output`` is a FileExistsError, before anything is scored.
    client : dask.distributed.Client or None, default=None
        Score on this Dask cluster: each worker gets the model's ONNX form
        once (a Keras model is exported first; workers need no TensorFlow),
        the inputs go out in partitions of at most ``batch_size`` files
        (at least four per worker, so that none idles at the end), and their
        rows come back in input order, into the same file. A worker lost
        mid-run has its partitions scored again elsewhere. Works with
        ``resume``.
    review_uncertainty, review_share : float, optional
        Given together: an uncertainty cut and the share of the X-rays the
        model was validated on above it. None: the model's own
        (``review_uncertainty_`` and ``review_share_``, which
        :func:`measure_review_cut` sets and the shipped models carry), if
        it has them. The share above the cut of these inputs (those read
        and not flagged as outliers) is compared with it, as
        :func:`review_report` does, and a UserWarning says where it is
        higher than chance allows: a site whose X-rays the model reads less
        surely than those it was validated on, where labels should check
        its answers.

    A model that keeps how its validation X-rays of each class score (the
    shipped binary model, a network fitted with a hold-out; see
    :class:`PriorShiftAdapter`) is also checked on these inputs' scores
    (those read and not flagged as outliers): where they are no mixture of
    its validation X-rays' per-class scores in any shares, a UserWarning
    says the site differs by more than its class shares.

    Returns
    -------
    Bunch
        ``n_files``, ``n_errors`` (inputs with an error row),
        ``n_outliers`` (rows flagged as outliers), ``errors`` (the
        ``(path, reason)`` of each error row, in order), all counting the
        rows kept by ``resume``; for a file, ``n_resumed`` (those rows).
        With a review share (given, or the model's), ``uncertain``:
        ``above`` (inputs above the cut), ``n`` (those compared), ``cut``,
        ``share``, ``p_value`` of the one-sided binomial test and ``more``
        (whether it is below 0.01), counting kept rows too. For a model
        with a score reference, ``unlike_source``: ``p_value``, ``n`` (the
        inputs tested), ``statistic``, ``shares`` (of the best mixture) and
        ``more`` (whether ``p_value`` is below 0.01); else None.
    """
    if review_uncertainty is None and review_share is None:
        review_uncertainty, review_share = review_cut(model)
    check_review_share(review_uncertainty, review_share)
    if review_uncertainty is not None and review_share is None:
        raise ValueError(
            "review_uncertainty needs review_share, the share of the "
            "validation X-rays above it, to compare these inputs with"
        )
    paths = check_paths(paths)
    header, assessed = csv_columns(model)
    if hasattr(output, "write"):
        if resume:
            raise ValueError("resume=True needs an output path, not a file object")
        csv.writer(output).writerow(header)
        batches = _batches(model, paths, batch_size, client)
        summary = _summary(len(paths), [])
        counts = _counts(model, review_uncertainty, [], header)
        _write_rows(batches, len(paths), output, progress, summary, header, counts)
        return _compared(model, summary, counts, review_share)
    output = Path(output)
    if output.is_dir():
        raise IsADirectoryError(f"output {output} is a directory, not a file")
    if output.exists() and not overwrite:
        raise FileExistsError(
            f"{output} exists: pass overwrite=True (--overwrite) to replace it"
        )
    partial = output.with_name(f"{output.name}.partial")
    state_file = output.with_name(f"{output.name}.partial.json")
    state = run_state(model, paths, header)
    if resume and partial.exists():
        check_state(state_file, partial, state)
        kept = kept_rows(partial, paths, header)
        handle = open(partial, "a", newline="")
    else:
        kept = []
        write_state(state_file, state)
        handle = open(partial, "w", newline="")
        csv.writer(handle).writerow(header)
        handle.flush()
    with handle:
        rest = paths[len(kept) :]
        batches = _batches(model, rest, batch_size, client)
        summary = _summary(len(paths), kept)
        counts = _counts(model, review_uncertainty, kept, header)
        _write_rows(batches, len(rest), handle, progress, summary, header, counts)
        os.fsync(handle.fileno())
    os.replace(partial, output)
    state_file.unlink(missing_ok=True)
    summary.n_resumed = len(kept)
    return _compared(model, summary, counts, review_share)


def _batches(model, paths, batch_size, client):
    """The rows of ``paths`` batch by batch, here or on ``client``'s workers."""
    if client is None:
        return row_batches(model, paths, batch_size)
    from ._distributed import partition_rows

    return partition_rows(client, model, paths, batch_size)


def csv_columns(model):
    """The CSV's columns for ``model``, and whether it has flags."""
    classes = class_display_names(model.classes_)
    inner = assessing_model(scoring_model(model))
    assessed = inner is not None
    extra = ["typicality", "outlier", "uncertainty"] if assessed else []
    if assessed and _trims_borders(inner):
        extra.append("border_trimmed")
    header = ["path", "prediction", *[f"proba_{c}" for c in classes], *extra, "error"]
    return header, assessed


def _trims_borders(model):
    """Whether ``model``'s ``assess`` reports ``border_trimmed``.

    A pipeline does with a border-trimming step; a two-stage classifier
    reports its pneumonia model's, and a class-share adapter its model's.
    """
    steps = getattr(model, "steps", None)
    if steps is not None:
        return trims_borders(steps)
    inner = getattr(model, "pneumonia_", None)
    if inner is None:
        inner = inner_model(model)
    return inner is not None and _trims_borders(scoring_model(inner))


def _summary(n_files, kept):
    """The run's counts, with those of the rows ``kept`` from an earlier run."""
    errors = [(row["path"], row["error"]) for row in kept if row["error"]]
    outliers = sum(row.get("outlier") == "1" for row in kept)
    return Bunch(
        n_files=n_files, n_errors=len(errors), n_outliers=outliers, errors=errors
    )


def _counts(model, cut, kept, header):
    """What the site checks count: answers against ``cut`` (None: none), and
    probabilities where ``model`` has a score reference; ``kept`` counted."""
    columns = [c for c in header if c.startswith("proba_")]
    counts = Bunch(
        cut=cut,
        above=0,
        n=0,
        columns=columns,
        proba=[] if checks_source(model) else None,
    )
    for row in kept:
        _count(counts, row)
    return counts


def _count(counts, row):
    """Count ``row`` (the CSV's strings by column) if it has an answer to check.

    Those are the rows read and not flagged as outliers: their
    probabilities, and, with an uncertainty, whether it is above the cut.
    A row scored in this run holds its flag as the number, one read back
    from the file as the text.
    """
    if row["error"] or str(row.get("outlier")) == "1":
        return
    if counts.proba is not None:
        counts.proba.append([float(row[c]) for c in counts.columns])
    if counts.cut is None or not row.get("uncertainty"):
        return
    counts.n += 1
    counts.above += float(row["uncertainty"]) > counts.cut


def _compared(model, summary, counts, review_share):
    """``summary``, with the site checks of ``counts``: ``uncertain`` where a
    cut was given or kept, ``unlike_source`` (None without a score reference).

    A UserWarning says where either check fires.
    """
    if counts.cut is not None:
        summary.uncertain = compare_share(
            counts.above, counts.n, review_share, cut=counts.cut
        )
        if summary.uncertain.more:
            warnings.warn(uncertainty_warning(summary.uncertain), stacklevel=3)
    summary.unlike_source = None
    if counts.proba:
        summary.unlike_source = unlike_source(
            model, np.asarray(counts.proba), random_state=0
        )
        if summary.unlike_source is not None and summary.unlike_source.more:
            warnings.warn(unlike_source_warning(summary.unlike_source), stacklevel=3)
    return summary


def row_batches(model, paths, batch_size):
    """Yield the CSV rows of ``paths``, one list per batch, in input order."""
    classes = class_display_names(model.classes_)
    header, assessed = csv_columns(model)
    n_columns = len(header) - 3  # all but path, prediction and error
    labels = list(model.classes_)
    for batch, result, failures in _scored_batches(model, paths, batch_size):
        reasons = dict(failures)
        scored = iter(_rows(result, assessed))
        rows = []
        for path in batch:
            if path in reasons:
                rows.append([path, "", *[""] * n_columns, reasons[path]])
                continue
            proba, checks, prediction = next(scored)
            label = classes[
                int(np.argmax(proba))
                if prediction is None
                else labels.index(prediction)
            ]
            if checks:
                checks = [
                    f"{checks[0]:.4f}",
                    checks[1],
                    "" if np.isnan(checks[2]) else f"{checks[2]:.4f}",
                    *[f"{share:.4f}" for share in checks[3:]],
                ]
            rows.append([path, label, *[f"{p:.6f}" for p in proba], *checks, ""])
        yield rows


def _write_rows(batches, n_files, handle, progress, summary, header, counts=None):
    """Append each batch of rows to ``handle``, flushed; count errors and flags.

    With ``counts`` (of :func:`_counts`), count the answers compared with
    its cut too.
    """
    writer = csv.writer(handle)
    outlier = header.index("outlier") if "outlier" in header else None
    bar = tqdm(
        total=n_files, unit="X-ray", desc="Scoring", disable=not progress, leave=False
    )
    for rows in batches:
        writer.writerows(rows)
        handle.flush()
        bar.update(len(rows))
        for row in rows:
            if row[-1]:
                summary.n_errors += 1
                summary.errors.append((row[0], row[-1]))
            elif outlier is not None:
                summary.n_outliers += int(row[outlier])
            if counts is not None:
                _count(counts, dict(zip(header, row)))
    bar.close()
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
