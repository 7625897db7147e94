#!/usr/bin/env bash
# CI smoke of the benchmarks (issue 9): B1 ours, B2 and B3 at tiny sizes, under 30 s in all.
# Checks that the scripts run end to end against the simulators; the figures are not kept.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
start=$(date +%s)
$PY bench/read_bench.py --clients ours --smoke
$PY bench/write_bench.py --smoke --st-rates 50
$PY bench/webhook_bench.py --smoke --store sqlite
echo "bench smoke: $(( $(date +%s) - start )) s"
