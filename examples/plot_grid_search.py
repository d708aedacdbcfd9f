"""
=========================================
Grid search over epochs and conv filters
=========================================

The whole pipeline is one scikit-learn estimator, so ``GridSearchCV`` tunes
the network's training and architecture together. ``memory=`` caches the
preprocessing: each training fold is resized once, not once per candidate.

Run: ``python examples/plot_grid_search.py`` (about 2 minutes on 2 cores).
"""

# %%
from tempfile import TemporaryDirectory

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_pneumo import make_pneumo_pipeline
from sklearn_pneumo.datasets import load_pneumoniamnist

images, y = load_pneumoniamnist("train", return_X_y=True)
rows = np.random.default_rng(0).choice(len(y), 1000, replace=False)
images, y = images[rows], y[rows]

# %%
# Search with a cache of the preprocessing steps
# ----------------------------------------------
with TemporaryDirectory() as cache:
    pipe = make_pneumo_pipeline(
        (28, 28), input="images", memory=cache, random_state=0, batch_size=64
    )
    search = GridSearchCV(
        pipe,
        {"cnn__epochs": [3, 6], "cnn__model__filters": [16, 32]},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        scoring="roc_auc",
    ).fit(images, y)

# %%
# Results
# -------
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"]
):
    print(params, f"ROC AUC {score:.3f}")
print("best:", search.best_params_)

# %%
# Scores over the grid
# --------------------
import matplotlib.pyplot as plt

results = search.cv_results_
fig, ax = plt.subplots(figsize=(5, 3.5))
for filters in (16, 32):
    chosen = [p["cnn__model__filters"] == filters for p in results["params"]]
    epochs = [p["cnn__epochs"] for p, c in zip(results["params"], chosen) if c]
    ax.errorbar(
        epochs,
        results["mean_test_score"][chosen],
        yerr=results["std_test_score"][chosen],
        marker="o",
        capsize=3,
        label=f"{filters} filters",
    )
ax.set(xlabel="epochs", ylabel="ROC AUC (3 folds)", title="Grid search")
ax.legend()
fig.tight_layout()
