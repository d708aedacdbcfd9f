"""The trained model that ships with the package."""

import json
from importlib import resources

from ._site_warning import view_settings
from ._walk import final_step

_FOLDER = resources.files("sklearn_pneumo") / "pretrained"
#: The stem of each shipped model's files (``.pneumo``, its ONNX form
#: ``.onnx.zip`` and the record of how it was made, ``.json``), by the
#: classes it tells apart.
STEMS = {
    "normal-pneumonia": "pneumo_150",
    "normal-bacterial-viral": "pneumo_type_150",
}


def _stem(classes):
    if classes not in STEMS:
        raise ValueError(
            f"classes must be one of {', '.join(map(repr, STEMS))}, got {classes!r}."
        )
    return STEMS[classes]


def pretrained_record(classes="normal-pneumonia"):
    """How a shipped model was trained, and what it scored.

    Written by ``benchmarks/train_pretrained.py`` next to the model: the
    configuration and its settings, the training data, the training time,
    the patient-grouped validation figures of the same configuration (from
    ``benchmarks/bench_accuracy.py``), the decision threshold chosen there,
    and the probabilities the model gives the bundled sample X-rays (so a
    rerun of the script, or a load on another machine, can be checked).

    Parameters
    ----------
    classes : {"normal-pneumonia", "normal-bacterial-viral"}, \
            default="normal-pneumonia"
        Which shipped model, as :func:`load_pretrained` takes it.

    Returns
    -------
    dict

    Examples
    --------
    >>> from sklearn_pneumo import pretrained_record
    >>> record = pretrained_record()
    >>> record["image_size"]
    [150, 150]
    >>> pretrained_record("normal-bacterial-viral")["classes"]
    ['bacterial', 'normal', 'viral']
    """
    return json.loads((_FOLDER / f"{_stem(classes)}.json").read_text())


