"""
=======================================
The paper's data figures
=======================================

The thesis shows its data three ways before training: sample X-rays of each
class, the pixel-intensity histogram of one X-ray, and the number of images
per class (the imbalance that over- or under-sampling corrects). All three
from the bundled data.

Run: ``python examples/plot_data_figures.py`` (a few seconds; needs the
``plot`` extra). Pass ``--out FOLDER`` to save the figures as PNG files.
"""

# %%
import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sklearn_pneumo.datasets import load_chest_xray_sample, load_pneumoniamnist
from sklearn_pneumo.plot import (
    plot_class_counts,
    plot_intensity_histogram,
    plot_sample_grid,
)

parser = argparse.ArgumentParser()
parser.add_argument("--out", type=Path)
args, _ = parser.parse_known_args()

paths, y = load_chest_xray_sample()
names = np.where(y == 1, "PNEUMONIA", "NORMAL")
_, y_train = load_pneumoniamnist("train", return_X_y=True)

# %%
# Sample X-rays per class, full size (bundled JPEGs)
grid = plot_sample_grid(paths, names, per_class=2, random_state=0)

# %%
# One X-ray and the histogram of its intensities
histogram = plot_intensity_histogram(paths[0])

# %%
# Images per class in the PneumoniaMNIST training split
counts = plot_class_counts(np.where(y_train == 1, "PNEUMONIA", "NORMAL"))

if args.out:
    args.out.mkdir(parents=True, exist_ok=True)
    figures = {"samples": grid, "histogram": histogram, "counts": counts}
    for name, figure in figures.items():
        figure.savefig(args.out / f"{name}.png", dpi=80, bbox_inches="tight")
plt.show()
