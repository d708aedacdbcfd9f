"""A review report: a scored folder as a page to look at, not a CSV to read.

:func:`review_report` writes ``DIR/index.html`` with the rows of
:func:`predict_files` (one per input, in order, errors included), a
thumbnail of each X-ray as the network saw it with its Grad-CAM heatmap,
the full X-ray, a summary, and with labels the metrics. The page works
offline from ``file://``: its script and style sheet are the package's own,
written beside it, and it loads nothing from the network.
"""

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.utils import Bunch
from tqdm.auto import tqdm

from ._class_names import class_display_names
from ._explain import has_heatmaps, network_views
from ._loader import (
    apply_to_readable,
    check_paths,
    decode_image,
    image_loaders,
    scale_intensity,
)
from ._predict_files import csv_columns, row_batches
from ._prior_shift import unlike_source
from ._report_page import (
    metrics_html,
    model_facts,
    page,
    summary_html,
)
from ._site_warning import check_review_share, more_uncertain, review_cut
from ._version import __version__

#: The file that marks a folder as a report of this package.
MARKER = "report.json"
#: Rows the page shows at once.
PAGE_SIZE = 100
#: Longest side of the full X-ray copied into the report, in pixels.
FULL_SIDE = 1024
_ASSETS = ("report.js", "report.css")
# A perceptual dark-to-bright ramp (black, purple, red, orange, yellow).
_RAMP = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]],
    dtype=np.float32,
)


def _heat_rgba(heatmap):
    """``heatmap`` in [0, 1] as RGBA pixels: the ramp, opaque where it is hot."""
    position = np.clip(heatmap, 0, 1) * (len(_RAMP) - 1)
    low = np.minimum(position.astype(int), len(_RAMP) - 2)
    fraction = (position - low)[..., None]
    rgb = _RAMP[low] * (1 - fraction) + _RAMP[low + 1] * fraction
    alpha = 255 * np.sqrt(np.clip(heatmap, 0, 1))
    return np.dstack([rgb, alpha]).round().astype(np.uint8)


def _eight_bit(pixels):
    """Decoded pixels as 8-bit gray or RGB, for a browser."""
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint8:
        out = pixels
    elif pixels.dtype.kind in "ui":
        out = (pixels.astype(np.float64) * 255 / np.iinfo(pixels.dtype).max).round()
    else:
        out = (np.clip(pixels, 0, 1) * 255).round()
    out = out.astype(np.uint8)
    if out.ndim == 3 and out.shape[2] == 4:
        out = out[..., :3]
    return out[..., 0] if out.ndim == 3 and out.shape[2] == 1 else out


def _full_image(path, target, intensity="container"):
    """Copy ``path`` shrunk to :data:`FULL_SIDE` as a JPEG at ``target``.

    Its pixels scaled as the model's loader scales them (``intensity``).
    """
    pixels = decode_image(path, decode_size=(FULL_SIDE, FULL_SIDE))
    pixels = scale_intensity(pixels, intensity)
    image = Image.fromarray(_eight_bit(pixels))
    image.thumbnail((FULL_SIDE, FULL_SIDE))
    image.save(target, quality=85)
    return image.size


