"""Grad-CAM heatmaps point at what separates the classes."""

import numpy as np
import pytest

from sklearn_pneumo import CNNClassifier, gradcam_heatmaps, make_pneumo_pipeline

SIZE, SIDE = 32, 8


def bright_squares(n, seed):
    """Dim noise; every odd image also has a bright square somewhere."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 0.3, (n, SIZE, SIZE)).astype(np.float32)
    y = np.arange(n) % 2
    corners = rng.integers(0, SIZE - SIDE, (n, 2))
    for image, label, (row, column) in zip(images, y, corners):
        if label:
            image[row : row + SIDE, column : column + SIDE] = 1.0
    return images, y, corners


@pytest.fixture(scope="module")
def square_detector():
    images, y, _ = bright_squares(200, seed=0)
    clf = CNNClassifier(
        epochs=10,
        batch_size=16,
        model__filters=8,
        model__conv_blocks=2,
        model__dense_units=16,
        random_state=0,
    )
    return clf.fit(images.reshape(len(y), -1), y)


def test_heatmap_lights_up_the_square(square_detector):
    images, y, corners = bright_squares(40, seed=1)
    squares = images[y == 1].reshape(-1, SIZE * SIZE)
    heatmaps = gradcam_heatmaps(square_detector, squares, target=1)
    assert heatmaps.shape == (len(squares), SIZE, SIZE)
    assert heatmaps.dtype == np.float32
    assert heatmaps.min() >= 0 and heatmaps.max() <= 1
    ratios = []
    for heatmap, (row, column) in zip(heatmaps, corners[y == 1]):
        inside = np.zeros((SIZE, SIZE), dtype=bool)
        inside[row : row + SIDE, column : column + SIDE] = True
        ratios.append(heatmap[inside].mean() / heatmap[~inside].mean())
    assert np.median(ratios) > 3
    assert np.mean(np.array(ratios) > 2) >= 0.9


def test_default_target_is_the_predicted_class(square_detector):
    images, _, _ = bright_squares(6, seed=2)
    rows = images.reshape(6, -1)
    predicted = square_detector.predict(rows)
    default = gradcam_heatmaps(square_detector, rows)
    for label in (0, 1):
        chosen = predicted == label
        explicit = gradcam_heatmaps(square_detector, rows[chosen], target=label)
        np.testing.assert_allclose(default[chosen], explicit, atol=1e-6)


def test_named_layer_and_bad_arguments(square_detector):
    rows = bright_squares(2, seed=3)[0].reshape(2, -1)
    first_conv = square_detector.model_.layers[0].name
    assert gradcam_heatmaps(square_detector, rows, layer=first_conv).shape == (
        2,
        SIZE,
        SIZE,
    )
    with pytest.raises(ValueError, match="not one of the classes"):
        gradcam_heatmaps(square_detector, rows, target="PNEUMONIA")
    with pytest.raises(TypeError, match="CNNClassifier"):
        gradcam_heatmaps(object(), rows)


def test_through_a_pipeline_from_paths(xray_paths):
    paths, y = xray_paths
    pipe = make_pneumo_pipeline(
        (24, 24), epochs=1, model__filters=4, model__dense_units=8, random_state=0
    ).fit(paths, y)
    heatmaps = gradcam_heatmaps(pipe, paths[:3], target=1)
    assert heatmaps.shape == (3, 24, 24)
    assert np.isfinite(heatmaps).all()


def test_small_inputs_use_the_last_map_that_is_not_1x1(mnist):
    images, y = mnist
    rows = images.reshape(len(y), -1) / 255
    clf = CNNClassifier(epochs=3, model__filters=8, random_state=0).fit(rows, y)
    maps = [
        (layer.name, tuple(layer.output.shape[1:3]))
        for layer in clf.model_.layers
        if len(layer.output.shape) == 4
    ]
    assert maps[-1][1] == (1, 1)  # the paper's network at 28x28
    name, shape = [(n, s) for n, s in maps if min(s) >= 2][-1]
    assert shape == (3, 3)
    default = gradcam_heatmaps(clf, rows[:4])
    assert default.shape == (4, 28, 28)
    np.testing.assert_array_equal(default, gradcam_heatmaps(clf, rows[:4], layer=name))


def test_a_loaded_model_gives_the_same_heatmaps(tmp_path):
    from sklearn_pneumo import load_model, save_model

    X = np.random.default_rng(0).random((20, 256), dtype=np.float32)
    clf = CNNClassifier(epochs=1, model__filters=4, random_state=0)
    clf.fit(X, np.repeat([0, 1], 10))
    save_model(clf, tmp_path / "model.pneumo")
    loaded = load_model(tmp_path / "model.pneumo")
    np.testing.assert_array_equal(
        gradcam_heatmaps(loaded, X[:3]), gradcam_heatmaps(clf, X[:3])
    )


def test_an_ensemble_averages_its_members_heatmaps(xray_paths):
    from sklearn_pneumo import gradcam_heatmaps, make_pneumo_ensemble
    from sklearn_pneumo.plot import plot_gradcam

    paths, y = xray_paths
    pipe = make_pneumo_ensemble(
        2, (32, 32), preset="paper", epochs=1, model__filters=4, random_state=0
    ).fit(paths, y)
    heatmaps = gradcam_heatmaps(pipe, paths[:3], target=1)
    assert heatmaps.shape == (3, 32, 32) and heatmaps.max() <= 1
    members = [
        gradcam_heatmaps(member[-1], pipe[:-1].transform(paths[:3]), target=1)
        for member in pipe[-1].estimators_
    ]
    mean = np.mean(members, axis=0)
    peaks = mean.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(heatmaps, mean / peaks, atol=1e-5)
    assert len(plot_gradcam(pipe, paths[:2]).axes) >= 2
