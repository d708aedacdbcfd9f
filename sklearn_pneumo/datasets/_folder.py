"""Read the paper's folder layout: one subfolder of images per class."""

import re
import warnings
from pathlib import Path

import numpy as np

from .._class_names import TARGET_NAMES
from .._dicom import DICOM_SUFFIXES
from .._loader import ImageLoadError, decode_all

#: File name endings read as images; anything else in a class folder is skipped.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".webp"}
    | set(DICOM_SUFFIXES)
)
#: The paper's classes, by folder name in any case.
DEFAULT_CLASS_NAMES = {"normal": 0, "pneumonia": 1, "neumonia": 1}

#: File names of the public dataset (Kermany et al. 2018) and the patient they
#: name: ``person1_bacteria_1.jpeg`` and ``person1_virus_6.jpeg`` are patient
#: ``person1``; ``IM-0429-0001.jpeg``, ``IM-0429-0001-0002.jpeg`` and
#: ``IM-0429-0002-0001.jpeg`` are patient ``IM-0429``; ``NORMAL2-IM-0383-0001.jpeg``
#: is patient ``NORMAL2-IM-0383`` (a numbering of its own).
_PATIENT_PATTERN = re.compile(
    r"^(?:(?P<person>person\d+)_[a-z]+(?:_\d+)+"
    r"|(?P<study>(?:NORMAL2-)?IM-\d+)(?:-\d+)+)$",
    re.IGNORECASE,
)


def pneumonia_type(path):
    """The class of a file of Kermany et al.'s dataset: normal, bacterial or viral.

    Pneumonia files are named ``personN_bacteria_M`` or ``personN_virus_M``;
    files in a ``NORMAL`` folder are normal. Pass it as ``label_from`` to
    :func:`load_image_folder` for the three-class question.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    {"normal", "bacterial", "viral"}

    Raises
    ------
    ValueError
        Naming the file, when neither its name nor its folder tells.

    Examples
    --------
    >>> pneumonia_type("chest_xray/train/PNEUMONIA/person1_virus_6.jpeg")
    'viral'
    >>> pneumonia_type("chest_xray/train/NORMAL/IM-0115-0001.jpeg")
    'normal'
    """
    path = Path(path)
    name = path.name.lower()
    if "_bacteria_" in name:
        return "bacterial"
    if "_virus_" in name:
        return "viral"
    if path.parent.name.lower() == "normal":
        return "normal"
    raise ValueError(
        f"{str(path)!r}: neither its name (personN_bacteria_M, personN_virus_M) "
        "nor its folder (NORMAL) says whether it is normal, bacterial or viral."
    )


def patient_groups(paths):
    """The patient of each X-ray file, from the public dataset's file names.

    Kermany et al.'s chest X-ray dataset holds several images per patient.
    For cross-validation and every hold-out (``GroupKFold``,
    ``StratifiedGroupKFold``, ``groups=``) one patient's images must stay on
    one side, or accuracy is overstated. Names are parsed as follows (case
    does not matter, the folder and the ending are ignored):

    - ``personN_bacteria_M``, ``personN_virus_M``: patient ``personN``;
    - ``IM-XXXX-YYYY``, ``IM-XXXX-YYYY-ZZZZ``: patient ``IM-XXXX``;
    - ``NORMAL2-IM-XXXX-YYYY...``: patient ``NORMAL2-IM-XXXX`` (the
      ``NORMAL2`` files are numbered apart from the ``IM`` ones).

    Any other name is a patient of its own: its full path.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        Image file paths.

    Returns
    -------
    ndarray of str of shape (n,)
        One group label per path.

    Examples
    --------
    >>> from sklearn_pneumo.datasets import patient_groups
    >>> patient_groups([
    ...     "PNEUMONIA/person12_bacteria_47.jpeg",
    ...     "PNEUMONIA/person12_virus_48.jpeg",
    ...     "NORMAL/IM-0429-0001-0002.jpeg",
    ...     "NORMAL/NORMAL2-IM-0383-0001.jpeg",
    ...     "elsewhere/scan.png",
    ... ]).tolist()
    ['person12', 'person12', 'IM-0429', 'NORMAL2-IM-0383', 'elsewhere/scan.png']
    """
    groups = []
    for path in paths:
        match = _PATIENT_PATTERN.match(Path(path).stem)
        if match is None:
            groups.append(str(path))
        else:
            groups.append(match["person"] or match["study"])
    return np.array(groups, dtype=str)


