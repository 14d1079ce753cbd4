"""In Chromium: the host uploads a deck, shows it and turns to page 2; attendees see page 2."""

from __future__ import annotations

import pytest

from tests.accessibility.test_axe import axe_source, axe_violations  # noqa: F401
from tests.sessions.room.conftest import make_session

from .conftest import slides_pdf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_host_shows_a_deck_and_attendees_follow_to_page_two(people, browser_page, axe_source):
    from playwright.sync_api import expect

    session = make_session(people)
    people.lukas.data_saver = True
    people.lukas.save(update_fields=["data_saver"])
    amina = browser_page("amina")
    amina.goto(f"/rooms/{session.pk}/")
    expect(amina.locator("#room-connection")).to_have_text("Connected")
    expect(amina.locator("[data-slides]")).to_be_hidden()  # nothing on screen, and she does not present
    lukas = browser_page("lukas")
    lukas.goto(f"/rooms/{session.pk}/")
    expect(lukas.locator("#room-connection")).to_have_text("Connected")

    host = browser_page("tanaka")
    host.goto(f"/rooms/{session.pk}/")
    expect(host.locator("#room-connection")).to_have_text("Connected")
    host.get_by_text("Show slides").click()
    host.get_by_label("Or upload a PDF or an image (at most 50 MB)").set_input_files(
        files=[{"name": "Stroke thrombolysis.pdf", "mimeType": "application/pdf", "buffer": slides_pdf(3)}]
    )
    expect(host.locator("#slides-status")).to_have_text("Stroke thrombolysis is ready.", timeout=60_000)
    expect(host.locator("#slides-deck option:checked")).to_contain_text("Stroke thrombolysis (3 pages)")
    host.get_by_role("button", name="Show on screen").click()

    expect(amina.get_by_role("img", name="Slide 1 of 3")).to_be_visible()
    # The focus went to "Next slide": the arrow key turns the page.
    expect(host.get_by_role("button", name="Next slide")).to_be_focused()
    host.keyboard.press("ArrowRight")

    slide = amina.get_by_role("img", name="Slide 2 of 3")
    expect(slide).to_be_visible()
    expect(amina.locator("[data-slides-position]")).to_have_text("Slide 2 of 3")
    amina.wait_for_function("() => { const i = document.querySelector('[data-slides-image]'); return i.complete && i.naturalWidth > 0; }")
    shown = slide.evaluate("i => ({src: i.currentSrc, width: i.naturalWidth})")
    assert "/2/large/" in shown["src"] and shown["width"] > 0, shown  # (naturalWidth is density-corrected)
    expect(host.get_by_role("button", name="Previous slide")).to_be_enabled()

    # Both views pass axe with slides on screen (the presenter's with the chooser open).
    host.get_by_text("Show slides").click()
    assert not axe_violations(host, axe_source)
    assert not axe_violations(amina, axe_source)

    # Data saver: the small image only.
    data_saver_slide = lukas.get_by_role("img", name="Slide 2 of 3")
    expect(data_saver_slide).to_be_visible()
    lukas.wait_for_function("() => { const i = document.querySelector('[data-slides-image]'); return i.complete && i.naturalWidth > 0; }")
    saved = data_saver_slide.evaluate("i => ({src: i.currentSrc, width: i.naturalWidth, srcset: i.getAttribute('srcset')})")
    assert "/2/small/" in saved["src"] and saved["width"] == 480 and not saved["srcset"], saved

    # A late joiner sees page 2 at once (from the snapshot).
    late = browser_page("chikondi")
    late.goto(f"/rooms/{session.pk}/")
    expect(late.get_by_role("img", name="Slide 2 of 3")).to_be_visible()
