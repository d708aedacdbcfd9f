"""Read DICOM files, the format hospitals store X-rays in, with pydicom."""

from pathlib import Path

import numpy as np

#: File name endings read as DICOM without looking inside the file.
DICOM_SUFFIXES = (".dcm", ".dicom")
_PREAMBLE = 128
_MAGIC = b"DICM"


def _import_pydicom():
    try:
        from pydicom import dcmread
        from pydicom.errors import InvalidDicomError
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError as error:
        raise ImportError(
            "Reading DICOM files needs pydicom, an optional dependency: "
            "pip install 'sklearn-pneumo[dicom]'"
        ) from error
    return dcmread, InvalidDicomError, apply_modality_lut, apply_voi_lut


def is_dicom(path):
    """Whether ``path`` is a DICOM file, by its name or its ``DICM`` marker.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    bool

    Examples
    --------
    >>> is_dicom("chest.dcm"), is_dicom("chest.jpeg")
    (True, False)
    """
    if Path(path).suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(path, "rb") as file:
            header = file.read(_PREAMBLE + len(_MAGIC))
    except OSError:
        return False
    return header[_PREAMBLE:] == _MAGIC


def _output_range(dataset, voi_applied):
    """The range of values the modality and VOI transforms can produce.

    Follows ``pydicom.pixels.apply_windowing``: the stored range (signed or
    not, ``BitsStored`` bits, or a modality LUT's bit depth) mapped through
    the rescale slope and intercept; a VOI LUT gives its own bit depth.
    """
    voi_sequence = dataset.get("VOILUTSequence")
    if voi_applied and voi_sequence:
        return 0.0, float(2 ** voi_sequence[0].LUTDescriptor[2] - 1)
    if dataset.get("ModalityLUTSequence"):
        depth = dataset.ModalityLUTSequence[0].LUTDescriptor[2]
        return 0.0, float(2**depth - 1)
    bits = dataset.BitsStored
    if dataset.PixelRepresentation == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope = dataset.get("RescaleSlope")
    intercept = dataset.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        low, high = sorted((low * slope + intercept, high * slope + intercept))
    return low, high


def decode_dicom(path, *, max_pixels=100_000_000):
    """Decode one DICOM file into an image in [0, 1] for display.

    Grayscale images go through the display chain of the DICOM standard: the
    modality LUT (or rescale slope and intercept), then the VOI LUT or the
    first window (centre and width) when the file has one, then scaling of
    the output range to [0, 1] (a 12-bit image is divided by 4095, not by
    its own maximum). ``MONOCHROME1`` images, where low values are bright,
    are inverted so that bone is bright as in ``MONOCHROME2``. Colour images
    are scaled by their bit depth. A multi-frame file gives its first frame
    (:class:`~sklearn_pneumo.ImageLoader` warns, naming the file).

    Parameters
    ----------
    path : str or os.PathLike
    max_pixels : int or None, default=100_000_000
        Refuse images with more pixels than this before decoding them.

    Returns
    -------
    ndarray of float32, shape (rows, columns) or (rows, columns, 3)

    Raises
    ------
    ImportError
        If pydicom is not installed; the message names the ``dicom`` extra.
    ValueError
        If the file is not valid DICOM, has no pixel data, is too large, or
        its compression needs a decoder plugin that is not installed.
    """
    return decode_dicom_frames(path, max_pixels=max_pixels)[0]


def decode_dicom_frames(path, *, max_pixels=100_000_000):
    """:func:`decode_dicom` of ``path``, and how many frames the file holds."""
    dcmread, InvalidDicomError, apply_modality_lut, apply_voi_lut = _import_pydicom()
    try:
        dataset = dcmread(path, defer_size="1 MB")
    except InvalidDicomError as error:
        raise ValueError(f"not a valid DICOM file: {error}") from error
    if "PixelData" not in dataset:
        raise ValueError("DICOM file has no pixel data")
    pixels = dataset.Rows * dataset.Columns
    if max_pixels is not None and pixels > max_pixels:
        raise ValueError(
            f"image too large: {dataset.Columns}x{dataset.Rows} = {pixels} "
            f"pixels exceeds max_pixels={max_pixels}"
        )
    try:
        image = dataset.pixel_array
    except (RuntimeError, NotImplementedError, AttributeError) as error:
        raise ValueError(f"cannot decode DICOM pixel data: {error}") from error
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        image = image[0]
    if dataset.get("SamplesPerPixel", 1) > 1:
        return (image / float(2**dataset.BitsStored - 1)).astype(np.float32), frames

    image = apply_modality_lut(image, dataset)
    has_voi = dataset.get("VOILUTSequence") or (
        "WindowCenter" in dataset and "WindowWidth" in dataset
    )
    if has_voi:
        image = apply_voi_lut(image, dataset)
    low, high = _output_range(dataset, bool(has_voi))
    image = np.clip((np.asarray(image, np.float64) - low) / (high - low), 0.0, 1.0)
    if dataset.PhotometricInterpretation == "MONOCHROME1":
        image = 1.0 - image
    return image.astype(np.float32), frames
