"""scikit-learn compatible pneumonia classification from chest X-rays."""

from ._batch import predict_files
from ._classifier import CNNClassifier
from ._evaluation import evaluate_binary, format_report
from ._gradcam import gradcam_heatmaps
from ._grayscale import GrayscaleResize
from ._loader import ImageLoader, ImageLoadError
from ._network import build_cnn
from ._persistence import load_model, save_model
from ._pipeline import make_pneumo_ensemble, make_pneumo_pipeline, preset_settings

__version__ = "0.1.0"

__all__ = [
    "CNNClassifier",
    "GrayscaleResize",
    "ImageLoadError",
    "ImageLoader",
    "build_cnn",
    "evaluate_binary",
    "format_report",
    "gradcam_heatmaps",
    "load_model",
    "make_pneumo_ensemble",
    "make_pneumo_pipeline",
    "predict_files",
    "preset_settings",
    "save_model",
]
