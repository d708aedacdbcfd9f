"""DICOM reading: LUTs, MONOCHROME1, bit depths, errors, and the pipeline."""

import sys

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")

from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402

from sklearn_pneumo import GrayscaleResize, ImageLoader, ImageLoadError  # noqa: E402
from sklearn_pneumo._dicom import decode_dicom, is_dicom  # noqa: E402
from sklearn_pneumo._loader import decode_image  # noqa: E402

DIGITAL_XRAY = "1.2.840.10008.5.1.4.1.1.1.1"


def write_dicom(path, pixels, *, photometric="MONOCHROME2", bits_stored=12, **tags):
    """Write ``pixels`` as an uncompressed DICOM file with extra ``tags``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DIGITAL_XRAY
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = DIGITAL_XRAY
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "DX"
    dataset.set_pixel_data(
        pixels, photometric_interpretation=photometric, bits_stored=bits_stored
    )
    for name, value in tags.items():
        setattr(dataset, name, value)
    dataset.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def ramp():
    """A 12-bit horizontal ramp from 0 to 4095."""
    return np.tile(np.linspace(0, 4095, 64).round().astype(np.uint16), (48, 1))


def test_12_bit_scaled_by_bit_depth_not_by_its_maximum(tmp_path, ramp):
    path = write_dicom(tmp_path / "a.dcm", ramp // 2)
    image = decode_dicom(path)
    assert image.dtype == np.float32 and image.shape == ramp.shape
    np.testing.assert_allclose(image, (ramp // 2) / 4095, atol=1e-6)


def test_16_bit(tmp_path):
    pixels = np.array([[0, 32768, 65535]], dtype=np.uint16)
    image = decode_dicom(write_dicom(tmp_path / "a.dcm", pixels, bits_stored=16))
    np.testing.assert_allclose(image, [[0, 32768 / 65535, 1]], atol=1e-6)


def test_monochrome1_is_inverted_so_bone_is_bright(tmp_path, ramp):
    mono2 = decode_dicom(write_dicom(tmp_path / "2.dcm", ramp))
    mono1 = decode_dicom(
        write_dicom(tmp_path / "1.dcm", ramp, photometric="MONOCHROME1")
    )
    np.testing.assert_allclose(mono1, 1 - mono2, atol=1e-6)
    assert mono1[0, 0] == pytest.approx(1.0)


def test_window_centre_and_width_applied(tmp_path, ramp):
    path = write_dicom(tmp_path / "w.dcm", ramp, WindowCenter=1024, WindowWidth=1024)
    image = decode_dicom(path)
    assert image[ramp < 500].max() == 0.0  # below the window: black
    assert image[ramp > 1550].min() == 1.0  # above the window: white
    inside = (ramp > 600) & (ramp < 1450)
    expected = np.clip((ramp[inside] - 1023.5) / 1023 + 0.5, 0, 1)
    np.testing.assert_allclose(image[inside], expected, atol=1e-6)


def test_modality_rescale_applied_before_window(tmp_path, ramp):
    # Stored values are half the real ones: the window is in real units.
    path = write_dicom(
        tmp_path / "r.dcm",
        ramp // 2,
        RescaleSlope=2,
        RescaleIntercept=0,
        WindowCenter=2048,
        WindowWidth=4096,
    )
    image = decode_dicom(path)
    # Real value 4094 sits at the top of the window; stored 2047 would not.
    expected = (4094 - 2047.5) / 4095 + 0.5
    np.testing.assert_allclose(image[0, -1], expected, atol=1e-5)
    assert np.all(np.diff(image[0]) >= 0)


def test_voi_lut_sequence_applied(tmp_path):
    pixels = np.array([[0, 1, 2, 3]], dtype=np.uint16)
    lut = Dataset()
    lut.add_new(0x00283002, "US", [4, 0, 8])  # LUT Descriptor
    lut.add_new(0x00283006, "US", [255, 0, 128, 64])  # LUT Data
    path = write_dicom(tmp_path / "l.dcm", pixels, bits_stored=2)
    dataset = pydicom.dcmread(path)
    dataset.VOILUTSequence = [lut]
    dataset.save_as(path)
    np.testing.assert_allclose(
        decode_dicom(path), [[1.0, 0.0, 128 / 255, 64 / 255]], atol=1e-6
    )


def test_first_frame_of_multi_frame(tmp_path):
    frames = np.stack([np.full((8, 8), 4095), np.zeros((8, 8))]).astype(np.uint16)
    path = write_dicom(tmp_path / "m.dcm", frames)
    image = decode_dicom(path)
    assert image.shape == (8, 8) and image.min() == 1.0
    with pytest.warns(UserWarning, match=r"m\.dcm \(2 frames\)"):
        (loaded,) = ImageLoader().transform([path])
    np.testing.assert_array_equal(loaded, image)


def test_detected_by_marker_without_suffix(tmp_path, ramp):
    path = write_dicom(tmp_path / "no_suffix", ramp)
    assert is_dicom(path)
    np.testing.assert_allclose(decode_image(path), decode_dicom(path))


def test_decode_size_reduces_like_other_formats(tmp_path):
    pixels = np.zeros((400, 300), dtype=np.uint16)
    pixels[:200] = 4095
    path = write_dicom(tmp_path / "big.dcm", pixels)
    image = decode_image(path, decode_size=(50, 50))
    assert image.shape == (67, 50)  # factor 6, partial boxes kept
    assert image[0, 0] == pytest.approx(1.0) and image[-1, -1] == 0.0


def test_bad_dicom_files_named_in_one_error(tmp_path, ramp):
    good = write_dicom(tmp_path / "good.dcm", ramp)
    text = tmp_path / "text.dcm"
    text.write_text("not a DICOM file")
    no_pixels = write_dicom(tmp_path / "nopix.dcm", ramp)
    dataset = pydicom.dcmread(no_pixels)
    del dataset.PixelData
    dataset.save_as(no_pixels)
    too_big = write_dicom(tmp_path / "big.dcm", np.zeros((100, 100), np.uint16))
    paths = [good, text, no_pixels, too_big, tmp_path / "missing.dcm"]
    with pytest.raises(ImageLoadError) as info:
        ImageLoader(max_pixels=5000).transform(paths)
    reasons = dict(info.value.failures)
    assert list(reasons) == [str(p) for p in paths[1:]]
    assert "not a valid DICOM" in reasons[str(text)]
    assert "no pixel data" in reasons[str(no_pixels)]
    assert "max_pixels" in reasons[str(too_big)]
    assert reasons[str(paths[-1])] == "file not found"


def test_missing_pydicom_names_the_extra(tmp_path, ramp, monkeypatch):
    path = write_dicom(tmp_path / "a.dcm", ramp)
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(ImportError, match=r"sklearn-pneumo\[dicom\]"):
        ImageLoader().transform([path])


def test_dicom_and_jpeg_mixed_through_the_preprocessing(tmp_path, xray_paths, ramp):
    jpegs, _ = xray_paths
    dicom = write_dicom(tmp_path / "a.dcm", ramp, photometric="MONOCHROME1")
    images = ImageLoader(decode_size=(32, 32)).transform([jpegs[0], dicom])
    rows = GrayscaleResize(size=(32, 32)).fit_transform(images)
    assert rows.shape == (2, 32 * 32)
    assert rows.min() >= 0 and rows.max() <= 1
    gray = rows[1].reshape(32, 32)
    assert gray[0, 0] > 0.9 and gray[0, -1] < 0.1  # inverted ramp


def test_image_folder_lists_dicom_files(tmp_path, ramp):
    from sklearn_pneumo.datasets import load_image_folder

    for label in ("NORMAL", "PNEUMONIA"):
        (tmp_path / label).mkdir()
        write_dicom(tmp_path / label / "a.dcm", ramp)
    paths, y = load_image_folder(tmp_path, validate=True)
    assert sorted(y.tolist()) == [0, 1]
    assert all(p.endswith(".dcm") for p in paths)
