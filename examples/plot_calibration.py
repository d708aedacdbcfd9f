"""
=====================================================
Probabilities that mean what they say: calibration
=====================================================

A probability of 0.8 should be right four times in five. A network can
be sure of itself on its own kind of X-rays and still sure, but wrong, on
another site's. The reliability diagram shows it (scikit-learn's
``CalibrationDisplay``: observed share of pneumonia against the predicted
probability, by bins), and the expected calibration error
(:func:`~sklearn_pneumo.expected_calibration_error`) sums it up.

Here the shipped model, trained for 40 epochs on 5,216 X-rays, meets the
bundled X-rays as a site whose exports are brighter (gamma 0.5, a common
difference between detectors' look-up tables): it calls many normal
X-rays pneumonia, with confidence.

Calibrating is scikit-learn's own step: ``CalibratedClassifierCV`` around
the fitted model, frozen (``FrozenEstimator``), fitted on labelled X-rays
of the site, of patients other than those it is tested on.
``method="sigmoid"`` (Platt) learns a scale and a shift of the network's
log-odds, ``"temperature"`` only a scale; both keep the ranking, hence ROC
AUC, and only the sigmoid undoes a shift. The calibrated model saves and
loads with :func:`~sklearn_pneumo.save_model` like any model of this
package.

Run: ``python examples/plot_calibration.py`` (about a minute on 2 cores).
"""

# %%
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import StratifiedGroupKFold

from sklearn_pneumo import ImageLoader, expected_calibration_error, load_pretrained
from sklearn_pneumo.datasets import load_chest_xray_224

paths, y, groups = load_chest_xray_224(return_groups=True)
# The site's X-rays: decoded, brightened, then given to the model as images.
images = [(image / 255.0) ** 0.5 for image in ImageLoader().transform(paths)]
# Two halves, no patient in both: one calibrates, the other tests.
halves = StratifiedGroupKFold(n_splits=2, shuffle=True, random_state=0)
calibration, test = next(halves.split(paths, y, groups))
site = {
    "calibration": [images[i] for i in calibration],
    "test": [images[i] for i in test],
}
model = load_pretrained(input="images")

models = {"network": model}
methods = ["sigmoid", "temperature"]
for method in methods:
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method=method)
    models[method] = calibrated.fit(site["calibration"], y[calibration])
for name, fitted in models.items():
    proba = fitted.predict_proba(site["test"])[:, 1]
    ece = expected_calibration_error(y[test], proba, n_bins=10)
    accuracy = np.mean((proba >= 0.5) == y[test])
    print(f"{name:<12} accuracy {accuracy:.3f}, expected calibration error {ece:.3f}")

# %%
# The reliability diagram
# -----------------------
# Points on the diagonal are calibrated; below it, too sure of pneumonia.
# With 100 X-rays to calibrate on and 100 to test, this is a sketch, not a
# measure: calibrate on hundreds of X-rays of your own site.
# ``benchmarks/bench_calibration.py``, with 1,044 to calibrate on and 1,043
# to test, measured 0.156 uncalibrated, 0.031 with the sigmoid and 0.124
# with temperature scaling.
import matplotlib.pyplot as plt
from sklearn.calibration import CalibrationDisplay

fig, ax = plt.subplots(figsize=(4.5, 4.5))
for name, fitted in models.items():
    CalibrationDisplay.from_estimator(
        fitted, site["test"], y[test], n_bins=5, name=name, ax=ax
    )
ax.set(xlabel="predicted probability of pneumonia", ylabel="share with pneumonia")
fig.tight_layout()