def _check_out_dir(out_dir, overwrite):
    """Refuse an output folder that is not this package's report, or a file."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"output {out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        kind = (
            "a report"
            if (out_dir / MARKER).is_file()
            else "a folder that is not a report"
        )
        raise FileExistsError(
            f"output {out_dir} exists and is {kind}: pass overwrite=True "
            "(--overwrite) to replace it"
        )
    if not out_dir.parent.is_dir():
        raise FileNotFoundError(
            f"output {out_dir}: folder {out_dir.parent} does not exist"
        )
    return out_dir


def _replace_folder(built, out_dir):
    """Put the finished folder ``built`` at ``out_dir`` in one rename.

    An existing ``out_dir`` is moved aside first and removed after; its
    ``index.html`` is never mixed with the new report's files.
    """
    if not out_dir.exists():
        os.rename(built, out_dir)
        return
    old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
    os.rename(out_dir, old / "report")
    os.rename(built, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _labels_of(model, y, n):
    """``y`` as the model's class labels (display names are accepted too)."""
    if y is None:
        return None
    y = np.asarray(y, dtype=object)
    if y.shape != (n,):
        raise ValueError(f"y has shape {y.shape}; it needs one label per path ({n})")
    classes = list(model.classes_)
    names = class_display_names(classes)
    by_name = {name: c for name, c in zip(names, classes)}
    by_text = {str(c): c for c in classes}
    labels = []
    for label in y:
        if label is None:
            labels.append(None)
        elif label in classes:
            labels.append(label)
        elif str(label) in by_name or str(label) in by_text:
            labels.append(by_name.get(str(label), by_text.get(str(label))))
        else:
            raise ValueError(
                f"label {label!r} is not one of the model's classes {names}"
            )
    return labels


