"""
============================================================
Training curves, confusion matrix, ROC curve and Grad-CAM
============================================================

Train the paper's network on the bundled PneumoniaMNIST training split, with
a validation hold-out to draw the training curves (the thesis' TensorBoard
figures), then evaluate on the validation split with scikit-learn's own
``ConfusionMatrixDisplay`` and ``RocCurveDisplay``, and look at where the
network looked with Grad-CAM.

The images are upsampled from 28x28 to 56x56 and the network has three
convolutions instead of four, so that its last feature map is 10x10 and the
heatmaps have some detail (at 28x28 the paper's network ends on a 3x3 map).

Run: ``python examples/plot_training_and_gradcam.py`` (about 3 minutes on 2
cores; needs the ``plot`` extra). Pass ``--out FOLDER`` to save the figures.
"""

# %%
import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

from sklearn_pneumo import make_pneumo_pipeline
from sklearn_pneumo.datasets import load_pneumoniamnist
from sklearn_pneumo.plot import plot_gradcam, plot_training_history

parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path)
args, _ = parser.parse_known_args()

X_train, y_train = load_pneumoniamnist("train", return_X_y=True)
X_val, y_val = load_pneumoniamnist("val", return_X_y=True)

# %%
# Train, holding out 10 % of the training data for the validation curves
pipe = make_pneumo_pipeline(
    (56, 56),
    input="images",
    epochs=8,
    validation_split=0.1,
    model__conv_blocks=3,
    random_state=0,
).fit(X_train, y_train)
curves = plot_training_history(pipe)

# %%
# scikit-learn's Displays work on the fitted pipeline as they are
figure, (left, right) = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
ConfusionMatrixDisplay.from_estimator(
    pipe, X_val, y_val, display_labels=["NORMAL", "PNEUMONIA"], ax=left
)
RocCurveDisplay.from_estimator(pipe, X_val, y_val, ax=right)

# %%
# Grad-CAM: where the network found evidence of pneumonia
rng = np.random.default_rng(0)
shown = np.concatenate(
    [rng.choice(np.flatnonzero(y_val == label), 4, replace=False) for label in (0, 1)]
)
gradcam = plot_gradcam(pipe, X_val[shown], target=1, ncols=4)
gradcam.suptitle("Grad-CAM for PNEUMONIA; top row NORMAL, bottom row PNEUMONIA")

if args.out:
    args.out.mkdir(parents=True, exist_ok=True)
    for name, fig in [("curves", curves), ("displays", figure), ("gradcam", gradcam)]:
        fig.savefig(args.out / f"{name}.png", dpi=80, bbox_inches="tight")
plt.show()
