#!/usr/bin/env bash
# Set up and run every check: install into .venv, lint, format check, mypy --strict, tests with coverage.
# This is the README's test command; .ci/run calls it after starting PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

# The browser tests drive Debian's Chromium (never a downloaded browser).
CHROMIUM=${ML_CONNECTOR_TEST_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Debian's chromium for the browser tests"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  else
    echo "== note: no Chromium at $CHROMIUM: browser tests are skipped (they fail under CI=true)"
  fi
fi

echo "== ruff check";        .venv/bin/ruff check src tests
echo "== ruff format";       .venv/bin/ruff format --check src tests
echo "== mypy --strict src"; .venv/bin/mypy
if [ -z "${ML_CONNECTOR_TEST_POSTGRES_URL:-}" ]; then
  echo "== note: ML_CONNECTOR_TEST_POSTGRES_URL is not set: store tests run on SQLite only"
fi
echo "== mkdocs build --strict"
SITE_DIR=$(mktemp -d)
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "$SITE_DIR"
rm -rf "$SITE_DIR"
echo "== pytest"
# two workers (this machine has 2 cores; the many process and browser tests mostly wait), each
# test file on one worker; ML_CONNECTOR_TEST_WORKERS=0 runs them in this process
.venv/bin/python -m pytest -p no:cacheprovider -n "${ML_CONNECTOR_TEST_WORKERS:-2}" --dist loadfile \
  --cov --cov-report=term:skip-covered "$@"
