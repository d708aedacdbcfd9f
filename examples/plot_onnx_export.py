"""
Scoring without TensorFlow: the shipped model in ONNX
======================================================

:func:`~sklearn_pneumo.export_onnx` writes a fitted model (here the shipped
one: a network, five test-time views, border trimming, an outlier model) to one
archive of ONNX graphs and settings; :func:`~sklearn_pneumo.load_onnx`
scores it with ONNX Runtime. We compare its answers with the Keras model's,
then score the same files in a Python where importing TensorFlow fails.
"""

# %%
# Export, and compare with Keras
# ------------------------------
import tempfile
import time
from pathlib import Path

import numpy as np

from sklearn_pneumo import export_onnx, load_onnx, load_pretrained
from sklearn_pneumo.datasets import load_chest_xray_sample

paths, y = load_chest_xray_sample()
model = load_pretrained()
archive = Path(tempfile.mkdtemp()) / "pneumo.onnx.zip"
export_onnx(model, archive)
scorer = load_onnx(archive)
print(scorer)
print(f"archive: {archive.stat().st_size / 1e6:.1f} MB")

start = time.perf_counter()
keras_result = model.assess(paths)
keras_seconds = time.perf_counter() - start
start = time.perf_counter()
onnx_result = scorer.assess(paths)
onnx_seconds = time.perf_counter() - start
print(
    "largest difference in probability: "
    f"{np.abs(onnx_result.proba - keras_result.proba).max():.1e}; "
    f"same outlier flags: {np.array_equal(onnx_result.outlier, keras_result.outlier)}"
)
print(f"16 X-rays: Keras {keras_seconds:.2f} s, ONNX Runtime {onnx_seconds:.2f} s")

# %%
# The probabilities side by side
# -------------------------------
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(keras_result.proba[:, 1], "o", label="Keras", markersize=9)
ax.plot(onnx_result.proba[:, 1], "x", label="ONNX Runtime", color="k")
ax.set(xlabel="sample X-ray", ylabel="P(pneumonia)", ylim=(0, 1))
ax.legend()
fig.tight_layout()

# %%
# Where TensorFlow cannot be imported
# -----------------------------------
# A new Python that refuses to import TensorFlow, Keras and scikeras reads
# the archive and writes the CSV that ``sklearn-pneumo predict`` writes.
import subprocess
import sys

script = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"tensorflow", "keras", "scikeras"}:
            raise ImportError(name + " is refused here")
sys.meta_path.insert(0, Refuse())
from sklearn_pneumo import load_onnx, predict_files
summary = predict_files(load_onnx(sys.argv[1]), sys.argv[3:], sys.argv[2])
print(f"{summary.n_files} X-rays scored, {summary.n_outliers} flagged;",
      "TensorFlow imported:", "tensorflow" in sys.modules)
"""
csv_file = archive.with_name("scores.csv")
run = subprocess.run(
    [sys.executable, "-c", script, archive, csv_file, *paths],
    capture_output=True,
    text=True,
    check=True,
)
print(run.stdout.strip())
header, first = csv_file.read_text().splitlines()[:2]
print(dict(zip(header.split(",")[1:], first.split(",")[1:])))