def review_report(
    model,
    paths,
    out_dir,
    y=None,
    *,
    heatmaps=True,
    review_uncertainty=None,
    review_share=None,
    model_name=None,
    title="X-ray review",
    overwrite=False,
    batch_size=256,
    progress=False,
):
    """Write a page to review a model's answers for image files: ``index.html``.

    One row per input, in input order: a thumbnail of the X-ray as the
    network saw it under its Grad-CAM heatmap for the predicted class, the
    prediction, each class's probability, uncertainty, typicality, the
    outlier flag and ``border_trimmed``; an input that could not be used
    gets its row with the reason. The page sorts by any column, filters to
    the inputs that need review (outliers, errors, uncertainty above
    ``review_uncertainty``), searches by file name, and opens a detail
    view with the full X-ray beside the heatmap, whose opacity a slider
    sets. A summary at the top counts the answers and describes the model;
    with labels, a confusion matrix, per-class metrics, ROC curves and a
    reliability diagram follow, and wrong answers come first.

    The page opens from ``file://`` with no server and loads nothing from
    the network. Beside it: ``report.js`` and ``report.css`` (this
    package's), ``images/`` and ``predictions.csv`` (the rows of
    :func:`predict_files`). The folder is built beside ``out_dir`` and
    renamed into place when done: there is a finished report or none.

    Parameters
    ----------
    model : fitted model of this package
        One that takes image paths: a pipeline, :func:`load_pretrained`'s
        model or an ONNX archive's :class:`OnnxScorer`, also inside a
        search, a calibration or threshold wrapper, or a
        :class:`PriorShiftAdapter`.
    paths : list of str
        Image files.
    out_dir : str or os.PathLike
        The report's folder. An existing, non-empty folder is refused
        unless ``overwrite``.
    y : array-like of labels, optional
        The true class of each path (the model's labels, or their display
        names such as ``"PNEUMONIA"``); None for a path without one, which
        the metrics leave out.
    heatmaps : bool, default=True
        Compute Grad-CAM heatmaps (one more pass of the networks, with
        gradients for a Keras model).
    review_uncertainty : float, optional
        Uncertainty above which an answer needs review. None, with
        ``review_share`` None too: the model's own cut and share
        (``review_uncertainty_`` and ``review_share_``, which
        :func:`measure_review_cut` sets and the shipped models carry), or,
        for a model without them, outliers and errors only.
    review_share : float, optional
        The share of the X-rays the model was validated on whose
        uncertainty lies above ``review_uncertainty`` (the shipped models':
        about 0.1). With it, the summary compares the share above the cut
        of these inputs (those read and not flagged as outliers), and warns
        where it is higher than chance allows (one-sided binomial test at
        1 %): a site whose X-rays the model reads less surely than those it
        was validated on, where labels should check its answers.
    model_name : str, optional
        How the summary names the model (default: its type).
    title : str, default="X-ray review"
    overwrite : bool, default=False
        Replace an existing ``out_dir`` (a report or not) whole.
    batch_size : int, default=256
        Files scored at once.
    progress : bool, default=False
        Show a progress bar on stderr.

    Returns
    -------
    Bunch
        ``index`` (the page's path), ``n_files``, ``n_errors``,
        ``n_outliers``, ``n_review``, ``heatmaps`` (whether drawn),
        ``errors`` (``(path, reason)`` pairs) and ``uncertain``: with a
        review share (given, or the model's), the comparison: ``above``
        (inputs above the cut), ``n`` (those compared), ``cut``, ``share``,
        ``p_value`` and ``more`` (whether the page warns); else None. And
        ``unlike_source``: for a model that keeps how its validation X-rays
        of each class score (see :class:`PriorShiftAdapter`), whether these
        inputs' scores (those read and not flagged) are a mixture of those in
        any shares: ``p_value``, ``n``, ``shares`` and ``more`` (whether the
        page warns that the site differs by more than its class shares);
        else None.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_pneumo import load_pretrained, review_report
    >>> from sklearn_pneumo.datasets import load_chest_xray_sample
    >>> paths, y = load_chest_xray_sample()
    >>> out = tempfile.mkdtemp() + "/report"
    >>> report = review_report(load_pretrained(runtime="onnx"), paths[:4], out, y[:4])
    >>> report.n_files, report.n_errors, report.index.name
    (4, 0, 'index.html')
    """
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if review_uncertainty is None and review_share is None:
        review_uncertainty, review_share = review_cut(model)
    check_review_share(review_uncertainty, review_share)
    paths = check_paths(paths)
    if not paths:
        raise ValueError("no image files to report on")
    out_dir = _check_out_dir(out_dir, overwrite)
    labels = _labels_of(model, y, len(paths))
    draw, why_not = has_heatmaps(model) if heatmaps else (False, "not asked for")
    facts = model_facts(model, model_name, review_uncertainty)
    facts["heatmaps"] = (
        "Grad-CAM of the predicted class" if draw else f"none: {why_not}"
    )
    header, _ = csv_columns(model)
    classes = list(model.classes_)
    names = class_display_names(classes)
    try:
        built = Path(
            tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.new-")
        )
    except OSError as error:
        raise PermissionError(
            f"output {out_dir}: cannot write in {out_dir.parent} ({error.strerror})"
        ) from None
    try:
        (built / "images").mkdir()
        records = _write_rows_and_images(
            model, paths, built, header, labels, draw, batch_size, progress
        )
        for record in records:
            record["review"] = bool(
                record["error"]
                or record.get("outlier")
                or (
                    review_uncertainty is not None
                    and record.get("uncertainty") is not None
                    and record["uncertainty"] > review_uncertainty
                )
            )
        uncertain = None
        if review_share is not None:
            uncertain = more_uncertain(
                [
                    np.nan if r.get("uncertainty") is None else r["uncertainty"]
                    for r in records
                    if not (r["error"] or r.get("outlier"))
                ],
                review_uncertainty,
                review_share,
            )
        answered = [r for r in records if not (r["error"] or r.get("outlier"))]
        unlike = None
        if answered:
            unlike = unlike_source(
                model, np.array([r["proba"] for r in answered]), random_state=0
            )
        summary = summary_html(
            records, facts, names, labels is not None, uncertain, unlike
        )
        metrics = ""
        scored = [r for r in records if r["prediction"] and "label" in r]
        if scored:
            metrics = metrics_html(
                [classes[names.index(r["label"])] for r in scored],
                [classes[names.index(r["prediction"])] for r in scored],
                [r["proba"] for r in scored],
                classes,
            )
        data = {
            "classes": names,
            "columns": [c for c in header if c not in ("path", "error")],
            "labels": labels is not None,
            "page_size": PAGE_SIZE,
            "rows": records,
        }
        for asset in _ASSETS:
            text = resources.files(__package__).joinpath("report", asset).read_text()
            (built / asset).write_text(text, encoding="utf-8")
        (built / MARKER).write_text(
            json.dumps(
                {"generator": f"sklearn_pneumo {__version__}", "n_files": len(paths)}
            )
        )
        (built / "index.html").write_text(
            page(title, summary, metrics, data), encoding="utf-8"
        )
        _replace_folder(built, out_dir)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    errors = [(r["path"], r["error"]) for r in records if r["error"]]
    return Bunch(
        index=out_dir / "index.html",
        n_files=len(records),
        n_errors=len(errors),
        n_outliers=sum(bool(r.get("outlier")) for r in records),
        n_review=sum(r["review"] for r in records),
        heatmaps=draw,
        errors=errors,
        uncertain=uncertain,
        unlike_source=unlike,
    )


