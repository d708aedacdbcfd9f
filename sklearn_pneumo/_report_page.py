"""The review report's page: its summary, metrics and markup, as HTML text.

What :func:`~sklearn_pneumo.review_report` writes into ``index.html``; the
page's behaviour is ``report/report.js``, its look ``report/report.css``.
Charts are inline SVG drawn here, so the page needs no plotting library.
"""

import html
import json
import string
from importlib import resources

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from ._class_names import class_display_names
from ._evaluation import proportion_interval
from ._label_shift_check import unlike_source_warning
from ._site_warning import uncertainty_warning
from ._version import __version__
from ._walk import scoring_model


def model_facts(model, name, review_uncertainty):
    """What the summary says of the model: name, version, classes, settings."""
    from ._prior_shift import PriorShiftAdapter

    facts = {"name": name or type(scoring_model(model)).__name__}
    manifest = getattr(model, "manifest", None)
    made_by = (manifest or {}).get("versions", {}).get("sklearn_pneumo")
    facts["version"] = __version__ + (
        f" (the archive was exported by {made_by})" if made_by else ""
    )
    facts["classes"] = class_display_names(model.classes_)
    threshold = getattr(scoring_model(model), "threshold", None)
    facts["decision"] = (
        f"threshold {threshold:g} on P({class_display_names(model.classes_)[-1]})"
        if isinstance(threshold, (int, float))
        else "the class of largest probability"
    )
    shares, source = None, None
    if isinstance(scoring_model(model), PriorShiftAdapter):
        adapter = scoring_model(model)
        shares, source = adapter._shift()[0], adapter.source_priors_
    elif manifest and manifest.get("prior_shift"):
        shares = manifest["prior_shift"]["target"]
        source = manifest["prior_shift"]["source"]
    facts["adaptation"] = (
        "none"
        if shares is None
        else "class shares adapted to the site: "
        + ", ".join(f"{c} {s:.3f}" for c, s in zip(facts["classes"], shares))
    )
    if shares is not None and np.array_equal(shares, source):
        facts["adaptation"] = (
            "none: the model's answers, kept where the site's X-rays differed "
            "from its validation ones by more than their class shares"
        )
    facts["review_uncertainty"] = review_uncertainty
    return facts


def _svg_curve(title, points_list, labels, x_label, y_label, markers=False):
    """A small line chart as inline, accessible SVG (the unit square)."""
    size, pad = 240, 36
    colours = ["var(--c0)", "var(--c1)", "var(--c2)", "var(--c3)"]

    def xy(x, y):
        return pad + x * (size - 2 * pad), size - pad - y * (size - 2 * pad)

    parts = [
        f'<svg viewBox="0 0 {size} {size}" width="{size}" height="{size}" '
        f'role="img" aria-label="{html.escape(title)}">'
        f"<title>{html.escape(title)}</title>",
        f'<rect x="{pad}" y="{pad}" width="{size - 2 * pad}" '
        f'height="{size - 2 * pad}" class="frame"/>',
    ]
    (x0, y0), (x1, y1) = xy(0, 0), xy(1, 1)
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" class="guide"/>')
    for index, (points, label) in enumerate(zip(points_list, labels)):
        coords = " ".join("{:.1f},{:.1f}".format(*xy(x, y)) for x, y in points)
        colour = colours[index % len(colours)]
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="2"><title>{html.escape(label)}</title></polyline>'
        )
        if markers:
            parts += [
                '<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"/>'.format(
                    *xy(x, y), colour
                )
                for x, y in points
            ]
        parts.append(
            f'<text x="{pad + 4}" y="{pad + 14 + 14 * index}" fill="{colour}">'
            f"{html.escape(label)}</text>"
        )
    parts.append(
        f'<text x="{size / 2}" y="{size - 6}" text-anchor="middle">'
        f"{html.escape(x_label)}</text>"
        f'<text x="12" y="{size / 2}" text-anchor="middle" '
        f'transform="rotate(-90 12 {size / 2})">{html.escape(y_label)}</text></svg>'
    )
    return "".join(parts)


def _interval(hits, total):
    """The 95 % Wilson interval of ``hits / total`` as text, "–" if undefined."""
    low, high = proportion_interval(hits, total)
    return "–" if np.isnan(low) else f"{low:.3f} to {high:.3f}"


