"""Files as users' machines produce them: bit depths, modes, special files, folders."""

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from sklearn_pneumo import ImageLoader, ImageLoadError, make_pneumo_pipeline
from sklearn_pneumo.datasets import (
    find_unreadable_images,
    load_chest_xray_sample,
    load_image_folder,
    scan_images,
)


@pytest.fixture(scope="module")
def gray():
    """A real full-size X-ray as 8-bit gray pixels."""
    paths, _ = load_chest_xray_sample()
    return np.asarray(Image.open(paths[0]).convert("L"))


def _with_sbit(path, bits):
    """Insert a PNG sBIT chunk after IHDR."""
    data = path.read_bytes()
    end_of_ihdr = 8 + 8 + 13 + 4
    body = bytes([bits])
    chunk = struct.pack(">I", 1) + b"sBIT" + body
    chunk += struct.pack(">I", zlib.crc32(b"sBIT" + body) & 0xFFFFFFFF)
    path.write_bytes(data[:end_of_ihdr] + chunk + data[end_of_ihdr:])


@pytest.mark.parametrize(
    "name, convert",
    [
        ("sixteen.png", lambda g: Image.fromarray(g.astype(np.uint16) * 257)),
        ("sixteen.tif", lambda g: Image.fromarray(g.astype(np.uint16) * 257)),
        ("palette.png", lambda g: Image.fromarray(g).convert("P")),
        ("xray.gif", lambda g: Image.fromarray(g)),
        ("one_bit.png", lambda g: Image.fromarray(g).convert("1")),
    ],
)
def test_large_images_of_every_mode_load_at_reduced_size(gray, tmp_path, name, convert):
    path = tmp_path / name
    convert(gray).save(path)
    image = ImageLoader(decode_size=(150, 150)).transform([path])[0]
    scale = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}[image.dtype]
    assert min(image.shape[:2]) >= 150 and max(image.shape[:2]) < max(gray.shape)
    # The same X-ray: its mean brightness survives (1-bit dithering keeps it too).
    assert image.mean() / scale == pytest.approx(gray.mean() / 255, abs=0.03)
    assert find_unreadable_images([path]) == []


def test_big_endian_16_bit_tiff_loads(gray, tmp_path):
    pixels = (gray.astype(np.uint16) * 257).astype(">u2")
    Image.frombytes("I;16B", pixels.shape[::-1], pixels.tobytes()).save(
        tmp_path / "be.tif"
    )
    image = ImageLoader(decode_size=(150, 150)).transform([tmp_path / "be.tif"])[0]
    assert image.dtype == np.uint16
    assert image.mean() / 65535 == pytest.approx(gray.mean() / 255, abs=0.01)


def test_sbit_says_how_many_bits_a_16_bit_png_holds(gray, tmp_path):
    path = tmp_path / "twelve.png"
    Image.fromarray(gray.astype(np.uint16) * 16).save(path)  # 12-bit values
    _with_sbit(path, 12)
    image = ImageLoader().transform([path])[0]
    assert image.max() / 65535 == pytest.approx(int(gray.max()) * 16 / 4095, abs=1e-3)


def test_a_dim_16_bit_image_is_warned_about_by_name(gray, tmp_path):
    path = tmp_path / "twelve_unmarked.png"
    Image.fromarray(gray.astype(np.uint16) * 16).save(path)
    with pytest.warns(UserWarning, match="twelve_unmarked.png"):
        ImageLoader().transform([path])
    scaled = ImageLoader(intensity="image").transform([path])[0]
    assert scaled.dtype == np.float32 and scaled.min() == 0 and scaled.max() == 1


def test_float_files_out_of_range_are_errors_naming_the_file(gray, tmp_path):
    Image.fromarray(gray.astype(np.float32)).save(tmp_path / "f255.tif")
    nan = gray.astype(np.float32) / 255
    nan[0, 0] = np.nan
    Image.fromarray(nan).save(tmp_path / "nan.tif")
    with pytest.raises(ImageLoadError) as caught:
        ImageLoader().transform([tmp_path / "f255.tif", tmp_path / "nan.tif"])
    reasons = dict(caught.value.failures)
    assert "intensity='image'" in reasons[str(tmp_path / "f255.tif")]
    assert "NaN" in reasons[str(tmp_path / "nan.tif")]
    scaled = ImageLoader(intensity="image").transform([tmp_path / "f255.tif"])[0]
    assert scaled.max() == 1


