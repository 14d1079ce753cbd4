"""axe-core in Chromium on every page: no serious or critical violation, in English, French and Arabic.

axe-core comes from npm (package.json/package-lock.json at the root, installed by
scripts/npm.sh into node_modules/); it is injected into each page as a person sees it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import need_component
from tests.reach.pages import PAGES, TRANSLATED_PAGES, page_named, seed_demo_data

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "npm.sh")], cwd=ROOT, timeout=180, check=False)
    need_component("axe-core (bash scripts/npm.sh)", AXE.exists())
    return AXE.read_text()


def axe_violations(page, axe_source: str) -> list[str]:
    """Run axe on the page as it is now; describe each serious or critical violation."""
    page.evaluate(axe_source)  # not a <script> tag: the page's Content-Security-Policy allows no inline script
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {', '.join(v['nodes'])}"
        for v in result if v["impact"] in BLOCKING
    ]


def open_page(browser_page, people, site_page):
    page = browser_page(site_page.viewer(people))
    response = page.goto(site_page.path(people))
    assert response is not None and response.status == 200, f"{site_page.name}: HTTP {response and response.status}"
    page.wait_for_load_state("load")
    return page


def test_no_page_has_a_serious_accessibility_violation(browser_page, axe_source):
    people = seed_demo_data()
    problems: dict[str, list[str]] = {}
    for site_page in PAGES:
        try:
            page = open_page(browser_page, people, site_page)
        except (LookupError, AssertionError) as error:
            problems[site_page.name] = [str(error)]
            continue
        found = []
        if page.locator("main").count() != 1:
            found.append("the page needs exactly one <main> landmark")
        if page.locator("h1").count() < 1:
            found.append("the page needs an <h1> heading")
        found += axe_violations(page, axe_source)
        if found:
            problems[site_page.name] = found
        page.context.close()
    assert not problems, "\n".join(f"{name}:\n  " + "\n  ".join(found) for name, found in problems.items())


def choose_language(page, label: str) -> None:
    """Pick the interface language in the footer, as a person would."""
    footer = page.get_by_role("contentinfo")
    footer.locator("#language-select").select_option(label=label)
    with page.expect_navigation():
        footer.locator("form", has=page.locator("#language-select")).get_by_role("button").click()


@pytest.mark.parametrize(("language", "label", "direction"), [("fr", "français", "ltr"), ("ar", "العربيّة", "rtl")])
def test_translated_pages_switch_language_and_direction_without_violations(browser_page, axe_source, language, label, direction):
    people = seed_demo_data()
    for name in TRANSLATED_PAGES:
        site_page = page_named(name)
        page = open_page(browser_page, people, site_page)
        choose_language(page, label)
        html = page.locator("html")
        assert html.get_attribute("lang") == language
        assert html.get_attribute("dir") == direction
        assert page.url.endswith(site_page.path(people)), "the language switch stays on the page"
        found = axe_violations(page, axe_source)
        assert not found, f"{name} in {language}:\n  " + "\n  ".join(found)
        page.context.close()


def test_keyboard_reaches_the_content_first_through_the_skip_link(browser_page):
    people = seed_demo_data()
    page = open_page(browser_page, people, page_named("sessions catalog"))
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.getAttribute('href')")
    assert focused == "#main"
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
