#!/usr/bin/env bash
# The linters: ruff (pyflakes, pycodestyle errors and warnings, import order) and mypy
# (types, with django-stubs), both configured in pyproject.toml ([tool.ruff], [tool.mypy]).
# Run by scripts/test.sh before the tests; alone: `bash scripts/lint.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check server sessions courses tests bench
.venv/bin/mypy
