"""Normal, bacterial or viral: a three-class pipeline on a patient-grouped split.

The training folder's patients are split 80/20 (``StratifiedGroupKFold``,
as every benchmark here); the pneumonia type is read from the file names
(``pneumonia_type``). A ``tuned`` pipeline (class weights, no sampler;
early stopping on a patient-grouped hold-out of its training part) is
fitted on the training part and scored on the validation part: accuracy,
balanced accuracy, each class's recall and precision, macro one-vs-rest ROC
AUC, and bacterial-vs-viral ROC AUC from the model's own probabilities
(P(viral) / (P(bacterial) + P(viral)) on the X-rays with pneumonia), and
pneumonia-vs-normal ROC AUC from 1 - P(normal), to compare with the binary
model.

``--config stretch_exposure`` adds the augmentations and the mixed bfloat16
training of ``bench_accuracy.py``'s configuration of that name (the shipped
binary model's); ``tuned_bf16`` is the ``tuned`` preset trained in mixed
bfloat16 in batches of 64, for speed. Networks trained in bfloat16 predict,
and fit their outlier model, in float32. ``--epochs N`` trains N epochs at
most (default: the preset's 40, with early stopping); ``--canonical`` trims
uniform borders and equalizes contrast in the ``resize`` step
(``GrayscaleResize(border="trim", contrast="equalize")``); ``--save FILE``
keeps the fitted pipeline (``save_model``) for ``train_pretrained.py``;
``--model FILE`` scores such a saved pipeline instead of fitting one (give
the settings it was fitted with, for the record); ``--site-shift`` also
scores every copy of the validation part that ``bench_site_shift.py`` builds
(``_validation.SITE_CHANGES``): three-class accuracy, viral recall, both ROC
AUCs and the share flagged. ``--clahe`` and ``--reframe`` set the network's
shares of contrast-processed and re-framed training X-rays; ``--flip``
adds left-right flips to its training augmentation (``model__flip``).
``--pneumonia-only STAGE`` fits the network on the training part's
pneumonia X-rays alone (bacterial or viral) and scores it composed with
STAGE (``TwoStageClassifier.from_fitted``), a saved model fitted on the same
training part (the shipped type network is), whose P(normal) it takes;
``--save`` then keeps the type network.

    python benchmarks/bench_multiclass.py --train-dir chest_xray/train \\
        --image-size 64 --epochs 12 --out multiclass.json
    python benchmarks/bench_multiclass.py --train-dir chest_xray/train \\
        --image-size 150 --config tuned_bf16 --site-shift --save three.pneumo \\
        --out multiclass_150.json
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _validation import patient_split, site_copies
from bench_accuracy import FILE_CONFIGS
from sklearn.metrics import roc_auc_score

from sklearn_pneumo import (
    TwoStageClassifier,
    evaluate_multiclass,
    load_model,
    make_pneumo_pipeline,
    save_model,
)
from sklearn_pneumo.datasets import pneumonia_type


def type_figures(y, proba, classes):
    """Bacterial-vs-viral and pneumonia-vs-normal ROC AUC from 3-class probabilities.

    Bacterial vs viral: P(viral) / (P(bacterial) + P(viral)) on the X-rays
    with pneumonia; pneumonia vs normal: 1 - P(normal).
    """
    sick = y != "normal"
    viral = proba[:, classes.index("viral")]
    bacterial = proba[:, classes.index("bacterial")]
    share_viral = viral[sick] / (viral[sick] + bacterial[sick])
    return {
        "bacterial_vs_viral_roc_auc": float(
            roc_auc_score(y[sick] == "viral", share_viral)
        ),
        "pneumonia_vs_normal_roc_auc": float(
            roc_auc_score(sick, 1 - proba[:, classes.index("normal")])
        ),
    }


def site_shift(model, paths, y):
    """Figures and outlier flags on every site-shifted copy of ``paths``.

    ``model`` scores decoded images (a pipeline past its loader).
    """
    classes = list(model.classes_)
    # The framing copy crops by the binary class (normal or pneumonia).
    copies = site_copies(paths, (y != "normal").astype(int))
    report = {}
    for name, images in copies.items():
        result = model.assess(images)
        predicted = np.asarray(classes)[result.proba.argmax(axis=1)]
        report[name] = {
            "accuracy": float((predicted == y).mean()),
            "viral_recall": float((predicted[y == "viral"] == "viral").mean()),
            **type_figures(y, result.proba, classes),
            "flagged": float(result.outlier.mean()),
        }
        print(
            f"  {name:<16} accuracy {report[name]['accuracy']:.3f}  pneumonia AUC "
            f"{report[name]['pneumonia_vs_normal_roc_auc']:.4f}  bacterial-viral "
            f"AUC {report[name]['bacterial_vs_viral_roc_auc']:.3f}  flagged "
            f"{report[name]['flagged']:.1%}",
            flush=True,
        )
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, help="at most (default: the preset's)")
    parser.add_argument(
        "--config", choices=["tuned", "tuned_bf16", "stretch_exposure"], default="tuned"
    )
    parser.add_argument("--save", type=Path, help="save the fitted pipeline there")
    parser.add_argument(
        "--canonical",
        action="store_true",
        help="trim uniform borders and equalize contrast (resize step)",
    )
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument(
        "--site-shift",
        action="store_true",
        help="also score every site-shifted copy of the validation part",
    )
    parser.add_argument(
        "--model", type=Path, help="score this saved pipeline instead of fitting"
    )
    parser.add_argument("--clahe", type=float, help="the network's clahe share")
    parser.add_argument("--reframe", type=float, help="the network's reframe share")
    parser.add_argument("--flip", action="store_true", help="train on flips too")
    parser.add_argument(
        "--pneumonia-only",
        type=Path,
        metavar="STAGE",
        help="fit the network on the pneumonia X-rays alone and compose it with "
        "STAGE, a saved model fitted on the same training part, for P(normal)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    splits, train_groups = patient_split(args.train_dir, 0, pneumonia_type)
    (train_paths, train_y), (val_paths, val_y) = splits["train"], splits["val"]
    size = (args.image_size, args.image_size)
    params = {}
    if args.config == "tuned_bf16":
        params = {"model__dtype_policy": "mixed_bfloat16", "batch_size": 64}
    elif args.config != "tuned":
        params = dict(FILE_CONFIGS[args.config]["params"])
    if args.config != "tuned":
        params["inference_dtype_policy"] = "float32"
    if args.epochs is not None:
        params["epochs"] = args.epochs
    for share in ("clahe", "reframe"):
        if getattr(args, share) is not None:
            params[share] = getattr(args, share)
    if args.flip:
        params["model__flip"] = True
    pipe = make_pneumo_pipeline(
        size, preset="tuned", random_state=args.random_state, **params
    )
    if args.canonical:
        pipe.set_params(resize__border="trim", resize__contrast="equalize")
    start = time.perf_counter()
    if args.model:
        pipe = load_model(args.model)
    elif args.pneumonia_only:
        sick = train_y != "normal"
        pipe.fit(train_paths[sick], train_y[sick], cnn__groups=train_groups[sick])
    else:
        pipe.fit(train_paths, train_y, cnn__groups=train_groups)
    fit_seconds = float("nan") if args.model else time.perf_counter() - start
    network, model = pipe, pipe
    if args.pneumonia_only:
        stage = load_model(args.pneumonia_only)
        model = TwoStageClassifier.from_fitted(stage, pipe)
        images_model = TwoStageClassifier.from_fitted(stage[1:], pipe[1:])
    else:
        images_model = pipe[1:]  # decoded images: past the loader
    pipe = model
    proba = pipe.predict_proba(val_paths)
    scores = evaluate_multiclass(val_y, proba, pipe.classes_)
    classes = list(pipe.classes_)
    scores.update(type_figures(val_y, proba, classes))
    scores["fit_seconds"] = fit_seconds
    history = network[-1].history_
    scores["epochs_run"] = len(history["loss"])
    # The weights kept: those of the best hold-out loss, under early stopping.
    scores["best_epoch"] = int(np.argmin(history.get("val_loss", history["loss"]))) + 1
    scores["image_size"] = list(size)
    scores["config"], scores["canonical"] = args.config, args.canonical
    scores["pneumonia_only"] = args.pneumonia_only is not None
    scores["settings"] = {
        key: value for key, value in params.items() if not callable(value)
    }
    fitted_on = (train_y != "normal").sum() if args.pneumonia_only else len(train_y)
    scores["train_files"], scores["val_files"] = int(fitted_on), len(val_y)
    print(
        f"{len(train_y)} training, {len(val_y)} validation X-rays (patient-grouped), "
        f"{args.image_size} px, {args.config}, {scores['epochs_run']} epochs, "
        f"fit {fit_seconds:.0f} s"
    )
    print(
        f"accuracy {scores['accuracy']:.3f}, balanced {scores['balanced_accuracy']:.3f}"
        f", macro ROC AUC {scores['roc_auc']:.3f}, bacterial vs viral ROC AUC "
        f"{scores['bacterial_vs_viral_roc_auc']:.3f}, pneumonia vs normal ROC AUC "
        f"{scores['pneumonia_vs_normal_roc_auc']:.3f}"
    )
    for name, figures in scores["per_class"].items():
        print(
            f"  {name:<10} recall {figures['recall']:.3f}  precision "
            f"{figures['precision']:.3f}  ROC AUC {figures['roc_auc']:.3f}"
        )
    print("confusion matrix (rows true, columns predicted):", [str(c) for c in classes])
    print(np.asarray(scores["confusion_matrix"]))
    if args.site_shift:
        scores["site_shift"] = site_shift(images_model, val_paths, val_y)
    if args.save:
        save_model(network, args.save, optimizer=False)
    if args.out:
        args.out.write_text(json.dumps(scores, indent=2, default=float))


if __name__ == "__main__":
    main()
