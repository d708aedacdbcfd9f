"""
==============================
Save a fitted model, load it
==============================

A fitted pipeline from file paths to probabilities is saved and loaded again,
first with ``save_model``/``load_model`` (a format whose loading runs no code
from the file: share models this way), then with joblib (loading a joblib or
pickle file runs code: only load files you trust). Either way the loaded model
predicts exactly as the original.

Run: ``python examples/plot_save_load.py`` (under a minute).
"""

# %%
from pathlib import Path
from tempfile import TemporaryDirectory

import joblib
import numpy as np

from sklearn_pneumo import load_model, make_pneumo_pipeline, predict_files, save_model
from sklearn_pneumo.datasets import load_chest_xray_sample

paths, y = load_chest_xray_sample()
pipe = make_pneumo_pipeline((64, 64), epochs=2, random_state=0).fit(paths, y)
before = pipe.predict_proba(paths)[:, 1]

# %%
# Round trip
# ----------
with TemporaryDirectory() as folder:
    safe_file = Path(folder) / "pneumo.model"
    save_model(pipe, safe_file)
    loaded = load_model(safe_file)
    same = np.array_equal(loaded.predict_proba(paths), pipe.predict_proba(paths))
    print(f"save_model: {safe_file.stat().st_size / 1e6:.1f} MB; identical: {same}")

    model_file = Path(folder) / "pneumo.joblib"
    joblib.dump(pipe, model_file)
    loaded = joblib.load(model_file)
    same = np.array_equal(loaded.predict_proba(paths), pipe.predict_proba(paths))
    print(
        f"saved {model_file.stat().st_size / 1e6:.1f} MB; identical predictions: {same}"
    )

    # %%
    # Score many files in batches, writing a CSV as it goes
    # -----------------------------------------------------
    predict_files(loaded, paths, Path(folder) / "predictions.csv", batch_size=2)
    print((Path(folder) / "predictions.csv").read_text())
    after = loaded.predict_proba(paths)[:, 1]

# %%
# Predictions before and after the round trip
# -------------------------------------------
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(4, 4))
ax.scatter(before, after)
ax.plot([0, 1], [0, 1], color="gray", linestyle="--")
ax.set(
    xlabel="P(pneumonia), fitted",
    ylabel="P(pneumonia), loaded",
    title="The loaded model predicts the same",
)
fig.tight_layout()
