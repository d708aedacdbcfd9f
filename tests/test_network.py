import numpy as np
import pytest

from sklearn_pneumo import build_cnn

PAPER_SHAPES = [
    (148, 148, 64),
    (74, 74, 64),
    (72, 72, 64),
    (36, 36, 64),
    (34, 34, 64),
    (17, 17, 64),
    (15, 15, 64),
    (14400,),
    (64,),
    (2,),
]
PAPER_PARAMS = [640, 0, 36928, 0, 36928, 0, 36928, 0, 921664, 130]


def test_defaults_are_the_paper_network():
    model = build_cnn()
    assert model.count_params() == 1_033_218
    assert [layer.output.shape[1:] for layer in model.layers] == PAPER_SHAPES
    assert [layer.count_params() for layer in model.layers] == PAPER_PARAMS
    assert model.layers[-1].activation.__name__ == "softmax"


@pytest.mark.parametrize("side", [4, 8, 28, 48])
def test_small_inputs_still_build(side):
    model = build_cnn(input_shape=(side, side, 1))
    assert model.output_shape == (None, 2)
    assert len([layer for layer in model.layers if "conv" in layer.name]) == 4


def test_arguments_shape_the_network():
    model = build_cnn(
        input_shape=(32, 24, 1),
        n_classes=3,
        filters=8,
        conv_blocks=2,
        dense_units=16,
        kernel_size=5,
    )
    convs = [layer for layer in model.layers if "conv" in layer.name]
    assert len(convs) == 2 and convs[0].filters == 8
    assert convs[0].kernel_size == (5, 5)
    assert model.output_shape == (None, 3)


def test_meta_from_scikeras_overrides_shape():
    model = build_cnn({"image_size_": (20, 30), "n_classes_": 4})
    assert model.input_shape == (None, 20, 30, 1)
    assert model.output_shape == (None, 4)


def test_regularisation_and_augmentation_options():
    model = build_cnn(
        input_shape=(28, 28, 1),
        batch_norm=True,
        dropout=0.3,
        rotation=0.03,
        shift=0.05,
        zoom=0.1,
        stretch=0.2,
        contrast=0.1,
        brightness=0.1,
    )
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds[:6] == [
        "RandomZoom",
        "RandomRotation",
        "RandomTranslation",
        "RandomZoom",
        "RandomContrast",
        "RandomBrightness",
    ]
    assert kinds.count("FusedBatchNormalization") == 4 and kinds.count("Dropout") == 2
    assert "RandomFlip" not in kinds


def test_batch_norm_statistics_reach_the_inputs_within_a_hundred_steps():
    # The first convolution's outputs of smooth X-ray-like images vary far
    # less than the initial moving variance of 1. After 100 steps the moving
    # variance keeps 0.99 ** 100 = 0.37 of it at Keras' momentum, and
    # 0.9 ** 100 = 3e-5 at the network's default.
    import keras
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    noise = rng.normal(size=(80, 16, 16, 1))
    x = (0.5 + gaussian_filter(noise, (0, 2, 2, 0))).astype(np.float32)
    y = (x[:, :8].mean(axis=(1, 2, 3)) > x[:, 8:].mean(axis=(1, 2, 3))).astype(int)
    keras.utils.set_random_seed(0)
    model = build_cnn(
        input_shape=(16, 16, 1), filters=4, dense_units=4, batch_norm=True
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=10, verbose=0)  # 100 steps
    norm = next(layer for layer in model.layers if "batch_norm" in layer.name)
    first_conv = keras.Model(model.inputs[0], model.layers[0].output)
    variance = first_conv(x).numpy().reshape(-1, 4).var(axis=0)
    assert norm.momentum == 0.9
    np.testing.assert_allclose(norm.moving_variance.numpy(), variance, rtol=0.5)


def test_augmentation_acts_only_in_training():
    model = build_cnn(input_shape=(16, 16, 1), rotation=0.1, shift=0.2)
    x = np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)
    augment = model.layers[0]
    np.testing.assert_array_equal(augment(x, training=False), x)
    assert not np.array_equal(augment(x, training=True), x)


@pytest.mark.parametrize("fill_mode, black", [("nearest", False), ("constant", True)])
def test_rotation_fill_mode_sets_what_rotation_brings_in(fill_mode, black):
    model = build_cnn(
        input_shape=(16, 16, 1), rotation=0.125, rotation_fill_mode=fill_mode
    )
    rotated = model.layers[0](np.ones((8, 16, 16, 1), np.float32), training=True)
    corners = np.asarray(rotated)[:, [0, 0, -1, -1], [0, -1, 0, -1], 0]
    assert (corners < 0.5).any() == black
    # Stretches, shifts and zooms repeat the edge, as another framing would.
    model = build_cnn(
        input_shape=(16, 16, 1),
        stretch=0.5,
        shift=0.3,
        zoom=0.5,
        rotation=0.1,
        rotation_fill_mode=fill_mode,
    )
    modes = {type(layer).__name__: layer.fill_mode for layer in model.layers[:4]}
    assert modes == {
        "RandomZoom": "nearest",
        "RandomRotation": fill_mode,
        "RandomTranslation": "nearest",
    }
    framed = model.layers[0](np.ones((8, 16, 16, 1), np.float32), training=True)
    assert (np.asarray(framed) > 0.5).all()


def test_mixed_precision_keeps_a_float32_output():
    model = build_cnn(input_shape=(28, 28, 1), dtype_policy="mixed_bfloat16")
    assert model.layers[0].compute_dtype == "bfloat16"
    assert model.layers[-1].compute_dtype == "float32"
    assert model.count_params() == build_cnn(input_shape=(28, 28, 1)).count_params()


def test_stretch_zooms_height_and_width_on_their_own():
    augment = build_cnn(input_shape=(40, 40, 1), stretch=0.25).layers[0]
    assert augment.name == "stretch"
    x = np.zeros((32, 40, 40, 1), dtype=np.float32)
    x[:, 10:30, 10:30] = 1.0  # a bright 20x20 square
    out = np.asarray(augment(x, training=True))[..., 0] > 0.5
    heights = out.any(axis=2).sum(axis=1)
    widths = out.any(axis=1).sum(axis=1)
    for sides in (heights, widths):
        assert sides.min() < 20 < sides.max()
        assert set(sides) <= set(range(15, 28))
    assert (heights != widths).mean() > 0.5  # the aspect ratio changes
    np.testing.assert_array_equal(augment(x, training=False), x)


def test_brightness_shifts_whole_images_in_training_only():
    augment = build_cnn(input_shape=(8, 8, 1), brightness=0.2).layers[0]
    x = np.full((64, 8, 8, 1), 0.5, dtype=np.float32)
    shift = np.asarray(augment(x, training=True))[..., 0] - 0.5
    per_image = shift.reshape(64, -1)
    assert np.ptp(per_image, axis=1).max() < 1e-6  # one shift per image
    assert per_image.min() < -0.05 and per_image.max() > 0.05
    assert np.abs(per_image).max() <= 0.2 + 1e-6
    np.testing.assert_array_equal(augment(x, training=False), x)


def test_the_network_does_not_depend_on_other_draws_from_python_random():
    import random

    from sklearn_pneumo._seeding import keras_seed

    settings = dict(input_shape=(16, 16, 1), filters=2, dense_units=4)
    settings.update(dropout=0.3, flip=True, noise=0.01)
    with keras_seed(0):
        first = build_cnn(**settings)
    with keras_seed(0):
        random.random()  # as any other thread of the process may, meanwhile
        second = build_cnn(**settings)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
