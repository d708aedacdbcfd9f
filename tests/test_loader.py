import importlib
import io
import os
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sklearn_pneumo import ImageLoader, ImageLoadError, make_pneumo_pipeline
from sklearn_pneumo._loader import decode_image


def _save(image, path, **kwargs):
    image.save(path, **kwargs)
    return str(path)


@pytest.fixture
def gradient():
    """A non-square RGB image with distinct rows and columns."""
    rows, cols = np.mgrid[0:60, 0:90]
    pixels = np.stack([rows * 4, cols * 2, (rows + cols) % 256], axis=-1)
    return pixels.astype(np.uint8)


def test_real_jpegs_decode_as_grayscale_uint8(xray_paths):
    paths, _ = xray_paths
    images = ImageLoader().transform(paths)
    assert len(images) == len(paths)
    for image, path in zip(images, paths):
        with Image.open(path) as original:
            assert image.shape == (original.height, original.width)
        assert image.dtype == np.uint8


def test_decode_size_covers_target_and_bounds_memory(xray_paths):
    paths, _ = xray_paths
    full = ImageLoader().transform(paths[:4])
    reduced = ImageLoader(decode_size=(150, 150)).transform(paths[:4])
    for big, small in zip(full, reduced):
        assert min(small.shape) >= 150
        assert small.size < big.size / 4


@pytest.mark.parametrize(
    "wrap",
    [
        list,
        np.array,
        pd.Series,
        lambda p: np.array(p).reshape(-1, 1),
        lambda p: [Path(x) for x in p],
        lambda p: pd.DataFrame({"path": p}),
    ],
    ids=["list", "array", "series", "column", "pathlib", "dataframe"],
)
def test_accepted_path_containers(xray_paths, wrap):
    paths, _ = xray_paths
    images = ImageLoader(decode_size=(32, 32)).transform(wrap(list(paths[:3])))
    assert len(images) == 3


def test_parallel_and_progress_give_same_images(xray_paths):
    paths, _ = xray_paths
    serial = ImageLoader(decode_size=(64, 64)).transform(paths)
    parallel = ImageLoader(decode_size=(64, 64), n_jobs=2, progress=True).transform(
        paths
    )
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


def test_formats(tmp_path, gradient):
    rgb = Image.fromarray(gradient)
    paths = {
        "png": _save(rgb, tmp_path / "a.png"),
        "bmp": _save(rgb, tmp_path / "a.bmp"),
        "tiff": _save(rgb, tmp_path / "a.tiff"),
        "rgba": _save(rgb.convert("RGBA"), tmp_path / "rgba.png"),
        "palette": _save(rgb.convert("P"), tmp_path / "p.png"),
        "cmyk": _save(rgb.convert("CMYK"), tmp_path / "cmyk.jpeg"),
    }
    decoded = dict(zip(paths, ImageLoader().transform(list(paths.values()))))
    for name in ("png", "bmp", "tiff"):
        np.testing.assert_array_equal(decoded[name], gradient)
    assert decoded["rgba"].shape == (60, 90, 4)
    assert decoded["palette"].shape == (60, 90, 3)
    assert decoded["cmyk"].shape == (60, 90, 3)


def test_sixteen_bit_png_keeps_full_range(tmp_path):
    pixels = np.linspace(0, 65535, 40 * 30).reshape(40, 30).astype(np.uint16)
    path = _save(Image.fromarray(pixels), tmp_path / "deep.png")
    (image,) = ImageLoader().transform([path])
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image, pixels)


def test_exif_orientation_is_applied(tmp_path, gradient):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _save(Image.fromarray(gradient), tmp_path / "rot.jpeg", exif=exif)
    image = decode_image(path)
    assert image.shape == (90, 60, 3)
    reduced = decode_image(path, decode_size=(40, 20))
    assert reduced.shape[0] >= 40 and reduced.shape[1] >= 20


def test_multi_frame_file_gives_first_frame_and_a_warning_naming_it(tmp_path):
    frames = [Image.new("L", (20, 10), value) for value in (10, 200, 90)]
    path = str(tmp_path / "stack.tiff")
    frames[0].save(path, save_all=True, append_images=frames[1:])
    single = str(tmp_path / "single.png")
    frames[1].save(single)
    with pytest.warns(UserWarning, match=r"1 image file.*stack\.tiff \(3 frames\)"):
        image, other = ImageLoader().transform([path, single])
    assert image.shape == (10, 20) and (image == 10).all() and (other == 200).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ImageLoader().transform([single])  # one frame: no warning


