"""
=================================================
At a new site: adapt to its share of pneumonia
=================================================

An outpatient clinic sees less pneumonia than the ward whose X-rays trained
the model, and a model's probabilities carry the shares it learned from.
:class:`~sklearn_pneumo.PriorShiftAdapter` estimates the site's shares from
the model's own answers on the site's X-rays, no label needed, and moves
every probability to them (the user guide's "At a new site").

Adapting starts from what the model learned on held-out X-rays at its own
fit: the shares its probabilities reflect (``source_priors_``), their
calibration, and its scores per class, against which the adapter tests
whether the site differs by more than its shares. A network fitted with
``validation_split`` keeps them; the shipped models carry theirs.

Here a network of the ``tuned`` preset (which holds out 10 %) is trained on
the bundled PneumoniaMNIST training split, 74 % pneumonia. The site is its
validation split, which the network never saw, drawn down to one X-ray in
five with pneumonia, and cut in two: the adapter is fitted on one half,
unlabeled, and the other half is scored as the model answers and as
adapted. The labels only score.

A site of 80 X-rays gives a noisy estimate, so by default the adapter
keeps it near the learned shares, as if 20 X-rays of those had been seen
too (``prior_strength=20``): its interval is that leaning estimate's, and
may miss the site's true share. ``prior_strength=0`` is plain EM, which
follows the site's share more closely, at a cost where the site's shares
are close to the model's (the user guide's "At a new site").

Run: ``python examples/plot_new_site.py`` (under a minute on 2 cores).
"""

# %%
import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from sklearn_pneumo import (
    PriorShiftAdapter,
    expected_calibration_error,
    make_pneumo_pipeline,
)
from sklearn_pneumo.datasets import load_pneumoniamnist

images, y = load_pneumoniamnist("train", return_X_y=True)
model = make_pneumo_pipeline(
    (28, 28), input="images", preset="tuned", epochs=15, random_state=0
).fit(images, y)
print("shares the model learned:", model[-1].source_priors_.round(3))

# The site: every normal X-ray of the validation split, a quarter as many
# with pneumonia, in two halves.
site_images, site_y = load_pneumoniamnist("val", return_X_y=True)
rng = np.random.default_rng(0)
normal = np.flatnonzero(site_y == 0)
sick = rng.choice(np.flatnonzero(site_y == 1), len(normal) // 4, replace=False)
site = rng.permutation(np.concatenate([normal, sick]))
unlabeled, scored = site[::2], site[1::2]

adapters = {
    "adapted": PriorShiftAdapter(model, random_state=0),
    "adapted, plain EM": PriorShiftAdapter(model, prior_strength=0, random_state=0),
}
for name, adapter in adapters.items():
    adapter.fit(site_images[unlabeled])
    low, high = adapter.priors_interval_[:, 1]
    print(  # the site's share of pneumonia, with its 95 % interval
        f"{name}: pneumonia {adapter.priors_[1]:.3f} ({low:.3f} to {high:.3f}), "
        f"true {site_y[unlabeled].mean():.3f}; from {adapter.n_samples_} X-rays, "
        f"{adapter.n_outliers_} flagged"
    )
adapter = adapters["adapted"]
print(
    "the site differs by more than its shares:",
    adapter.differs_beyond_shares,
    f"(mixture check p = {adapter.label_shift_p_value_:.2g})",
)
answers = {}
for name, fitted in {"as the model answers": model, **adapters}.items():
    proba = fitted.predict_proba(site_images[scored])[:, 1]
    answers[name] = proba
    predicted = (proba >= 0.5).astype(int)
    print(
        f"{name:<21} accuracy {accuracy_score(site_y[scored], predicted):.3f}, "
        f"balanced {balanced_accuracy_score(site_y[scored], predicted):.3f}, "
        f"ECE {expected_calibration_error(site_y[scored], proba):.3f}"
    )

# %%
# Where the answers move
# ----------------------
# Each X-ray of the scored half, its probability of pneumonia as the model
# answers against as adapted. The site holds fewer pneumonia X-rays than
# the model learned from, so every probability moves down, the most where
# the model was least sure; those that cross 0.5 change their answer.
# Accuracy and calibration gain at the site's shares, while balanced
# accuracy, which weighs both classes alike whatever their shares, falls:
# adapting trades missed pneumonia for fewer false alarms, as the site's
# shares say to. Where a missed pneumonia costs more, tune the decision on
# labelled X-rays of the site (``sklearn-pneumo calibrate --objective`` or
# ``--min-sensitivity``). ``benchmarks/bench_prior_shift.py`` measures
# adapting on the shipped models at shares of pneumonia from 0.2 to 0.8.
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(4.5, 4.5))
for label, name, color in ((0, "normal", "C0"), (1, "pneumonia", "C3")):
    kept = site_y[scored] == label
    ax.scatter(
        answers["as the model answers"][kept],
        answers["adapted"][kept],
        s=12,
        color=color,
        label=f"{name} X-rays",
    )
ax.plot([0, 1], [0, 1], color="gray", linewidth=0.8)
ax.axhline(0.5, color="gray", linestyle=":")
ax.axvline(0.5, color="gray", linestyle=":")
ax.set(
    xlabel="P(pneumonia) as the model answers",
    ylabel="P(pneumonia) adapted to the site",
    xlim=(0, 1),
    ylim=(0, 1),
)
ax.legend(loc="upper left")
fig.tight_layout()
