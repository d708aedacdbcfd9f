"""8-bit networks in an ONNX archive: quantized, then checked before they are kept.

ONNX Runtime's static quantization, in the settings measured fastest on
this project's CPUs (``benchmarks/bench_predict.py``): QOperator format
(quantized operators, not quantize-dequantize pairs, which ran at 0.55x
float), unsigned 8-bit activations whose ranges are calibrated on the
model's own X-rays, signed 8-bit weights per output channel. An archive of
8-bit networks is written only when, on labelled held-out X-rays, it
ranks them as the float networks do (ROC AUC within :data:`MAX_AUC_LOSS`)
and gives the same labels, and the same outlier flags, to at least
:data:`MIN_AGREEMENT` of them.
"""

import logging
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.utils import Bunch

#: Most ROC AUC an 8-bit archive may lose against the float one.
MAX_AUC_LOSS = 0.003
#: Least share of held-out X-rays that must get the float archive's label,
#: and its outlier flag.
MIN_AGREEMENT = 0.99
SETTINGS = {
    "format": "QOperator",
    "activations": "uint8, calibrated (MinMax)",
    "weights": "int8 in a 7-bit range, per channel",
}


def _roc_auc(y, proba, classes):
    if len(classes) == 2:
        return float(roc_auc_score(np.asarray(y) == classes[1], proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr", labels=classes))


def _ancestors(model, names):
    """The names of the nodes of ONNX ``model`` that the tensors ``names`` need."""
    producers = {out: node for node in model.graph.node for out in node.output}
    seen, stack = set(), list(names)
    while stack:
        node = producers.get(stack.pop())
        if node is not None and node.name not in seen:
            seen.add(node.name)
            stack += list(node.input)
    return seen


def _heatmap_only_nodes(model):
    """The nodes of ONNX ``model`` that only its last output (heatmaps) needs.

    They stay in float32: Grad-CAM's class masks and products lose their
    meaning in 8 bits, and cost little next to the convolutions.
    """
    *others, heatmap = [output.name for output in model.graph.output]
    return sorted(_ancestors(model, [heatmap]) - _ancestors(model, others))


def _shallow_feature_nodes(model, heatmap):
    """The nodes of ONNX ``model`` that the outlier model's shallow features need.

    The features of a network's graph (``_feature_gaussians.feature_network``)
    follow its probabilities: the input's layout, then, where the network
    has feature maps, the first block's average maps and the last block's.
    The first two stay in float32 (the input's resizing and the first
    block, ``_feature_gaussians.first_block``, which bfloat16 inference
    keeps in float32 too: a small share of the work, the input having one
    channel). The
    Gaussians there are narrow: on the shipped network, 8-bit activations
    of the first block moved its X-rays' distance there from 0.14 to 34
    held-out units (median), and every X-ray was flagged.
    """
    outputs = [output.name for output in model.graph.output]
    features = outputs[1 : len(outputs) - heatmap]
    shallow = features[:2] if len(features) == 3 else features[:1]
    return sorted(_ancestors(model, shallow))


def _quantized_graph(graph, images, folder, name, heatmap=False):
    """``graph`` (bytes) with 8-bit weights and activations calibrated on ``images``.

    With ``heatmap``, the nodes only the heatmap output needs stay in float.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Batches(CalibrationDataReader):
        def __init__(self, input_name):
            self.batches = iter(
                {input_name: images[i : i + 32]} for i in range(0, len(images), 32)
            )

        def get_next(self):
            return next(self.batches, None)

    import onnx

    source, target = Path(folder) / f"{name}.float", Path(folder) / f"{name}.int8"
    source.write_bytes(graph)
    model = onnx.load_from_string(graph)
    input_name = model.graph.input[0].name
    excluded = sorted(
        set(_heatmap_only_nodes(model) if heatmap else [])
        | set(_shallow_feature_nodes(model, heatmap))
    )
    # ONNX Runtime logs, on the root logger, every tensor it leaves in float
    # (shapes, indices) and advice to pre-process: none of it is the user's.
    logging.disable(logging.WARNING)
    try:
        # reduce_range: 7-bit weights. On x86 CPUs without VNNI, ONNX Runtime
        # multiplies uint8 activations by int8 weights in pairs summed to
        # int16, which saturates with full 8-bit weights: the same archive
        # then answers otherwise there (0.67 for 0.23) than on VNNI CPUs.
        quantize_static(
            str(source),
            str(target),
            Batches(input_name),
            quant_format=QuantFormat.QOperator,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            nodes_to_exclude=excluded,
        )
    finally:
        logging.disable(logging.NOTSET)
    return target.read_bytes()


def _answers(scorer, X):
    """``scorer``'s probabilities of ``X`` and its outlier flags, in one pass.

    The flags are None for a model without an outlier model.
    """
    if not hasattr(scorer, "is_outlier"):
        return scorer.predict_proba(X), None
    assessed = scorer.assess(X)
    return assessed.proba, assessed.outlier


def write_quantized(path, manifest, files, calibration, holdout):
    """Quantize every network of an archive, check it on ``holdout``, write it.

    Returns
    -------
    Bunch
        ``roc_auc`` (float networks), ``roc_auc_int8``, ``agreement`` (of
        the labels), ``outlier_agreement`` (of the flags, for a model with
        an outlier model) and the quantization settings.

    Raises
    ------
    ValueError
        Without ``calibration`` or ``holdout``, or when the 8-bit networks
        lose more than the bounds allow; then nothing is written.
    """
    from ._onnx import load_onnx, write_archive

    if calibration is None or holdout is None:
        raise ValueError(
            "quantize='int8' needs calibration= (a few hundred X-rays of the "
            "model's training source) and holdout=(X, y) (labelled X-rays it was "
            "not fitted on): the 8-bit networks are kept only if they answer "
            "as the float ones do there."
        )
    X_holdout, y_holdout = holdout
    with tempfile.TemporaryDirectory() as folder:
        float_path = Path(folder) / "float.onnx.zip"
        write_archive(float_path, manifest, files)
        float_scorer = load_onnx(float_path)
        rows = np.asarray(float_scorer._rows(calibration)[0], dtype=np.float32)
        quantized = dict(files)
        for entry in manifest["members"]:
            height, width = entry["image_size"]
            images = rows.reshape(-1, height, width, 1)
            quantized[entry["network"]] = _quantized_graph(
                files[entry["network"]],
                images,
                folder,
                entry["network"],
                heatmap=entry.get("heatmap", False),
            )
        classes = float_scorer.classes_.tolist()
        flags = hasattr(float_scorer, "is_outlier")
        expected, expected_flags = _answers(float_scorer, X_holdout)
        report = Bunch(
            **SETTINGS,
            calibration_xrays=len(rows),
            holdout_xrays=len(expected),
            roc_auc=_roc_auc(y_holdout, expected, classes),
        )
        int8_path = Path(folder) / "int8.onnx.zip"
        write_archive(int8_path, {**manifest, "quantization": dict(report)}, quantized)
        got, got_flags = _answers(load_onnx(int8_path), X_holdout)
    report.roc_auc_int8 = _roc_auc(y_holdout, got, classes)
    report.agreement = float(np.mean(got.argmax(axis=1) == expected.argmax(axis=1)))
    if flags:
        report.outlier_agreement = float(np.mean(got_flags == expected_flags))
    if (
        report.roc_auc_int8 < report.roc_auc - MAX_AUC_LOSS
        or report.agreement < MIN_AGREEMENT
        or (flags and report.outlier_agreement < MIN_AGREEMENT)
    ):
        flagged = (
            f", the same outlier flag for {report.outlier_agreement:.1%} "
            f"({got_flags.sum()} flagged against {expected_flags.sum()})"
            if flags
            else ""
        )
        raise ValueError(
            f"the 8-bit networks lose too much on the {report.holdout_xrays} "
            f"held-out X-rays: ROC AUC {report.roc_auc_int8:.4f} against "
            f"{report.roc_auc:.4f} in float (at most {MAX_AUC_LOSS} may be "
            f"lost), the same label for {report.agreement:.1%}{flagged} (at "
            f"least {MIN_AGREEMENT:.0%} each); nothing was written. Calibrate "
            "on more X-rays, or keep the float archive."
        )
    write_archive(path, {**manifest, "quantization": dict(report)}, quantized)
    return report