def _write_rows_and_images(
    model, paths, folder, header, labels, draw, batch_size, progress
):
    """Score ``paths`` batch by batch; write the CSV and each row's images."""
    import csv

    classes = list(model.classes_)
    names = class_display_names(classes)
    records = []
    bar = tqdm(
        total=len(paths), unit="X-ray", desc="Report", disable=not progress, leave=False
    )
    with open(folder / "predictions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for start in range(0, len(paths), batch_size):
            batch = paths[start : start + batch_size]
            (rows,) = row_batches(model, batch, len(batch))
            writer.writerows(rows)
            batch_records = [
                _record(header, row, start + i) for i, row in enumerate(rows)
            ]
            if labels is not None:
                for record in batch_records:
                    label = labels[record["index"]]
                    if label is None:
                        continue
                    record["label"] = names[classes.index(label)]
                    if record["prediction"]:
                        record["correct"] = record["label"] == record["prediction"]
            _add_images(model, batch_records, folder, draw, classes, names)
            records += batch_records
            bar.update(len(batch))
    bar.close()
    return records


def _record(header, row, index):
    """One CSV row as the page's record."""
    values = dict(zip(header, row))
    record = {
        "index": index,
        "path": values["path"],
        "name": os.path.basename(values["path"]),
        "prediction": values["prediction"],
        "error": values["error"],
        "proba": [float(values[c]) for c in header if c.startswith("proba_")]
        if values["prediction"]
        else None,
    }
    for column in ("typicality", "uncertainty", "border_trimmed"):
        if column in values:
            record[column] = float(values[column]) if values[column] else None
    if "outlier" in values:
        record["outlier"] = str(values["outlier"]) == "1"
    return record


def _add_images(model, records, folder, draw, classes, names):
    """Write the network's view, heatmap and full X-ray of each scored record."""
    scored = [r for r in records if not r["error"]]
    if not scored:
        return
    paths = [r["path"] for r in scored]
    predicted = {r["path"]: classes[names.index(r["prediction"])] for r in scored}

    def views(chunk):
        return network_views(model, chunk, [predicted[p] for p in chunk], heatmaps=draw)

    result, failures = apply_to_readable(views, paths)
    failed = dict(failures)
    loaders = image_loaders(model)
    intensity = loaders[0].intensity if loaders else "container"
    readable = iter(range(len(paths) - len(failed)))
    for record in scored:
        if record["path"] in failed:  # changed since it was scored
            record["note"] = f"not shown: {failed[record['path']]}"
            continue
        i = next(readable)
        stem = f"images/{record['index'] + 1:06d}"
        image = Image.fromarray(_eight_bit(result[0][i]))
        image.save(folder / f"{stem}-seen.png", compress_level=1)
        record["seen"] = f"{stem}-seen.png"
        if result[1] is not None:
            # Every other pixel: the map is smooth, and the page scales it up.
            Image.fromarray(_heat_rgba(result[1][i][::2, ::2]), "RGBA").save(
                folder / f"{stem}-heat.png", compress_level=1
            )
            record["heat"] = f"{stem}-heat.png"
        try:
            record["full_size"] = _full_image(
                record["path"], folder / f"{stem}.jpg", intensity
            )
            record["full"] = f"{stem}.jpg"
        except (OSError, ValueError) as error:
            record["note"] = f"full X-ray not shown: {error}"
