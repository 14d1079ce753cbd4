#!/usr/bin/env bash
# Every benchmark in bench/, one after another; each prints what it measured.
# Not part of `make test`. Figures go to docs/benchmarks.md by hand, with machine and date.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
# The loop runs .venv/bin/python bench/media_cascade.py too (two media workers and Redis; --quick: ~2 min).
for bench in bench/*.py; do
  echo "=== $bench"
  DEBUG=1 .venv/bin/python "$bench"
done