def load_pretrained(
    classes="normal-pneumonia",
    *,
    input="paths",
    test_time_augmentation=None,
    runtime="keras",
):
    """A pipeline trained on the public dataset's whole ``train/`` folder.

    A fitted :func:`~sklearn_pneumo.make_pneumo_pipeline` pipeline
    (``load``, ``resize``, ``cnn``: one network averaging five test-time
    views) at 150x150, trained on the 5,216 X-rays of Kermany et al.'s
    ``train/`` folder, a share of them contrast-processed with CLAHE
    (``clahe``), that trims uniform borders before resizing
    (``resize__border="trim"``); see
    ``docs/model_card.md`` and :func:`pretrained_record` for its settings,
    figures and limits. For research and teaching: it is not a medical
    device.

    It is loaded with :func:`~sklearn_pneumo.load_model` (no code from the
    file runs) and is used like any fitted pipeline: ``predict``,
    ``predict_proba``, ``assess`` (with outlier flags and uncertainty),
    ``is_outlier``, :func:`~sklearn_pneumo.predict_files`,
    :func:`~sklearn_pneumo.gradcam_heatmaps`, or
    ``FixedThresholdClassifier(model, threshold=...)`` with the threshold
    of :func:`pretrained_record`. Its final step carries the record's review
    cut (``review_uncertainty_`` and ``review_share_``, see
    :func:`~sklearn_pneumo.measure_review_cut`) where it scores the
    test-time views it was validated with, so its reports and
    batch runs warn where it is less sure of a site's X-rays than of its
    validation ones.

    ``classes="normal-bacterial-viral"`` answers with three classes,
    ``"bacterial"``, ``"normal"``, ``"viral"`` (in that ``classes_``
    order), through the default model: a
    :class:`~sklearn_pneumo.TwoStageClassifier` whose ``P(normal)`` is the
    default model's, and which splits the rest between the types as the
    shipped type network does (one network at 150x150 trained with class
    weights on bacterial and viral X-rays alone, the types read from the
    file names, :func:`~sklearn_pneumo.datasets.pneumonia_type`; its
    ``pneumonia_type_``). So its answer to "pneumonia or not" is always
    the default model's. The type network scores each X-ray once unless
    ``test_time_augmentation`` is True.

    Parameters
    ----------
    classes : {"normal-pneumonia", "normal-bacterial-viral"}, \
            default="normal-pneumonia"
        The question the model answers.
    input : {"paths", "images"}, default="paths"
        What ``X`` will hold: image file paths, or already decoded images
        (2-D grayscale or 3-D color arrays, any size; the ``load`` step is
        then ``"passthrough"``).
    test_time_augmentation : bool or None, default=None
        Score five views of each X-ray; None keeps what the model was
        validated with: on for the default model (see the model card), off
        for the three-class one. ``False`` scores each X-ray once: about
        five times faster, less robust to
        exposure and framing, and without the views' share of the
        ``uncertainty``. It is the returned pipeline's
        ``cnn__test_time_augmentation`` parameter, which ``set_params``
        changes later. The record's review cut comes only with the views it
        was measured with (None, or True for the default model); with
        others, :func:`~sklearn_pneumo.measure_review_cut` measures one.
    runtime : {"keras", "onnx", "onnx-int8"}, default="keras"
        ``"keras"``: the fitted pipeline, with TensorFlow. ``"onnx"``: its
        ONNX form (:func:`~sklearn_pneumo.export_onnx` of the same model,
        shipped beside it), scored by ONNX Runtime without TensorFlow
        (``pip install "sklearn-pneumo[onnx]"``); the same answers, within
        1e-4, at the same speed from files (its five network passes per
        X-ray dominate; ``benchmarks/bench_predict.py``), and it loads in
        0.1 s instead of several seconds with TensorFlow. ``"onnx-int8"``:
        its 8-bit form (``export_onnx(..., quantize="int8")``, the first
        block in float32), about 1.5 times as fast from files on 2 cores
        with AVX-512 and VNNI, 1.3 with AVX2 alone
        (``benchmarks/bench_int8.py``); its manifest's
        ``quantization`` says what it was checked against (the binary model
        only).

    Returns
    -------
    PneumoPipeline, OnnxScorer or TwoStageClassifier
        Classes 0 (normal) and 1 (pneumonia); or the three named above, as a
        TwoStageClassifier of two pipelines or of two ONNX scorers.

    Examples
    --------
    >>> from sklearn_pneumo import load_pretrained
    >>> from sklearn_pneumo.datasets import load_chest_xray_sample
    >>> paths, y = load_chest_xray_sample()
    >>> model = load_pretrained()
    >>> float((model.predict(paths) == y).mean())  # X-rays it never saw
    0.75
    """
    stem = _stem(classes)
    if input not in ("paths", "images"):
        raise ValueError(f"input must be 'paths' or 'images', got {input!r}.")
    members = [_load(stem, input, runtime)]
    if classes == "normal-bacterial-viral":
        from ._two_stage import TwoStageClassifier

        members.insert(0, _load(STEMS["normal-pneumonia"], input, runtime))
        model = TwoStageClassifier.from_fitted(*members)
    else:
        model = members[0]
    final = final_step(model)
    measured = view_settings(final)  # the views the record's cut was measured with
    if test_time_augmentation is not None:
        for member in members:
            _set_test_time_augmentation(member, test_time_augmentation)
    review = pretrained_record(classes).get("review")
    if review is not None and view_settings(final) == measured:
        final.review_uncertainty_ = review["uncertainty"]
        final.review_share_ = review["share_above"]
        final.review_views_ = measured
    return model


def _load(stem, input, runtime):
    """The shipped model ``stem`` as shipped, in ``runtime``, for ``input``."""
    if runtime in ("onnx", "onnx-int8"):
        from ._loader import ImageLoader
        from ._onnx import load_onnx

        suffix = ".int8.onnx.zip" if runtime == "onnx-int8" else ".onnx.zip"
        if not (_FOLDER / f"{stem}{suffix}").is_file():
            raise ValueError(f"no {runtime} form of the {stem} model is shipped")
        with resources.as_file(_FOLDER / f"{stem}{suffix}") as path:
            scorer = load_onnx(path)
        if input == "images":
            scorer.steps = [s for s in scorer.steps if not isinstance(s, ImageLoader)]
        return scorer
    if runtime != "keras":
        raise ValueError(
            f"runtime must be 'keras', 'onnx' or 'onnx-int8', got {runtime!r}."
        )
    from ._persistence import load_model
    from ._tensorflow_log import import_tensorflow_quietly

    import_tensorflow_quietly()
    with resources.as_file(_FOLDER / f"{stem}.pneumo") as path:
        model = load_model(path)
    if input == "images":
        model.set_params(load="passthrough")
    return model


def _set_test_time_augmentation(model, value):
    """Score ``value``'s views with one shipped ``model`` (pipeline or ONNX scorer)."""
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        model.test_time_augmentation = value  # an OnnxScorer
        return
    final = model.steps[-1][0]  # "ensemble", or "cnn" for one network
    model.set_params(**{f"{final}__test_time_augmentation": value})
