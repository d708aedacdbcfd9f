#!/usr/bin/env bash
# Install every runtime dependency at the minimum pyproject.toml declares, in
# a fresh virtual environment, and run a substantial part of the suite
# there: the bounds are true only if this passes. Not part of .ci/run (the
# install alone takes minutes). Usage: bash ci/min_versions.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

venv="$(mktemp -d)/venv"
python3 -m venv "$venv"
. "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
constraints="$(dirname "$venv")/minimums.txt"
python - "$constraints" <<'PY'
import re, sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
pins = [
    re.sub(r">=", "==", spec)
    for spec in project["dependencies"]
    if ">=" in spec
]
open(sys.argv[1], "w").write("\n".join(pins) + "\n")
print("\n".join(pins))
PY
# The package at its minimums, then what the chosen tests use besides.
pip install --quiet -c "$constraints" . pytest hypothesis pydicom matplotlib pandas
pip list 2>/dev/null | grep -i -E "^(scikit-learn|imbalanced-learn|scikeras|tensorflow|keras|numpy|scikit-image|scipy|pillow|joblib|tqdm|skops) "
if [ "$#" -eq 0 ]; then
    set -- tests/test_loader.py tests/test_grayscale.py tests/test_real_files.py \
        tests/test_pipeline.py tests/test_persistence.py tests/test_network.py \
        tests/test_upstream.py tests/test_memory.py tests/test_image_step_checks.py
fi
python -m pytest -x -q -p no:cacheprovider "$@"
