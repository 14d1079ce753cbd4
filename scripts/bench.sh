#!/usr/bin/env bash
# Every benchmark in bench/, one after another; each prints what it measured.
# Not part of `make test`. Figures go to docs/benchmarks.md by hand, with machine and date.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
# The loop runs .venv/bin/python bench/media_cascade.py too (two media workers and Redis; --quick: ~2 min).
# bench/school_report.py needs the PostgreSQL of scripts/services.sh (a throw-away database; ~1 min).
# bench/broadcast.py: one HLS broadcast's CPU, glass-to-glass latency, 1,000 simulated viewers (~2 min).
# bench/breakouts.py: split/open/move/close for 300 people in 50 groups on PostgreSQL, beside one-at-a-time moves (~1.5 min).
# bench/annotation.py: bytes per stroke and strokes/s a room of 1,000 sustains (~2 min; --bytes-only: seconds).
for bench in bench/*.py; do
  echo "=== $bench"
  DEBUG=1 .venv/bin/python "$bench"
done
