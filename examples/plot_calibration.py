"""
=====================================================
Probabilities that mean what they say: calibration
=====================================================

A probability of 0.8 should be right four times in five. A network trained
with class weights, early stopping and augmentation need not be: its
probabilities can be too sure or too timid. The reliability diagram shows
it (scikit-learn's ``CalibrationDisplay``: observed share of pneumonia
against the predicted probability, by bins), and the expected calibration
error (:func:`~sklearn_pneumo.expected_calibration_error`) sums it up.

Calibrating is scikit-learn's own step: ``CalibratedClassifierCV`` around
the fitted pipeline, frozen (``FrozenEstimator``), fitted on X-rays of
patients the network never saw. ``method="sigmoid"`` (Platt) learns a
scale and a shift of the network's log-odds, ``"temperature"`` only a
scale; both keep the ranking, hence ROC AUC. A network trained with class
weights (the ``tuned`` preset) has its log-odds shifted, which only the
sigmoid undoes. The calibrated model saves and loads with
:func:`~sklearn_pneumo.save_model` like any model of this package.

Run: ``python examples/plot_calibration.py`` (about a minute on 2 cores).
"""

# %%
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import StratifiedGroupKFold

from sklearn_pneumo import expected_calibration_error, make_pneumo_pipeline
from sklearn_pneumo.datasets import load_chest_xray_224

paths, y, groups = load_chest_xray_224(return_groups=True)
# Three parts, no patient in two of them: half of the X-rays train, a
# quarter calibrates, a quarter tests.
folds = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=0)
part = np.empty(len(y), dtype=int)
for i, (_, members) in enumerate(folds.split(paths, y, groups)):
    part[members] = i
train, calibration, test = part >= 2, part == 1, part == 0
pipe = make_pneumo_pipeline(
    (64, 64), preset="tuned", epochs=15, model__filters=16, random_state=0
)
pipe.fit(paths[train], y[train], cnn__groups=groups[train])

models = {"network": pipe}
for method in ("sigmoid", "temperature"):
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipe), method=method)
    models[method] = calibrated.fit(paths[calibration], y[calibration])
for name, model in models.items():
    proba = model.predict_proba(paths[test])[:, 1]
    ece = expected_calibration_error(y[test], proba, n_bins=10)
    print(f"{name:<12} expected calibration error {ece:.3f}")

# %%
# The reliability diagram
# -----------------------
# Points on the diagonal are calibrated; below it, too sure of pneumonia.
# With 50 X-rays to calibrate on and 50 to test, this is a sketch, not a
# measure: here the small network happens to start close to calibrated and
# the fitted maps move it away. Calibrate on hundreds of X-rays of your own
# site: ``benchmarks/bench_calibration.py``, with 1,044 to calibrate on and
# 1,043 to test, measured 0.156 uncalibrated, 0.031 with the sigmoid and
# 0.124 with temperature scaling.
import matplotlib.pyplot as plt
from sklearn.calibration import CalibrationDisplay

fig, ax = plt.subplots(figsize=(4.5, 4.5))
for name, model in models.items():
    CalibrationDisplay.from_estimator(
        model, paths[test], y[test], n_bins=5, name=name, ax=ax
    )
ax.set(xlabel="predicted probability of pneumonia", ylabel="share with pneumonia")
fig.tight_layout()
