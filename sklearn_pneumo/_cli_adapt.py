"""``sklearn-pneumo adapt``: a model adapted to a site's class shares, from its X-rays.

Its options and its ``run``, registered by the command line's dispatcher
(:mod:`sklearn_pneumo._cli`).
"""

from pathlib import Path

from sklearn.utils import Bunch

from ._class_names import class_display_names
from ._label_shift_check import unlike_source_warning
from ._pretrained import STEMS
from ._prior_shift import PRIOR_STRENGTH, flagged_rate
from ._site_warning import more_uncertain, review_cut, uncertainty_warning


def add_parser(commands):
    """Add the ``adapt`` subcommand to ``commands`` (argparse subparsers)."""
    adapt = commands.add_parser(
        "adapt",
        help="adapt a model to a site's share of each class, from its unlabeled X-rays",
        usage="sklearn-pneumo adapt [options] MODEL FOLDER --out FILE\n"
        "       sklearn-pneumo adapt [options] --pretrained FOLDER --out FILE",
        description="Score a site's X-rays (a folder, read at any depth; no "
        "label is read), estimate the site's share of each class from the "
        "model's own probabilities (EM of Saerens et al. 2002, from the shares "
        "the model learned on held-out X-rays; outliers left out), print the "
        "shares with a 95% bootstrap interval, and save the adapted model, "
        "which 'sklearn-pneumo predict' scores. A Keras model file gives a "
        "model file, an ONNX archive an ONNX archive. Warn where more of the "
        "site's answers lie above the model's review cut of uncertainty than "
        "of its validation X-rays: the shares estimated may then be wrong too, "
        "and the adapted model answers as the model does unless told otherwise.",
    )
    adapt.add_argument(
        "arguments",
        nargs="+",
        type=Path,
        metavar="MODEL FOLDER",
        help="a model file or ONNX archive (left out with --pretrained), then "
        "folders or image files of the site",
    )
    adapt.add_argument(
        "--pretrained",
        action="store_true",
        help="adapt the model that ships with the package",
    )
    adapt.add_argument(
        "--classes",
        choices=list(STEMS),
        default="normal-pneumonia",
        help="with --pretrained, which shipped model (default: normal-pneumonia)",
    )
    adapt.add_argument(
        "--onnx",
        action="store_true",
        help="with --pretrained, adapt its ONNX form and write an ONNX archive "
        "(needs no TensorFlow)",
    )
    adapt.add_argument(
        "--prior-strength",
        type=float,
        default=PRIOR_STRENGTH,
        metavar="N",
        help="keep the estimate near the shares the model learned, as if N more "
        f"X-rays of those shares had been seen (default: {PRIOR_STRENGTH:g}; 0 "
        "for plain EM)",
    )
    adapt.add_argument(
        "--probabilities",
        choices=["calibrated", "model"],
        default="calibrated",
        help="reweigh the probabilities calibrated on the model's hold-out "
        "(default: best where the site differs by its shares alone), or the "
        "model's own (at the shares it learned it answers as the model does: "
        "safer where the site's normal X-rays drift toward pneumonia)",
    )
    adapt.add_argument(
        "--on-uncertain-site",
        choices=["keep", "adapt"],
        default="keep",
        help="where the site differs by more than its class shares (the model "
        "is less sure of its X-rays than of its validation ones, scores them "
        "unlike any mix of its validation X-rays, or flags more of them than "
        "of those; each warns): keep the model's answers (default), or move "
        "them to the estimated shares all the same",
    )
    adapt.add_argument(
        "--out",
        type=Path,
        required=True,
        help="file to save the adapted model to (.pneumo, or .onnx.zip for an "
        "ONNX archive)",
    )
    return adapt


def _fitted(adapter, paths, log):
    """``adapter`` fitted on the readable ``paths``; unreadable ones are named."""
    from ._loader import ImageLoadError, left_out_message

    try:
        return adapter.fit(paths)
    except ImageLoadError as error:
        log(left_out_message(error.failures))
        unreadable = {path for path, _ in error.failures}
        return adapter.fit([path for path in paths if path not in unreadable])


