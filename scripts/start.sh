#!/usr/bin/env bash
# Set up and run the main job on the embedded default (SQLite + the sandbox, no credentials needed):
# install into .venv, then `ml-connector demo`. Extra arguments go to the demo (e.g. --keep-running).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/ml-connector demo "$@"
