#!/usr/bin/env bash
# Install the browser-test tools from npm (axe-core) into ./node_modules, exactly as
# package-lock.json pins them. The product has no JS build; only the accessibility tests
# read node_modules/axe-core/axe.min.js. Idempotent and quick when already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
AXE=node_modules/axe-core/axe.min.js
want=$(node -p "require('./package-lock.json').packages['node_modules/axe-core'].version")
have=$(node -p "try { require('./node_modules/axe-core/package.json').version } catch (e) { '' }" 2>/dev/null || true)
if [ -f "$AXE" ] && [ "$have" = "$want" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed for the accessibility tests (apt-get install npm)" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
test -f "$AXE"