def _class_label(folder, class_names):
    if class_names == "folders":
        return folder.name
    for name, label in class_names.items():
        if name.lower() == folder.name.lower():
            return label
    known = ", ".join(sorted(class_names))
    raise ValueError(
        f"Unknown class folder {str(folder)!r}: expected one of {known} (any "
        "case). Move it out, or rename it after its class; in Python, "
        "class_names={folder_name: label} maps other folders."
    )


def _is_hidden(path):
    return path.name.startswith(".")


def scan_images(folder):
    """Every image file under ``folder``, in its subfolders too, sorted.

    The one rule for finding images in a folder, used by
    :func:`load_image_folder` and the command line: an entry is an image by
    its ending (:data:`IMAGE_SUFFIXES`, any case), at any depth; hidden
    entries (starting with ``.``) and whatever is inside hidden folders are
    skipped. An entry with an image ending is listed even if it cannot be
    read (a broken link, a FIFO): reading it then gives an error that names
    it, so no image file is left out unseen.

    Parameters
    ----------
    folder : str or os.PathLike

    Returns
    -------
    list of str

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "batch2").mkdir()
    >>> for name in ("a.jpeg", "batch2/b.PNG", ".hidden.png", "notes.txt"):
    ...     (folder / name).touch()
    >>> [Path(p).relative_to(folder).as_posix() for p in scan_images(folder)]
    ['a.jpeg', 'batch2/b.PNG']
    """
    folder = Path(folder)
    found = []
    for entry in folder.rglob("*"):
        if any(part.startswith(".") for part in entry.relative_to(folder).parts):
            continue
        if entry.suffix.lower() in IMAGE_SUFFIXES and not entry.is_dir():
            found.append(str(entry))
    return sorted(found)


def _warn_left_out(root, default, found):
    """Warn about images directly in ``root`` and about a single class.

    ``found`` holds the labels of the class folders that have images.
    """
    loose = sorted(
        entry.name
        for entry in root.iterdir()
        if not _is_hidden(entry)
        and not entry.is_dir()
        and entry.suffix.lower() in IMAGE_SUFFIXES
    )
    if loose:
        warnings.warn(
            f"{len(loose)} image file(s) directly in {str(root)!r} belong to no "
            f"class folder and are left out: {', '.join(loose[:5])}"
            + (" ..." if len(loose) > 5 else ""),
            UserWarning,
            stacklevel=3,
        )
    if len(found) != 1:
        return
    missing = sorted(set(DEFAULT_CLASS_NAMES.values()) - found) if default else []
    names = ", ".join(TARGET_NAMES[label] for label in missing)
    (only,) = found
    warnings.warn(
        f"{str(root)!r} holds images of one class only "
        f"({TARGET_NAMES[only] if default else only}"
        f"{f'; no images of {names}' if names else ''}): they can be scored "
        "but not trained on.",
        UserWarning,
        stacklevel=3,
    )


def find_unreadable_images(paths, *, n_jobs="auto", max_pixels=100_000_000):
    """Find every image file that cannot be decoded, with the reason.

    Decode each file at a small size (fast for JPEG) and collect the
    failures, so unreadable files can be dropped, together with their labels,
    before fitting.

    Parameters
    ----------
    paths : list, 1-D array, pandas Series or array of shape (n, 1)
        Image file paths.
    n_jobs : int, None or "auto", default="auto"
        Threads that decode in parallel (as in
        :class:`~sklearn_pneumo.ImageLoader`: ``"auto"`` uses every core from
        16 files on).
    max_pixels : int or None, default=100_000_000
        Images with more pixels count as unreadable.

    Returns
    -------
    list of (str, str)
        ``(path, reason)`` for each unreadable file; empty when all are fine.

    Examples
    --------
    >>> from sklearn_pneumo.datasets import find_unreadable_images
    >>> find_unreadable_images(["missing.jpeg"])
    [('missing.jpeg', 'file not found')]
    """
    _, failures = decode_all(
        paths, decode_size=(8, 8), max_pixels=max_pixels, n_jobs=n_jobs
    )
    return failures


