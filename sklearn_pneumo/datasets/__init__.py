"""Data sets: the paper's folder layout and small bundled real X-rays."""

from .._class_names import TARGET_NAMES
from ._bundled import (
    load_chest_xray_224,
    load_chest_xray_sample,
    load_pneumoniamnist,
)
from ._folder import (
    IMAGE_SUFFIXES,
    find_unreadable_images,
    load_image_folder,
    patient_groups,
    pneumonia_type,
    scan_images,
)
from ._outlier_corpus import make_outlier_corpus

__all__ = [
    "IMAGE_SUFFIXES",
    "TARGET_NAMES",
    "find_unreadable_images",
    "load_chest_xray_224",
    "load_chest_xray_sample",
    "load_image_folder",
    "load_pneumoniamnist",
    "make_outlier_corpus",
    "patient_groups",
    "pneumonia_type",
    "scan_images",
]
