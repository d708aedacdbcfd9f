#!/usr/bin/env bash
# Install every dependency at the minimum pyproject.toml declares (the
# runtime ones and those of the test extra: ONNX export and scoring, DICOM,
# plots, Dask), in a fresh virtual environment, and run the suite's smoke of
# import, fit, predict, save/load and ONNX there: the bounds are true only if
# this passes. .ci/run runs it. Usage: bash ci/min_versions.sh [pytest args]
# (MIN_VERSIONS_VENV=DIR reuses an environment made by an earlier run.)
set -euo pipefail
cd "$(dirname "$0")/.."

# The environment made here (about 3 GB) and the constraints file are removed
# on exit, whatever the outcome; one named by MIN_VERSIONS_VENV is kept.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
venv="${MIN_VERSIONS_VENV:-$scratch/venv}"
constraints="$scratch/constraints.txt"
python3 - "$constraints" <<'PY'
import re, sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project["optional-dependencies"]
specs = project["dependencies"] + [
    spec
    for extra in ("test", "dicom", "plot", "onnx", "export")
    for spec in extras[extra]
]
pins = sorted(  # constraints take no extras: "dask[distributed]" pins dask
    {
        re.sub(r"\[.*\]", "", spec).replace(">=", "==")
        for spec in specs
        if ">=" in spec and "sklearn-pneumo" not in spec
    }
)
open(sys.argv[1], "w").write("\n".join(pins) + "\n")
print(" ".join(pins))
PY
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
. "$venv/bin/activate"
pip install --quiet -c "$constraints" ".[test]"
python - "$constraints" <<'PY'
import sys
from importlib.metadata import version

for line in open(sys.argv[1]).read().split():
    name, pinned = line.split("==")
    got = version(name)
    release = [int(part) for part in got.split(".")[:2]]
    if release != [int(part) for part in (pinned + ".0").split(".")[:2]]:
        sys.exit(f"{name} installed at {got}, not its declared minimum {pinned}")
print("every declared minimum installed")
PY
python -c "import sklearn_pneumo; print('sklearn_pneumo', sklearn_pneumo.__version__, 'imports')"
if [ "$#" -eq 0 ]; then
    set -- tests/test_pipeline.py tests/test_persistence.py tests/test_onnx.py \
        tests/test_upstream.py tests/test_loader.py
fi
python -m pytest -q -p no:cacheprovider "$@"
