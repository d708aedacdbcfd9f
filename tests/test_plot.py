"""Figures: training curves, data, Grad-CAM overlays and scikit-learn Displays."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay  # noqa: E402

from sklearn_pneumo import make_pneumo_pipeline  # noqa: E402
from sklearn_pneumo.plot import (  # noqa: E402
    plot_class_counts,
    plot_gradcam,
    plot_intensity_histogram,
    plot_sample_grid,
    plot_training_history,
)

EPOCHS = 3


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted(xray_paths):
    paths, y = xray_paths
    pipe = make_pneumo_pipeline(
        (24, 24),
        epochs=EPOCHS,
        validation_split=0.25,
        model__filters=4,
        model__dense_units=8,
        random_state=0,
    )
    return pipe.fit(paths, y)


def test_training_history_has_train_and_validation_curves(fitted, tmp_path):
    figure = plot_training_history(fitted)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "accuracy"]
    history = fitted.named_steps["cnn"].history_
    for ax in figure.axes:
        train, validation = ax.get_lines()
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "train",
            "validation",
        ]
        metric = ax.get_title()
        np.testing.assert_allclose(train.get_ydata(), history[metric])
        np.testing.assert_allclose(validation.get_ydata(), history[f"val_{metric}"])
        assert list(train.get_xdata()) == list(range(1, EPOCHS + 1))
    figure.savefig(tmp_path / "history.png")
    assert (tmp_path / "history.png").stat().st_size > 0


def test_training_history_names_a_missing_metric(fitted):
    with pytest.raises(ValueError, match="auc"):
        plot_training_history(fitted, metrics=["auc"])


def test_sample_grid_of_real_xrays(xray_paths):
    paths, y = xray_paths
    names = np.where(y == 1, "PNEUMONIA", "NORMAL")
    figure = plot_sample_grid(paths, names, per_class=3, random_state=0)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["NORMAL"] * 3 + ["PNEUMONIA"] * 3
    for ax in figure.axes:
        (image,) = ax.get_images()
        assert image.get_array().ndim == 2
    with pytest.raises(ValueError, match="labels"):
        plot_sample_grid(paths, y[:-1])


def test_intensity_histogram_counts_every_pixel():
    image = np.zeros((10, 20), dtype=np.uint8)
    image[:, :5] = 255
    figure = plot_intensity_histogram(image, bins=4)
    counts = [bar.get_height() for bar in figure.axes[1].patches]
    assert counts == [150, 0, 0, 50]


def test_class_counts():
    figure = plot_class_counts(np.array([0, 1, 1, 1]))
    ax = figure.axes[0]
    assert [int(bar.get_height()) for bar in ax.patches] == [1, 3]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["NORMAL", "PNEUMONIA"]
    figure = plot_class_counts(np.array(["a", "b", "b"]))
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["a", "b"]


def test_given_axes_are_used():
    figure, axes = plt.subplots(1, 2)
    assert plot_intensity_histogram(np.eye(4), axes=axes) is figure
    with pytest.raises(ValueError, match="Need 2 axes"):
        plot_intensity_histogram(np.eye(4), axes=axes[:1])


def test_gradcam_overlay_on_real_xrays(fitted, xray_paths):
    paths, _ = xray_paths
    figure = plot_gradcam(fitted, paths[:5], ncols=3)
    assert len(figure.axes) == 6  # 2 rows of 3, the last one blank
    proba = fitted.predict_proba(paths[:5])
    names = ["NORMAL", "PNEUMONIA"]  # the labels 0 and 1
    for ax, p in zip(figure.axes, proba):
        gray, heatmap = ax.get_images()
        assert gray.get_array().shape == heatmap.get_array().shape == (24, 24)
        assert ax.get_title() == f"{names[p.argmax()]} {p.max():.2f}"
    figure = plot_gradcam(fitted, paths[:2], class_names=["healthy", "sick"])
    assert {ax.get_title().split()[0] for ax in figure.axes} <= {"healthy", "sick"}


def test_scikit_learn_displays_on_the_pipeline(fitted, xray_paths):
    paths, y = xray_paths
    matrix = ConfusionMatrixDisplay.from_estimator(fitted, paths, y)
    assert matrix.confusion_matrix.sum() == len(y)
    roc = RocCurveDisplay.from_estimator(fitted, paths, y)
    assert 0 <= roc.roc_auc <= 1


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"sklearn-pneumo\[plot\]"):
        plot_class_counts([0, 1])
