"""
===========================================
Patient-grouped cross-validation on files
===========================================

The public chest X-ray dataset holds several images of many patients. When
one patient's X-rays fall on both sides of a split, the network is scored on
a patient it has already seen, and accuracy is overstated.
``load_image_folder(..., return_groups=True)`` reads each file's patient from
its name (``person12_bacteria_47.jpeg`` is patient ``person12``), and
scikit-learn's ``StratifiedGroupKFold`` keeps each patient in one fold.
Passing ``cnn__groups`` makes early stopping's hold-out grouped too.

Run: ``python examples/plot_grouped_cross_validation.py`` (about 2 minutes on
2 cores).
"""

# %%
import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, cross_validate

from sklearn_pneumo import make_pneumo_pipeline
from sklearn_pneumo.datasets import load_chest_xray_224

paths, y, groups = load_chest_xray_224(return_groups=True)
print(f"{len(paths)} X-rays of {len(set(groups))} patients")

# %%
# Grouped folds, grouped early stopping
# -------------------------------------
# The ``tuned`` preset holds out 10 % of each training fold for early
# stopping; with ``cnn__groups`` that hold-out is by patient as well.
pipe = make_pneumo_pipeline(
    (64, 64), preset="tuned", epochs=15, model__filters=16, random_state=0
)
cv = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=0)
scores = cross_validate(
    pipe,
    paths,
    y,
    groups=groups,
    cv=cv,
    scoring=["accuracy", "roc_auc"],
    params={"cnn__groups": groups},
    return_indices=True,
)
for train, test in zip(scores["indices"]["train"], scores["indices"]["test"]):
    assert not set(groups[train]) & set(groups[test])  # no patient on both sides
print(f"accuracy {np.mean(scores['test_accuracy']):.3f}")
print(f"ROC AUC  {np.mean(scores['test_roc_auc']):.3f}")

# %%
# Scores of each fold
# -------------------
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 3.5))
folds = np.arange(1, len(scores["test_accuracy"]) + 1)
ax.bar(folds - 0.2, scores["test_accuracy"], width=0.4, label="accuracy")
ax.bar(folds + 0.2, scores["test_roc_auc"], width=0.4, label="ROC AUC")
ax.set(xlabel="fold (no patient on both sides)", ylim=(0, 1), xticks=folds)
ax.legend(loc="lower right")
fig.tight_layout()