def test_a_fifo_is_refused_at_once_without_being_opened(tmp_path):
    fifo = tmp_path / "x.jpeg"
    os.mkfifo(fifo)
    assert find_unreadable_images([fifo]) == [
        (str(fifo), "not a regular file: a FIFO (named pipe)")
    ]


def test_one_failure_entry_per_failing_input(tmp_path):
    bad = tmp_path / "corrupt.jpeg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(ImageLoadError) as caught:
        ImageLoader().transform([bad] * 600)
    assert len(caught.value.failures) == 600


def test_folder_rule_recurses_and_warns_about_what_it_leaves_out(tmp_path, gray):
    normal = tmp_path / "NORMAL" / "batch2"
    normal.mkdir(parents=True)
    Image.fromarray(gray).save(normal / "a.jpeg")
    (tmp_path / "NORMAL" / "dangling.jpeg").symlink_to(tmp_path / "gone.jpeg")
    Image.fromarray(gray).save(tmp_path / "loose.jpeg")
    with pytest.warns(UserWarning) as caught:
        paths, y = load_image_folder(tmp_path)
    messages = " ".join(str(w.message) for w in caught)
    assert "loose.jpeg" in messages and "no images of PNEUMONIA" in messages
    assert sorted(paths.tolist()) == sorted(scan_images(tmp_path / "NORMAL"))
    assert str(tmp_path / "NORMAL" / "dangling.jpeg") in paths  # fails by name later
    with pytest.raises(NotADirectoryError, match="is a file"):
        load_image_folder(tmp_path / "loose.jpeg")


@pytest.mark.parametrize(
    "y, params, message",
    [
        (["NORMAL"] * 8 + [None] * 8, {}, "missing label"),
        ([0, 1] * 7 + [0], {}, "16 samples but y has 15"),
        ([0, 1] * 8, {"cnn__sample_weight": np.ones(16)}, "sampler step 'sample'"),
    ],
)
def test_fit_checks_its_input_before_any_step(y, params, message):
    paths, _ = load_chest_xray_sample()
    pipe = make_pneumo_pipeline((16, 16), epochs=1, model__filters=2)
    with pytest.raises(ValueError, match=message):
        pipe.fit(paths, np.array(y, dtype=object), **params)


def test_a_32_bit_integer_tiff_of_small_values_is_warned_about(gray, tmp_path):
    path = tmp_path / "thirty_two.tif"
    Image.fromarray(gray.astype(np.int32), mode="I").save(path)
    with pytest.warns(UserWarning, match="thirty_two.tif"):
        ImageLoader().transform([path])
    scaled = ImageLoader(intensity="image").transform([path])[0]
    assert scaled.max() == 1


@pytest.fixture
def float_file(gray, tmp_path):
    """A float TIFF in 0-255, and the same X-ray as an 8-bit PNG (full range)."""
    gray = gray.copy()
    gray[0, :2] = 0, 255  # its own range is the 8-bit one
    Image.fromarray(gray).save(tmp_path / "eight.png")
    Image.fromarray(gray.astype(np.float32)).save(tmp_path / "float.tif")
    return tmp_path / "float.tif", tmp_path / "eight.png"


def test_image_loaders_reach_every_step_that_reads_files():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from sklearn_pneumo import load_pretrained
    from sklearn_pneumo._loader import image_loaders

    two_stage = load_pretrained("normal-bacterial-viral", runtime="onnx")
    assert len(image_loaders(two_stage)) == 2  # the pneumonia and the type stages
    archive = load_pretrained(runtime="onnx")
    calibrated = CalibratedClassifierCV(FrozenEstimator(archive))
    assert image_loaders(calibrated) == [archive.steps[0]]
    assert isinstance(archive.steps[0], ImageLoader)


def test_the_report_shows_a_float_file_as_the_model_reads_it(float_file, tmp_path):
    from sklearn_pneumo._report import _full_image

    floating, eight = float_file
    shown = {}
    for name, path, intensity in [("f", floating, "image"), ("e", eight, "container")]:
        _full_image(path, tmp_path / f"{name}.jpg", intensity)
        shown[name] = np.asarray(Image.open(tmp_path / f"{name}.jpg"), dtype=float)
    assert np.abs(shown["f"] - shown["e"]).mean() < 2  # not clipped to white
    with pytest.raises(ValueError, match="--intensity image"):
        _full_image(floating, tmp_path / "c.jpg", "container")
