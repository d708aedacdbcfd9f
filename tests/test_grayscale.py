import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from skimage.color import rgb2gray, rgba2rgb
from skimage.transform import resize

from sklearn_pneumo import GrayscaleResize

SIZE = (12, 10)


def _reference(image_float):
    """The paper's recipe on one image already in [0, 1]."""
    if image_float.ndim == 3:
        image_float = rgb2gray(image_float)
    return resize(image_float, SIZE, mode="constant", anti_aliasing=True).ravel()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_output_shape_dtype_and_range(rng):
    images = rng.integers(0, 256, (5, 40, 30, 3), dtype=np.uint8)
    X = GrayscaleResize(size=SIZE).fit_transform(images)
    assert X.shape == (5, 120) and X.dtype == np.float32
    assert 0 <= X.min() and X.max() <= 1


def test_rgb_matches_rgb2gray_then_resize(rng):
    image = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    X = GrayscaleResize(size=SIZE).transform([image])
    np.testing.assert_allclose(X[0], _reference(image / 255.0), atol=1e-6)


def test_matches_paper_order_resize_then_gray(rng):
    image = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    paper = rgb2gray(
        resize(image, (*SIZE, 3), mode="constant", anti_aliasing=True)
    ).ravel()
    X = GrayscaleResize(size=SIZE).transform([image])
    np.testing.assert_allclose(X[0], paper, atol=1e-5)


def test_rgba_is_composited_over_white(rng):
    image = rng.random((30, 20, 4))
    X = GrayscaleResize(size=SIZE).transform([image])
    np.testing.assert_allclose(X[0], _reference(rgba2rgb(image)), atol=1e-6)


@pytest.mark.parametrize(
    "dtype, scale", [(np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0)]
)
def test_scaling_rule_per_dtype(rng, dtype, scale):
    image = (rng.random((30, 20)) * scale).astype(dtype)
    X = GrayscaleResize(size=SIZE).transform([image])
    np.testing.assert_allclose(X[0], _reference(image / scale), atol=1e-6)


def test_mixed_sizes_and_channel_layouts(rng):
    images = [
        rng.random((40, 40)),
        rng.integers(0, 256, (25, 60, 3), dtype=np.uint8),
        rng.random((30, 30, 1)),
    ]
    X = GrayscaleResize(size=SIZE).transform(images)
    assert X.shape == (3, 120)
    np.testing.assert_allclose(X[2], _reference(images[2][:, :, 0]), atol=1e-6)


@pytest.mark.parametrize(
    "images, message",
    [
        ([np.full((5, 5), np.nan)], "NaN"),
        ([np.zeros((0, 5))], "empty"),
        (np.zeros(10), "shape"),
        (np.zeros((4, 100)), "shape"),
        ([np.zeros((5, 5, 2))], "shape"),
        ([np.zeros((5, 5, 5))], "shape"),
        ([np.full((5, 5), 2.0)], r"\[0, 1\]"),
        ([np.zeros((5, 5), dtype=np.int64)], "dtype"),
        ([], "at least one"),
        (["not an image"], "got file paths"),
        ([3.0], "2-D or 3-D"),
    ],
    ids=[
        "nan",
        "zero-size",
        "1-d",
        "2-d",
        "2-channels",
        "5-channels",
        "float-range",
        "int64",
        "empty",
        "string",
        "number",
    ],
)
def test_bad_images_raise_clear_errors(images, message):
    with pytest.raises(ValueError, match=message):
        GrayscaleResize(size=SIZE).fit_transform(images)


def test_bad_size_is_refused():
    with pytest.raises(ValueError, match="size"):
        GrayscaleResize(size=(0, 5)).transform([np.zeros((5, 5))])


def test_feature_names():
    names = GrayscaleResize(size=(2, 3)).get_feature_names_out()
    assert list(names[:4]) == ["pixel_0_0", "pixel_0_1", "pixel_0_2", "pixel_1_0"]


def test_parallel_matches_serial(rng):
    images = list(rng.random((6, 33, 21)))
    serial = GrayscaleResize(size=SIZE).transform(images)
    parallel = GrayscaleResize(size=SIZE, n_jobs=2).transform(images)
    np.testing.assert_array_equal(serial, parallel)


image_arrays = hnp.arrays(
    dtype=st.sampled_from(
        [np.uint8, np.uint16, np.float32, np.float64, np.bool_, np.int32]
    ),
    shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=0, max_side=40),
)


@settings(max_examples=150, deadline=None)
@given(image=image_arrays, height=st.integers(1, 20), width=st.integers(1, 20))
def test_fuzz_only_value_errors_and_never_a_wrong_shape(image, height, width):
    try:
        X = GrayscaleResize(size=(height, width)).transform([image])
    except ValueError:
        return
    assert X.shape == (1, height * width)
    assert X.dtype == np.float32
    assert np.isfinite(X).all() and X.min() >= 0 and X.max() <= 1


