"""Every page works under a strict Content-Security-Policy, proved in Chromium.

The policy (server/settings/base.py, django-csp) allows no inline script or style and
scripts only from this site. Each page is opened as its usual viewer with a listener for
`securitypolicyviolation` installed before any script runs, and any violation, or a
console error about the policy, fails the test. The room is also used as people use it:
camera and microphone on, slides shown.
"""

from __future__ import annotations

import pytest

from tests.reach.pages import PAGES, seed_demo_data
from tests.sessions.media.test_browser_media import join, open_room, received, wait_for
from tests.sessions.room.conftest import make_session
from tests.sessions.slides.conftest import slides_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'} at ${event.sourceFile}:${event.lineNumber}`);
});
"""


def watched(browser_page, username):
    """A page whose CSP violations and CSP console errors are recorded."""
    page = browser_page(username)
    page.context.add_init_script(RECORD_VIOLATIONS)
    page.csp_console = []  # type: ignore[attr-defined]
    page.on("console", lambda message: "Content Security Policy" in message.text and page.csp_console.append(message.text))
    return page


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []") + page.csp_console


def test_every_page_sends_the_policy_and_runs_without_a_violation(browser_page):
    people = seed_demo_data()
    problems: dict[str, list[str]] = {}
    for site_page in PAGES:
        page = watched(browser_page, site_page.viewer(people))
        response = page.goto(site_page.path(people))
        page.wait_for_load_state("networkidle")
        found = list(violations(page))
        policy = response.headers.get("content-security-policy", "")
        if "script-src 'self'" not in policy or "unsafe-inline" in policy:
            found.append(f"policy missing or weak: {policy!r}")
        if found:
            problems[site_page.name] = found
        page.context.close()
    assert not problems, "\n".join(f"{name}: {found}" for name, found in problems.items())


def test_the_room_with_camera_and_slides_runs_without_a_violation(people, browser_page):
    from playwright.sync_api import expect

    live = make_session(people)
    host = watched(browser_page, "tanaka")
    host.goto(f"/rooms/{live.pk}/")
    host.wait_for_selector('#room-connection[data-state="open"]')
    join(host, send=True)
    amina = watched(browser_page, "amina")
    amina.goto(f"/rooms/{live.pk}/")
    amina.wait_for_selector('#room-connection[data-state="open"]')
    join(amina, send=False)
    wait_for(amina, lambda stats: stats["frames"] > 10 and stats["audio"] > 20)

    host.get_by_text("Show slides").click()
    host.get_by_label("Or upload a PDF or an image (at most 50 MB)").set_input_files(
        files=[{"name": "Sepsis.pdf", "mimeType": "application/pdf", "buffer": slides_pdf(2)}])
    expect(host.locator("#slides-status")).to_have_text("Sepsis is ready.", timeout=60_000)
    host.get_by_role("button", name="Show on screen").click()
    expect(amina.get_by_role("img", name="Slide 1 of 2")).to_be_visible()
    amina.wait_for_function("() => { const i = document.querySelector('[data-slides-image]'); return i.complete && i.naturalWidth > 0; }")
    assert received(amina)["frames"] > 10
    assert violations(host) == [] and violations(amina) == []


def test_the_listener_does_catch_an_inline_script_under_the_policy(browser_page):
    """The check above can fail: an inline script under this policy is reported."""
    page = watched(browser_page, None)
    page.route("**/csp-probe", lambda route: route.fulfill(
        status=200, content_type="text/html", headers={"content-security-policy": "script-src 'self'"},
        body="<!doctype html><title>probe</title><script>document.title = 'ran'</script>"))
    page.goto("/csp-probe")
    page.wait_for_load_state("load")
    assert page.title() == "probe"
    assert any("script-src" in found for found in violations(page))
