"""The browser modules type-check: TypeScript reads the plain JS (checkJs, no build step).

jsconfig.json at the root checks frontend/static/js/**/*.js against the DOM and ES2022
(JSDoc annotations give the types); typescript is pinned in package.json and installed by
scripts/npm.sh (which `make test` runs first). A missing tsc is installed here, never skipped.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TSC = ROOT / "node_modules" / ".bin" / "tsc"


def test_the_browser_modules_type_check():
    if not TSC.exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "npm.sh")], cwd=ROOT, timeout=300, check=False)
    assert TSC.exists(), "node_modules/.bin/tsc is missing: `bash scripts/npm.sh` installs it (npm needed)"
    result = subprocess.run(
        [str(TSC), "-p", "jsconfig.json", "--pretty", "false"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, f"tsc -p jsconfig.json failed:\n{result.stdout}{result.stderr}"