def metrics_html(labels, predictions, proba, classes):
    """Confusion matrix, per-class metrics, ROC curves and reliability, as HTML."""
    from sklearn.metrics import roc_auc_score, roc_curve

    names = class_display_names(classes)
    y = np.array([list(classes).index(label) for label in labels])
    predicted = np.array([list(classes).index(p) for p in predictions])
    proba = np.asarray(proba)
    matrix = confusion_matrix(y, predicted, labels=range(len(classes)))
    head = "".join(f'<th scope="col">{html.escape(n)}</th>' for n in names)
    body = "".join(
        f'<tr><th scope="row">{html.escape(names[i])}</th>'
        + "".join(f"<td>{v}</td>" for v in row)
        + "</tr>"
        for i, row in enumerate(matrix)
    )
    confusion = (
        '<table class="small"><caption>Confusion matrix (rows: label, columns: '
        f"prediction)</caption><thead><tr><td></td>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=range(len(classes)), zero_division=0
    )
    rows = "".join(
        f'<tr><th scope="row">{html.escape(n)}</th><td>{p:.3f}</td><td>{r:.3f}</td>'
        f"<td>{_interval(matrix[i, i], s)}</td><td>{f:.3f}</td><td>{s}</td></tr>"
        for i, (n, p, r, f, s) in enumerate(zip(names, precision, recall, f1, support))
    )
    right = int((y == predicted).sum())
    per_class = (
        f'<table class="small"><caption>Per class (accuracy {right / len(y):.3f}, '
        f"95 % interval {_interval(right, len(y))}, on {len(y)})</caption>"
        '<thead><tr><td></td><th scope="col">precision</th>'
        '<th scope="col">recall</th><th scope="col">recall, 95 % interval</th>'
        '<th scope="col">F1</th><th scope="col">support</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    curves, curve_labels = [], []
    for index, name in enumerate(names):
        if len(classes) == 2 and index == 0:
            continue
        positive = y == index
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, index])
        auc = roc_auc_score(positive, proba[:, index])
        curves.append(list(zip(fpr, tpr)))
        curve_labels.append(f"{name}: AUC {auc:.3f}")
    roc = (
        _svg_curve(
            "ROC curve",
            curves,
            curve_labels,
            "false positive rate",
            "true positive rate",
        )
        if curves
        else "<p>No ROC curve: the labels hold one class only.</p>"
    )
    confidence = proba.max(axis=1)
    correct = predicted == y
    edges = np.linspace(1 / len(classes), 1, 11)
    points = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence >= low) & (confidence <= high)
        if inside.any():
            points.append((confidence[inside].mean(), correct[inside].mean()))
    reliability = _svg_curve(
        "Reliability: accuracy against confidence",
        [points],
        ["answers, in 10 bins"],
        "confidence (largest probability)",
        "accuracy",
        markers=True,
    )
    return (
        '<section aria-labelledby="metrics-h"><h2 id="metrics-h">With the labels</h2>'
        f'<div class="charts">{confusion}{per_class}{roc}{reliability}</div></section>'
    )


def uncertainty_html(uncertain):
    """The summary's comparison with the validation X-rays, and its warning."""
    if uncertain is None or not uncertain.n:
        return "", ""
    line = (
        f"<li><b>{uncertain.above}</b> of {uncertain.n} above the uncertainty "
        f"cut ({uncertain.above / uncertain.n:.0%}; {uncertain.share:.0%} of the "
        "X-rays it was validated on)</li>"
    )
    if not uncertain.more:
        return line, ""
    text = html.escape(uncertainty_warning(uncertain))
    return line, f'<p class="warning" role="alert">{text}</p>'


def unlike_source_html(unlike):
    """The summary's warning where the scores are no mix of the validation ones."""
    if unlike is None or not unlike.more:
        return ""
    text = html.escape(unlike_source_warning(unlike))
    return f'<p class="warning" role="alert">{text}</p>'


def summary_html(
    records, facts, header_classes, has_labels, uncertain=None, unlike=None
):
    counts = {name: 0 for name in header_classes}
    for record in records:
        if record["prediction"]:
            counts[record["prediction"]] += 1
    errors = sum(bool(r["error"]) for r in records)
    flagged = sum(bool(r.get("outlier")) for r in records)
    review = sum(r["review"] for r in records)
    items = "".join(
        f"<li><b>{count}</b> {html.escape(name)}</li>" for name, count in counts.items()
    )
    cut = facts["review_uncertainty"]
    rule = "outlier, or an error" + (
        f", or uncertainty above {cut:g}" if cut is not None else ""
    )
    wrong = ""
    if has_labels:
        n_wrong = sum(r.get("correct") is False for r in records)
        wrong = f"<li><b>{n_wrong}</b> wrong (shown first)</li>"
    model = "".join(
        f"<dt>{html.escape(key)}</dt><dd>{html.escape(str(value))}</dd>"
        for key, value in (
            ("model", facts["name"]),
            ("sklearn_pneumo", facts["version"]),
            ("classes", ", ".join(facts["classes"])),
            ("decision", facts["decision"]),
            ("site adaptation", facts["adaptation"]),
            ("heatmaps", facts["heatmaps"]),
        )
    )
    compared, alert = uncertainty_html(uncertain)
    return (
        '<section aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2>'
        f"{alert}{unlike_source_html(unlike)}"
        f'<div class="summary"><ul class="counts"><li><b>{len(records)}</b> inputs</li>'
        f"{items}<li><b>{flagged}</b> flagged as outliers</li>"
        f"<li><b>{review}</b> need review ({html.escape(rule)})</li>{compared}"
        f"<li><b>{errors}</b> could not be read</li>{wrong}</ul>"
        f'<dl class="model">{model}</dl></div></section>'
    )


def page(title, summary, metrics, data):
    """The whole ``index.html``: markup, the rows as JSON, and the assets."""
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    page = resources.files(__package__).joinpath("report", "page.html").read_text()
    return string.Template(page).substitute(
        title=html.escape(title),
        summary=summary,
        metrics=metrics,
        payload=payload,
        version=__version__,
    )