def _bad_files(tmp_path, xray_paths):
    real = Path(xray_paths[0][0]).read_bytes()
    files = {
        "missing": tmp_path / "missing.jpeg",
        "folder": tmp_path / "folder.jpeg",
        "empty": tmp_path / "empty.jpeg",
        "truncated": tmp_path / "truncated.jpeg",
        "text": tmp_path / "text.png",
    }
    files["folder"].mkdir()
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(real[: len(real) // 2])
    files["text"].write_text("not an image")
    return {name: str(path) for name, path in files.items()}


def test_every_bad_file_is_named_in_one_error(tmp_path, xray_paths):
    bad = _bad_files(tmp_path, xray_paths)
    good = list(xray_paths[0][:2])
    with pytest.raises(ImageLoadError) as raised:
        ImageLoader().transform(good + list(bad.values()))
    failures = dict(raised.value.failures)
    assert set(failures) == set(bad.values())
    assert failures[bad["missing"]] == "file not found"
    assert "directory" in failures[bad["folder"]]
    assert "empty" in failures[bad["empty"]]
    assert failures[bad["truncated"]].startswith("truncated: the file ends")
    assert failures[bad["text"]].startswith("not an image")
    for path in bad.values():
        assert path in str(raised.value)


@pytest.mark.parametrize("side", [5_000, 20_000])
def test_decompression_bomb_is_refused_before_allocation(tmp_path, side):
    # A PNG header claiming 20000x20000 pixels: refused from the header alone.
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = side.to_bytes(4, "big") * 2
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageLoadError, match="too large"):
        ImageLoader(max_pixels=10_000_000).transform([str(path)])


@pytest.mark.parametrize(
    "paths",
    [[None], ["a.png", float("nan")], [3], []],
    ids=["none", "nan", "int", "empty"],
)
def test_entries_that_are_not_paths_are_refused(paths):
    with pytest.raises(ValueError, match="path"):
        ImageLoader().transform(paths)


def test_single_string_is_refused():
    with pytest.raises(ValueError, match="single path"):
        ImageLoader().transform("image.png")


def test_fit_is_stateless(xray_paths):
    loader = ImageLoader()
    assert loader.fit(xray_paths[0]) is loader
    assert loader.__sklearn_tags__().requires_fit is False


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".jpeg", ".png"]))
def test_random_bytes_raise_only_image_load_error(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        (image,) = ImageLoader().transform([str(path)])
    except ImageLoadError as error:
        assert str(path) in str(error)
    else:
        assert image.ndim in (2, 3) and image.size > 0
    os.remove(path)


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root reads files whatever their permissions",
)
def test_unreadable_permissions_are_named(tmp_path, xray_paths):
    path = tmp_path / "locked.jpeg"
    path.write_bytes(Path(xray_paths[0][0]).read_bytes())
    path.chmod(0)
    with pytest.raises(ImageLoadError, match="permission denied"):
        ImageLoader().transform([str(path)])


def test_memory_grows_with_target_size_not_original_size(tmp_path):
    # 12 paths to a 2000x2000 JPEG: decoding them at full size would hold
    # 12 x 4 MB of pixels; the pipeline's load and resize steps must not.
    noise = np.random.default_rng(0).integers(0, 256, (2000, 2000), dtype=np.uint8)
    big = _save(Image.fromarray(noise), tmp_path / "big.jpeg", quality=90)
    preprocess = make_pneumo_pipeline((64, 64))[:2]
    tracemalloc.start()
    try:
        X = preprocess.transform([big] * 12)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert X.shape == (12, 64 * 64)
    assert peak < 12 * 2000 * 2000 / 4


def test_decodes_in_threads_under_a_process_backend(xray_paths):
    from joblib import parallel_config

    paths = xray_paths[0][:4]
    expected = ImageLoader(decode_size=(32, 32)).transform(paths)
    with parallel_config(backend="loky", n_jobs=2):
        images = ImageLoader(decode_size=(32, 32), n_jobs=2).transform(paths)
    for image, reference in zip(images, expected):
        np.testing.assert_array_equal(image, reference)


@pytest.mark.parametrize("step", ["load", "resize"])
def test_no_more_threads_than_images(xray_paths, monkeypatch, step):
    """joblib starts every thread asked for: 100,000 for two X-rays would fail."""
    module = importlib.import_module(
        {"load": "sklearn_pneumo._loader", "resize": "sklearn_pneumo._grayscale"}[step]
    )
    seen, parallel = [], module.Parallel

    def recording(*args, n_jobs=None, **kwargs):
        seen.append(n_jobs)
        return parallel(*args, n_jobs=1, **kwargs)  # what was asked, not started

    monkeypatch.setattr(module, "Parallel", recording)
    preprocess = make_pneumo_pipeline((16, 16))[:2]
    preprocess.set_params(**{f"{step}__n_jobs": 100_000})
    X = preprocess.transform(xray_paths[0][:2])
    assert X.shape == (2, 16 * 16) and seen == [2]
    assert preprocess.get_params()[f"{step}__n_jobs"] == 100_000


@pytest.mark.parametrize("n_paths, expected", [(15, 1), (16, -1)])
def test_auto_uses_every_core_from_16_images(
    xray_paths, monkeypatch, n_paths, expected
):
    import sklearn_pneumo._loader as loader_module

    seen = []
    parallel = loader_module.Parallel

    def recording(*args, n_jobs=None, **kwargs):
        seen.append(n_jobs)
        return parallel(*args, n_jobs=n_jobs, **kwargs)

    monkeypatch.setattr(loader_module, "Parallel", recording)
    paths = (list(xray_paths[0]) * 2)[:n_paths]
    images = ImageLoader(decode_size=(16, 16)).transform(paths)
    assert len(images) == n_paths and seen == [expected]
