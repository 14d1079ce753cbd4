#!/usr/bin/env bash
# Install the test tools from npm into ./node_modules, exactly as package-lock.json pins
# them, devDependencies included: axe-core (the accessibility tests read
# node_modules/axe-core/axe.min.js) and typescript (tests/reach/test_js_types.py runs
# node_modules/.bin/tsc -p jsconfig.json, the type check of the browser modules). The
# product has no JS build. Idempotent and quick when everything is installed already.
set -euo pipefail
cd "$(dirname "$0")/.."
# Every devDependency installed at the version the lock file pins?
if node -e "
  const lock = require('./package-lock.json').packages;
  for (const name of Object.keys(require('./package.json').devDependencies || {})) {
    let have = '';
    try { have = require('./node_modules/' + name + '/package.json').version; } catch (e) {}
    if (have !== lock['node_modules/' + name].version) process.exit(1);
  }
" 2>/dev/null && [ -f node_modules/axe-core/axe.min.js ] && [ -x node_modules/.bin/tsc ] \
  && [ -f node_modules/hls.js/dist/hls.light.min.mjs ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed for the test tools (apt-get install npm)" >&2; exit 1; }
npm ci --include=dev --no-audit --no-fund --loglevel=error
test -f node_modules/axe-core/axe.min.js
test -x node_modules/.bin/tsc
test -f node_modules/hls.js/dist/hls.light.min.mjs  # the broadcast player (package.json dependencies)
