"""The trained model that ships with the package."""

import json
from importlib import resources

_FOLDER = resources.files("sklearn_pneumo") / "pretrained"
#: The shipped model, its ONNX form and the record of how it was made.
MODEL_FILE = "pneumo_150.pneumo"
ONNX_FILE = "pneumo_150.onnx.zip"
RECORD_FILE = "pneumo_150.json"


def pretrained_record():
    """How the shipped model was trained, and what it scored.

    Written by ``benchmarks/train_pretrained.py`` next to the model: the
    configuration and its settings, the training data, the training time,
    the patient-grouped validation figures of the same configuration (from
    ``benchmarks/bench_accuracy.py``), the decision threshold chosen there,
    and the probabilities the model gives the bundled sample X-rays (so a
    rerun of the script, or a load on another machine, can be checked).

    Returns
    -------
    dict

    Examples
    --------
    >>> from sklearn_pneumo import pretrained_record
    >>> record = pretrained_record()
    >>> record["image_size"]
    [150, 150]
    """
    return json.loads((_FOLDER / RECORD_FILE).read_text())


def load_pretrained(*, input="paths", test_time_augmentation=True, runtime="keras"):
    """The pipeline trained on the public dataset's whole ``train/`` folder.

    A fitted :func:`~sklearn_pneumo.make_pneumo_ensemble` pipeline
    (``load``, ``resize``, ``ensemble``: two networks from different seeds,
    each averaging five test-time views) at 150x150, trained on the 5,216
    X-rays of Kermany et al.'s ``train/`` folder; see
    ``docs/model_card.md`` and :func:`pretrained_record` for its settings,
    figures and limits. For research and teaching: it is not a medical
    device.

    It is loaded with :func:`~sklearn_pneumo.load_model` (no code from the
    file runs) and is used like any fitted pipeline: ``predict``,
    ``predict_proba``, ``assess`` (with outlier flags and uncertainty),
    ``is_outlier``, :func:`~sklearn_pneumo.predict_files`,
    :func:`~sklearn_pneumo.gradcam_heatmaps`, or
    ``FixedThresholdClassifier(model, threshold=...)`` with the threshold
    of :func:`pretrained_record`.

    Parameters
    ----------
    input : {"paths", "images"}, default="paths"
        What ``X`` will hold: image file paths, or already decoded images
        (2-D grayscale or 3-D color arrays, any size; the ``load`` step is
        then ``"passthrough"``).
    test_time_augmentation : bool, default=True
        Score five views of each X-ray with each network, as validated
        (see the model card); ``False`` scores each X-ray once per network:
        about five times faster, less robust to exposure and framing, and
        without the views' share of the ``uncertainty``. It is the
        returned pipeline's ``ensemble__test_time_augmentation``
        parameter, which ``set_params`` changes later.
    runtime : {"keras", "onnx"}, default="keras"
        ``"keras"``: the fitted pipeline, with TensorFlow. ``"onnx"``: its
        ONNX form (:func:`~sklearn_pneumo.export_onnx` of the same model,
        shipped beside it), scored by ONNX Runtime without TensorFlow
        (``pip install "sklearn-pneumo[onnx]"``); the same answers, within
        1e-4, at the same speed from files (its ten network passes per
        X-ray dominate; ``benchmarks/bench_predict.py``), and it loads in
        0.1 s instead of several seconds with TensorFlow.

    Returns
    -------
    PneumoPipeline or OnnxScorer
        Classes 0 (normal) and 1 (pneumonia).

    Examples
    --------
    >>> from sklearn_pneumo import load_pretrained
    >>> from sklearn_pneumo.datasets import load_chest_xray_sample
    >>> paths, y = load_chest_xray_sample()
    >>> model = load_pretrained()
    >>> float((model.predict(paths) == y).mean())  # X-rays it never saw
    0.875
    """
    if input not in ("paths", "images"):
        raise ValueError(f"input must be 'paths' or 'images', got {input!r}.")
    if runtime == "onnx":
        from ._loader import ImageLoader
        from ._onnx import load_onnx

        with resources.as_file(_FOLDER / ONNX_FILE) as path:
            scorer = load_onnx(path)
        if input == "images":
            scorer.steps = [s for s in scorer.steps if not isinstance(s, ImageLoader)]
        scorer.test_time_augmentation = test_time_augmentation
        return scorer
    if runtime != "keras":
        raise ValueError(f"runtime must be 'keras' or 'onnx', got {runtime!r}.")
    from ._persistence import load_model
    from ._tensorflow_log import import_tensorflow_quietly

    import_tensorflow_quietly()
    with resources.as_file(_FOLDER / MODEL_FILE) as path:
        model = load_model(path)
    if input == "images":
        model.set_params(load="passthrough")
    return model.set_params(ensemble__test_time_augmentation=test_time_augmentation)
