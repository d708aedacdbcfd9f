"""Sphinx configuration of the sklearn-pneumo documentation."""

import os

import sklearn_pneumo

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

project = "sklearn-pneumo"
author = "sklearn-pneumo developers"
copyright = "2026, sklearn-pneumo developers"  # noqa: A001
release = version = sklearn_pneumo.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "images/README.md"]
templates_path = ["_templates"]

autosummary_generate = True
# scikit-learn generates set_*_request methods whose docstrings refer to its
# own glossary; they are documented in scikit-learn's user guide.
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    "exclude-members": ",".join(
        f"set_{method}_request"
        for method in (
            "fit",
            "partial_fit",
            "predict",
            "predict_proba",
            "score",
            "transform",
            "inverse_transform",
            "decision_function",
            "split",
        )
    ),
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_title = "sklearn-pneumo"
html_theme_options = {
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "show_toc_level": 2,
}
html_static_path = []

# The examples run during the build, so the gallery shows their real output
# and every example is proven to run (a few minutes on 2 CPU cores); pass
# -D plot_gallery=0 to render it without running them.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "plot_gallery": "True",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
}
suppress_warnings = ["config.cache"]
