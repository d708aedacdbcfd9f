"""What every model file of the package must respect: its bounds and its error.

Model files (``.pneumo``, read by :func:`load_model`) and ONNX archives
(``.onnx.zip``, read by :func:`load_onnx`) are trust boundaries: whoever
crafts one also writes its checksums. Both refuse what breaks these bounds
with :class:`ModelFileError`, naming the file and what is at fault, before
any image is read.
"""

import numbers

#: Most pixels along either side of a network's input image. The paper's
#: network reads 150x150 and the shipped ones 150x150 or 224x224; a bigger
#: bound than any real chest X-ray network, small enough that no value in a
#: file makes a prediction allocate gigabytes.
MAX_IMAGE_SIDE = 2048

#: Most pixels one network call may take (batch size x height x width): a
#: float32 batch of at most 256 MB.
MAX_BATCH_PIXELS = 1 << 26


class ModelFileError(ValueError):
    """A model file or ONNX archive that is refused, with the file and why.

    Examples
    --------
    >>> from sklearn_pneumo import ModelFileError, load_onnx
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx.zip")
    >>> _ = open(path, "w").write("not a zip")
    >>> try:
    ...     load_onnx(path)
    ... except ModelFileError as error:
    ...     print("model.onnx.zip is not" in str(error))
    True
    """


def check_image_size(size, where):
    """``size`` as (height, width) within :data:`MAX_IMAGE_SIDE`, or the reason not.

    Returns
    -------
    str or None
        Why ``size`` is refused, naming ``where``; None if it is fine.

    Examples
    --------
    >>> check_image_size([150, 150], "image_size") is None
    True
    >>> check_image_size([60000, 60000], "image_size")
    'image_size is [60000, 60000]: each side must be an int from 1 to 2048'
    """
    if (
        isinstance(size, (list, tuple))
        and len(size) == 2
        and all(is_int(side) and 1 <= side <= MAX_IMAGE_SIDE for side in size)
    ):
        return None
    return f"{where} is {size!r}: each side must be an int from 1 to {MAX_IMAGE_SIDE}"


def is_int(value):
    """An int that is not a bool (JSON and NumPy ints both count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
