"""
A review report: the answers of a folder as a page to look at
==============================================================

:func:`~sklearn_pneumo.review_report` (``sklearn-pneumo report`` on the
command line) writes ``index.html`` for a folder of X-rays: each X-ray as the
network saw it under its Grad-CAM heatmap, the prediction, probabilities,
uncertainty and flags, sortable, filtered to the answers to review, with a
detail view; with labels, the metrics. The page opens from ``file://`` with
no server and loads nothing from the network.

Here the shipped model's ONNX form (no TensorFlow needed) reports on the
bundled X-rays, a file that is not an image and a photograph, with their
labels. We then open the page in headless Chromium, if it is installed, and
show what a reviewer sees.
"""

# %%
# Write the report
# ----------------
import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from PIL import Image

from sklearn_pneumo import load_pretrained, review_report
from sklearn_pneumo.datasets import load_chest_xray_sample, make_outlier_corpus

folder = Path(tempfile.mkdtemp())
broken = folder / "broken.jpeg"
broken.write_bytes(b"not an image")
images, kinds = make_outlier_corpus([])
photograph = folder / "photograph.png"
Image.fromarray(images[list(kinds).index("photograph")]).save(photograph)

paths, y = load_chest_xray_sample()
paths = [*paths, str(broken), str(photograph)]
labels = [*y, None, None]  # no X-rays: no label, left out of the metrics
# The shipped model carries its review cut of uncertainty and the share of
# its validation X-rays above it: the page sends the answers above the cut
# to review, and compares the share of these inputs above it.
report = review_report(
    load_pretrained(runtime="onnx"),
    paths,
    folder / "report",
    labels,
    model_name="shipped normal-pneumonia model (ONNX)",
)
print(report.index)
print(
    f"{report.n_files} inputs, {report.n_review} to review "
    f"({report.n_outliers} outliers, {report.n_errors} unreadable)"
)
for path, reason in report.errors:
    print(f"  {Path(path).name}: {reason}")
# The samples were taken after every X-ray the model learned from, and it
# is unsure of far more of them than of its validation X-rays: the page warns.
uncertain = report.uncertain
print(
    f"{uncertain.above} of {uncertain.n} above the review cut, against "
    f"{uncertain.share:.0%} of its validation X-rays: warns {uncertain.more}"
)
print(sorted(p.name for p in report.index.parent.iterdir()))

# %%
# What a reviewer sees
# --------------------
# The top of the page: the summary, the model, and with the labels the
# confusion matrix, per-class figures, ROC curve and reliability diagram;
# below it the rows, wrong answers first. Taken by headless Chromium
# (Debian's ``chromium`` package) where it is installed.
chromium = shutil.which("chromium")
if chromium:
    screenshot = folder / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,1400",
            f"--screenshot={screenshot}",
            report.index.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    figure, axis = plt.subplots(figsize=(10, 11))
    axis.imshow(Image.open(screenshot))
    axis.set_axis_off()
    figure.tight_layout()
else:
    print("chromium is not installed: open the report in a browser instead")

# %%
# The row's pictures
# ------------------
# Each scored row has the X-ray as the network saw it and a heatmap of
# where it looked for its answer (Grad-CAM, computed by a graph the ONNX
# archive holds, so without TensorFlow). The photograph is flagged as an
# outlier: its answer means nothing, and its row says so.
import json  # noqa: E402
import re  # noqa: E402

text = report.index.read_text()
data = re.search(
    r'<script id="data" type="application/json">(.*?)</script>', text, re.S
)
rows = json.loads(data[1])["rows"]
shown = [rows[0], rows[9], rows[-1]]
figure, axes = plt.subplots(1, 3, figsize=(9, 3.4))
for axis, row in zip(axes, shown):
    axis.imshow(Image.open(report.index.parent / row["seen"]), cmap="gray")
    axis.imshow(Image.open(report.index.parent / row["heat"]), alpha=0.6)
    flag = ", OUTLIER" if row["outlier"] else ""
    axis.set_title(f"{row['name'][:22]}\n{row['prediction']}{flag}", fontsize=9)
    axis.set_axis_off()
figure.tight_layout()
plt.show()