def run(args, *, model_and_inputs, load_predictor, expand_inputs, check_output, log):
    """Adapt, print the shares, save; the command line's helpers are passed in."""
    from ._onnx import OnnxScorer, export_onnx, holds_archives
    from ._prior_shift import PriorShiftAdapter, source_priors

    model_file, inputs = model_and_inputs(args)
    if not inputs:
        raise ValueError(
            "give a model file and the site's folder, or --pretrained and the "
            "site's folder"
        )
    check_output(args.out)
    paths = expand_inputs(inputs)
    model = load_predictor(args, model_file)  # with --onnx, the shipped ONNX form
    onnx = isinstance(model, OnnxScorer)
    if not onnx and holds_archives(model):
        raise ValueError(
            "the three-class answer's ONNX form composes two archives (the "
            "pneumonia model's and the type network's), and adapt writes one: "
            "adapt its Keras form instead (without --onnx, --out FILE.pneumo; "
            "needs TensorFlow)"
        )
    if onnx != str(args.out).endswith(".onnx.zip"):
        adapts_to = (
            "an ONNX archive adapts to an .onnx.zip file"
            if onnx
            else "a Keras model adapts to a .pneumo file (--onnx for an archive)"
        )
        raise ValueError(f"--out {args.out}: {adapts_to}")
    source_priors(model)  # a model without them is refused before any scoring
    log(f"Scoring {len(paths)} X-ray(s) of the site to estimate its class shares")
    adapter = _fitted(
        PriorShiftAdapter(
            model,
            prior_strength=args.prior_strength,
            probabilities=args.probabilities,
            on_uncertain_site=args.on_uncertain_site,
            random_state=0,
        ),
        paths,
        log,
    )
    low, high = adapter.priors_interval_
    print(
        f"Estimated from {adapter.n_samples_} X-ray(s) "
        f"({adapter.n_outliers_} flagged as outliers and left out):"
    )
    names = class_display_names(adapter.classes_)
    for name, source, share, lo, hi in zip(
        names, adapter.source_priors_, adapter.priors_, low, high
    ):
        print(
            f"  {name}: {share:.3f} (95% interval {lo:.3f} to {hi:.3f}); the "
            f"model learned {source:.3f}"
        )
    if onnx:
        export_onnx(adapter, args.out)
    else:
        from ._persistence import save_model

        save_model(adapter, args.out)
    log(
        f"Saved the adapted model to {args.out}; predict image files with "
        f"'sklearn-pneumo predict {args.out} FILES_OR_FOLDERS'"
    )
    then = (
        ", so the adapted model answers as the model does "
        "(--on-uncertain-site adapt moves its answers to those shares "
        "all the same)"
        if args.on_uncertain_site == "keep"
        else ": compare the adapted model with the model as it is on "
        "labelled X-rays of the site before using it"
    )
    if adapter.site_uncertain_:  # by the model's review cut, as fit tested
        cut, share = review_cut(model)
        uncertain = more_uncertain(adapter.site_uncertainty_, cut, share)
        log(
            f"sklearn-pneumo: warning: {uncertainty_warning(uncertain)} The "
            f"class shares estimated from them may be wrong too{then}."
        )
    if adapter.site_flagged_:
        total = adapter.n_samples_ + adapter.n_outliers_
        log(
            f"sklearn-pneumo: warning: {adapter.n_outliers_} of {total} X-rays "
            f"({adapter.n_outliers_ / total:.0%}) are flagged as outliers, against "
            f"the {flagged_rate(model):.1%} of its validation X-rays the model "
            "flags: the flags may take more of one class than of the other, "
            f"and the shares estimated from the rest lean the other way{then}."
        )
    if adapter.site_unlike_source_:
        check = Bunch(p_value=adapter.label_shift_p_value_, n=adapter.n_samples_)
        log(
            f"sklearn-pneumo: warning: {unlike_source_warning(check)} The class "
            "shares estimated from them lean toward the class the model errs "
            f"toward{then}."
        )
