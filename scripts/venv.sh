#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 (Django 6 needs it) and install the pinned packages.
set -euo pipefail
cd "$(dirname "$0")/.."
find_python() {
  for candidate in python3.13 python3.12 /root/.pyenv/versions/3.12*/bin/python3 /root/.pyenv/versions/3.13*/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}
if [ ! -x .venv/bin/python ]; then
  PYTHON=$(find_python) || { echo "OpenRounds needs Python 3.12 or newer (Django 6). Install python3.12 and run again." >&2; exit 1; }
  echo "Creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# compilemessages needs GNU gettext's msgfmt.
if ! command -v msgfmt >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null
fi