def load_image_folder(
    root,
    *,
    class_names=None,
    labels="index",
    label_from=None,
    validate=False,
    n_jobs="auto",
    return_groups=False,
):
    """List the images of a folder with one subfolder per class.

    The paper's layout: ``root/NORMAL/*.jpeg`` and ``root/PNEUMONIA/*.jpeg``
    (``NEUMONIA`` too, in any case). Each class folder is searched by
    :func:`scan_images`, the rule the command line uses: images at any
    depth (``NORMAL/batch2/*.jpeg`` are normal too), by their ending
    (``.jpg``, ``.jpeg``, ``.png``, ``.bmp``, ``.tif``, ``.tiff``, ``.gif``,
    ``.webp``, ``.dcm``, ``.dicom``), hidden entries skipped, and entries
    that cannot be read (a broken link) listed, to fail by name when read.
    Image files directly in ``root`` belong to no class: they are left out
    with a warning naming them, and so is a default class with no folder.

    Parameters
    ----------
    root : str or os.PathLike
        The folder, e.g. ``chest_xray/train``.
    class_names : dict, "folders" or None, default=None
        Maps subfolder names (any case) to labels. ``None`` means
        ``{"normal": 0, "pneumonia": 1, "neumonia": 1}``; ``"folders"``
        makes every subfolder a class of its own, labelled by its name
        (any number of classes, e.g. ``NORMAL``, ``PNEUMONIA``, ``COVID``).
    labels : {"index", "name"}, default="index"
        What ``y`` holds: the label of ``class_names`` (0 normal, 1
        pneumonia by default), or a class name ("NORMAL", "PNEUMONIA" by
        default; the folder name with a custom ``class_names``). Names follow
        the data through: a model fitted on them predicts names, and its
        plots and ``predict_files`` CSV show them.
    label_from : callable or None, default=None
        Label each file by ``label_from(path)`` instead of by its folder,
        e.g. :func:`pneumonia_type` for normal, bacterial and viral
        X-rays: ``load_image_folder(root, label_from=pneumonia_type)``.
    validate : bool, default=False
        Decode every file and raise one error listing all unreadable ones.
    n_jobs : int, None or "auto", default="auto"
        Threads used by ``validate`` (``"auto"``: every core from 16 files on).
    return_groups : bool, default=False
        Also return the patient of each file (:func:`patient_groups`), for
        ``groups=`` in grouped cross-validation.

    Returns
    -------
    paths : ndarray of str of shape (n,)
        Sorted by class folder, then file name.
    y : ndarray of shape (n,)
        The label (int) or class name (str) of each path.
    groups : ndarray of str of shape (n,)
        The patient of each path; only if ``return_groups`` is True.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is a file.
    ValueError
        If a subfolder is not a known class, no image is found, or
        (``validate=True``) some files cannot be decoded.

    Examples
    --------
    >>> from sklearn_pneumo.datasets import load_image_folder
    >>> from sklearn_pneumo.datasets import load_chest_xray_sample
    >>> paths, y = load_chest_xray_sample()
    >>> root = Path(paths[0]).parents[1]
    >>> paths, y, groups = load_image_folder(root, return_groups=True)
    >>> y.tolist() == [0] * 8 + [1] * 8, groups[:2].tolist()
    (True, ['NORMAL2-IM-1427', 'NORMAL2-IM-1430'])
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"Image folder {str(root)!r} does not exist.")
    if not root.is_dir():
        raise NotADirectoryError(f"{str(root)!r} is a file, not a folder of images.")
    if labels not in ("index", "name"):
        raise ValueError(f"labels must be 'index' or 'name', got {labels!r}.")
    if label_from is not None and not callable(label_from):
        raise TypeError(f"label_from must be callable, got {label_from!r}.")
    default = class_names is None
    class_names = DEFAULT_CLASS_NAMES if default else class_names
    paths, targets, found = [], [], set()
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not _is_hidden(p)):
        label = _class_label(folder, class_names)
        images = scan_images(folder)
        if images:
            found.add(label)
        if labels == "name":
            label = TARGET_NAMES[label] if default else folder.name
        paths += images
        targets += [label] * len(images)
    _warn_left_out(root, default, found)
    if not paths:
        raise ValueError(
            f"No images found in {str(root)!r}: expected class subfolders "
            "(NORMAL, PNEUMONIA) holding image files."
        )
    if validate:
        failures = find_unreadable_images(paths, n_jobs=n_jobs)
        if failures:
            raise ImageLoadError(failures)
    if label_from is not None:
        targets = [label_from(path) for path in paths]
    paths, targets = np.array(paths, dtype=str), np.array(targets)
    if return_groups:
        return paths, targets, patient_groups(paths)
    return paths, targets