def test_rows_filled_under_a_process_backend():
    # A process (or Dask) backend set around the pipeline, as in a grid search
    # with parallel_config, must not move the in-place writes out of process.
    from joblib import parallel_config

    rng = np.random.default_rng(0)
    images = [rng.random((20 + i, 30)) for i in range(6)]
    expected = GrayscaleResize(size=(8, 8)).fit_transform(images)
    with parallel_config(backend="loky", n_jobs=2):
        rows = GrayscaleResize(size=(8, 8), n_jobs=2).fit_transform(images)
    np.testing.assert_array_equal(rows, expected)


@settings(max_examples=30, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 260), st.integers(1, 260)),
    size=st.tuples(st.integers(1, 160), st.integers(1, 160)),
    low=st.sampled_from([0.0, 0.3]),
    seed=st.integers(0, 2**16),
)
def test_resize_equals_skimage(shape, size, low, seed):
    from skimage.transform import resize

    from sklearn_pneumo._grayscale import resize_like_skimage

    rng = np.random.default_rng(seed)
    gray = (low + (1 - low) * rng.random(shape)).astype(np.float32)
    ours = resize_like_skimage(gray, size)
    theirs = resize(gray, size, order=1, mode="constant", anti_aliasing=True)
    assert ours.shape == size and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=2e-6)


# --- canonical inputs: borders and contrast -------------------------------------


def _xray_like(rng, shape=(90, 70)):
    """A textured image with no uniform row or column."""
    return rng.uniform(0.2, 0.9, shape).astype(np.float32)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_trimmed_padding_gives_the_unpadded_rows(rng, value):
    image = _xray_like(rng)
    padded = np.pad(image, ((6, 4), (5, 7)), constant_values=value)
    trim = GrayscaleResize(size=(30, 30), border="trim")
    # With the line where border and image meet (blended in a reduced image).
    np.testing.assert_allclose(
        trim.transform([padded]),
        GrayscaleResize(size=(30, 30)).transform([image[1:-1, 1:-1]]),
    )
    # The paper's setting keeps the border: another image.
    assert not np.allclose(
        GrayscaleResize(size=(30, 30)).transform([padded]), trim.transform([padded])
    )


def test_trimming_leaves_an_image_without_border_as_it_is(rng):
    image = _xray_like(rng)
    np.testing.assert_array_equal(
        GrayscaleResize(size=(30, 30), border="trim").transform([image]),
        GrayscaleResize(size=(30, 30)).transform([image]),
    )


def test_a_reduced_padded_image_is_trimmed_past_the_blended_line(rng):
    # Box-reduced by 4 with a 6-pixel pad: one line per side mixes both.
    image = _xray_like(rng)[:88, :68]
    padded = np.pad(image, 6)
    reduced = padded.reshape(25, 4, 20, 4).mean(axis=(1, 3))
    from sklearn_pneumo._grayscale import border_box

    assert border_box(reduced) == (2, 23, 2, 18)


def test_trimming_stops_at_a_quarter_of_each_side():
    blank = np.zeros((40, 40), dtype=np.float32)
    from sklearn_pneumo._grayscale import border_box

    assert border_box(blank) == (10, 30, 10, 30)


def test_equalized_contrast_is_indifferent_to_a_contrast_curve(rng):
    image = _xray_like(rng)
    step = GrayscaleResize(size=(30, 30), contrast="equalize")
    curves = [image**0.8, image**1.25, np.sqrt(image), 0.1 + 0.5 * image]
    expected = step.transform([image])
    for curved in curves:
        # Up to ties that float rounding makes or breaks.
        np.testing.assert_allclose(step.transform([curved]), expected, atol=1e-4)


def test_stretched_contrast_is_indifferent_to_windowing(rng):
    image = _xray_like(rng)
    step = GrayscaleResize(size=(30, 30), contrast="stretch")
    np.testing.assert_allclose(
        step.transform([0.1 + 0.5 * image]), step.transform([image]), atol=1e-5
    )


def test_canonical_settings_are_grid_searchable_parameters():
    from sklearn_pneumo import make_pneumo_pipeline

    params = make_pneumo_pipeline().get_params()
    assert params["resize__border"] == "keep" and params["resize__contrast"] == "keep"
    with pytest.raises(ValueError, match="contrast"):
        GrayscaleResize(contrast="clahe").transform([np.zeros((4, 4))])


def test_border_trimmed_is_the_share_of_area_cut_off(rng):
    image = _xray_like(rng)  # 90x70
    padded = np.pad(image, ((6, 4), (5, 7)))  # 100x82
    trim = GrayscaleResize(size=(30, 30), border="trim")
    np.testing.assert_allclose(
        trim.border_trimmed([padded, image]), [1 - 88 * 68 / (100 * 82), 0.0]
    )
    keep = GrayscaleResize(size=(30, 30))
    np.testing.assert_array_equal(keep.border_trimmed([padded]), [0.0])
