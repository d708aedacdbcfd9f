"""
===================================
Reproduce the paper's experiment
===================================

Train the paper's CNN on the bundled PneumoniaMNIST training split, balanced by
random over-sampling, and evaluate it on the validation split: accuracy,
sensitivity, specificity, ROC AUC and the confusion matrix, as the thesis
reports them. PneumoniaMNIST holds the same X-rays as the paper, at 28x28.

Run: ``python examples/plot_paper_reproduction.py`` (about 1 minute on 2 cores).
"""

# %%
# Load the bundled data
# ---------------------
import numpy as np

from sklearn_pneumo import evaluate_binary, format_report, make_pneumo_pipeline
from sklearn_pneumo.datasets import load_pneumoniamnist

X_train, y_train = load_pneumoniamnist("train", return_X_y=True)
X_val, y_val = load_pneumoniamnist("val", return_X_y=True)
print(f"train: {len(y_train)} images, {np.bincount(y_train)} normal/pneumonia")

# %%
# The paper's pipeline
# --------------------
# The images are already decoded arrays, so the ``load`` step is skipped.
pipe = make_pneumo_pipeline(
    image_size=(28, 28),
    sampler="over",
    input="images",
    epochs=10,
    validation_split=0.1,  # for the training curves below
    random_state=0,
)
pipe.fit(X_train, y_train)

# %%
# Held-out evaluation
# -------------------
scores = evaluate_binary(y_val, pipe.predict_proba(X_val)[:, 1])
print(format_report(scores))

# %%
# Training curves and confusion matrix
# ------------------------------------
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay

from sklearn_pneumo.plot import plot_training_history

plot_training_history(pipe)
ConfusionMatrixDisplay.from_estimator(
    pipe, X_val, y_val, display_labels=["NORMAL", "PNEUMONIA"]
)
plt.show()
