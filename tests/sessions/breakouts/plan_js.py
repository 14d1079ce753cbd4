"""The page's own plan rules (frontend/static/js/breakouts/plan.js) run by node, for tests.

Why: a copy of plan.js's rules in Python passes whatever the real `planApply` does; here
the real module is imported (as a data: URL, so no package.json "type" is needed) and
fed the events the server really stored or sent. node is in every test environment
(scripts/npm.sh needs it for the test tools); a missing node fails in CI, never skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import need_component

PLAN_JS = Path(__file__).resolve().parents[3] / "frontend" / "static" / "js" / "breakouts" / "plan.js"

# One page per entry: {"can_manage": bool, "full": <the plan of the snapshot>, "steps": [...]},
# a step being {"change": <breakouts.changed data>}, {"whole": <a breakouts.state plan>} or
# {"view": true}. Each page answers a list: per change {"outcome", "needs_whole"}, per view
# the plan as lists (planView) with members as ids.
_RUNNER = r"""
import {readFileSync} from 'node:fs';
const source = readFileSync(process.env.PLAN_JS);
const {planApply, planFromFull, planNeedsWhole, planView} = await import(
  'data:text/javascript;base64,' + source.toString('base64'));
const pages = JSON.parse(readFileSync(0, 'utf8'));
const ids = (members) => members.map((m) => m.id).sort((a, b) => a - b);
const answers = pages.map((page) => {
  let plan = planFromFull(page.full);
  return page.steps.map((step) => {
    if (step.change) {
      const outcome = planApply(plan, step.change);
      return {outcome, needs_whole: planNeedsWhole(plan, outcome, page.can_manage)};
    }
    if (step.whole) {
      if (step.whole.version >= plan.version) plan = planFromFull(step.whole);
      return {whole: plan.version};
    }
    const view = planView(plan);
    return {...view, groups: view.groups.map((g) => ({...g, members: ids(g.members)})), unassigned: ids(view.unassigned)};
  });
});
process.stdout.write(JSON.stringify(answers));
"""


def run_pages(pages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Run these pages' steps through the real plan.js; one list of answers per page."""
    node = shutil.which("node")
    need_component("node", node is not None)
    assert node is not None
    result = subprocess.run(
        [node, "--input-type=module", "-e", _RUNNER], input=json.dumps(pages), capture_output=True, text=True,
        timeout=30, check=False, env={"PLAN_JS": str(PLAN_JS), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, f"node failed:\n{result.stderr}"
    return json.loads(result.stdout)


def server_view(plan: dict[str, Any]) -> dict[str, Any]:
    """A plan from the server (breakout_plan) in the shape `run_pages` answers a view in."""
    return {
        "version": plan["version"], "split": plan["split"], "state": plan["state"], "opened_at": plan["opened_at"],
        "closes_at": plan["closes_at"],
        "groups": [{**g, "members": sorted(m["id"] for m in g["members"])} for g in plan["groups"]],
        "unassigned": [] if plan["state"] == "closed" else sorted(m["id"] for m in plan["unassigned"]),
    }
