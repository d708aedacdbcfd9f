"""scikit-learn compatible pneumonia classification from chest X-rays.

The image transformers, the evaluation helpers, the datasets and the ONNX
scorer (:func:`load_onnx`, ``load_pretrained(runtime="onnx")``) import
without TensorFlow; the network, the classifier and everything that holds
one (pipelines, persistence, Grad-CAM) import it on first use, with its
C++ start-up log hidden unless ``TF_CPP_MIN_LOG_LEVEL`` is set (set it to 0
to see that log).
"""

import importlib

from ._ensemble import PneumoEnsemble
from ._evaluation import (
    evaluate_binary,
    evaluate_multiclass,
    expected_calibration_error,
    format_report,
    proportion_interval,
)
from ._grayscale import GrayscaleResize
from ._loader import ImageLoader, ImageLoadError
from ._model_file import ModelFileError
from ._onnx import OnnxScorer, export_onnx, load_onnx
from ._predict_files import predict_files
from ._pretrained import load_pretrained, pretrained_record
from ._prior_shift import PriorShiftAdapter, measure_source_priors
from ._report import review_report
from ._site_warning import measure_review_cut
from ._two_stage import TwoStageClassifier
from ._version import __version__ as __version__
from ._walk import fitted_networks

#: Names whose modules import TensorFlow, and those modules.
_LAZY = {
    "CNNClassifier": "._classifier",
    "build_cnn": "._network",
    "FusedBatchNormalization": "._fused_batch_norm",
    "gradcam_heatmaps": "._gradcam",
    "load_model": "._persistence",
    "save_model": "._persistence",
    "make_pneumo_ensemble": "._factories",
    "make_pneumo_pipeline": "._factories",
    "PneumoPipeline": "._pipeline",
    "preset_settings": "._factories",
}

__all__ = [
    "CNNClassifier",
    "FusedBatchNormalization",
    "GrayscaleResize",
    "ImageLoadError",
    "ModelFileError",
    "ImageLoader",
    "OnnxScorer",
    "PneumoEnsemble",
    "PneumoPipeline",
    "PriorShiftAdapter",
    "TwoStageClassifier",
    "build_cnn",
    "evaluate_binary",
    "evaluate_multiclass",
    "expected_calibration_error",
    "export_onnx",
    "fitted_networks",
    "format_report",
    "gradcam_heatmaps",
    "load_model",
    "load_onnx",
    "load_pretrained",
    "make_pneumo_ensemble",
    "make_pneumo_pipeline",
    "measure_review_cut",
    "measure_source_priors",
    "predict_files",
    "preset_settings",
    "pretrained_record",
    "proportion_interval",
    "review_report",
    "save_model",
]


def __getattr__(name):
    if name in _LAZY:
        from ._tensorflow_log import import_tensorflow_quietly

        import_tensorflow_quietly()
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
