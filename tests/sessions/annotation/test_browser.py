"""In Chromium: the presenter draws on a slide, an attendee sees it (and after a reload);
the host hands the pen to a student who draws; the same from the keyboard."""

from __future__ import annotations

import pytest

from sessions.models import SessionStatus
from sessions.slides import services as slides_services
from tests.accessibility.test_axe import axe_source, axe_violations  # noqa: F401
from tests.sessions.room.conftest import make_session
from tests.sessions.slides.conftest import make_ready_deck

from .test_codec import VECTORS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STROKES = "[data-annotation-layer] polyline[data-stroke-id]"


def draw(page, points):
    """Drag the mouse through `points` (fractions of the slide) with the pen down."""
    layer = page.locator("[data-annotation-layer]")
    box = layer.bounding_box()
    layer.hover(position={"x": points[0][0] * box["width"], "y": points[0][1] * box["height"]})  # scrolled into view
    page.mouse.down()
    for x, y in points[1:]:
        box = layer.bounding_box()
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=5)
    page.mouse.up()


def test_drawing_on_a_slide_reaches_the_room_survives_a_reload_and_the_pen_can_be_handed(people, browser_page, axe_source):
    from playwright.sync_api import expect

    session = make_session(people)
    deck = make_ready_deck(session, people.tanaka, pages=2)
    slides_services.slides_open(session=session, user=people.tanaka, deck_id=deck.pk)

    amina = browser_page("amina")
    amina.goto(f"/rooms/{session.pk}/")
    expect(amina.get_by_role("img", name="Slide 1 of 2")).to_be_visible()
    expect(amina.get_by_role("button", name="Annotate")).to_be_hidden()  # she has no pen
    # The browser's codec writes the server's strings.
    encoded = amina.evaluate(
        "async (vectors) => { const c = await import('/static/js/annotation/codec.js');"
        " return vectors.map(([points]) => c.encode(points)); }", [[list(map(list, p)), s] for p, s in VECTORS])
    assert encoded == [s for _p, s in VECTORS]

    host = browser_page("tanaka")
    host.goto(f"/rooms/{session.pk}/")
    host.get_by_role("button", name="Annotate").click()
    expect(host.get_by_role("toolbar", name="Annotation tools")).to_be_visible()
    expect(host.get_by_role("button", name="Pen", exact=True)).to_have_attribute("aria-pressed", "true")
    draw(host, [(0.2, 0.3), (0.35, 0.45), (0.5, 0.3)])

    expect(amina.locator(STROKES)).to_have_count(1)
    expect(amina.locator("[data-annotation-summary]")).to_have_text("1 annotation on this page")
    assert amina.locator("[data-annotation-layer]").get_attribute("aria-hidden") == "true"
    amina.reload()
    expect(amina.locator(STROKES)).to_have_count(1)

    # From the keyboard: the highlighter, Space down, arrows, Space up; the arrows do not turn the page.
    host.get_by_role("button", name="Highlighter").click()
    host.get_by_role("button", name="Yellow").click()
    host.get_by_label("Slide drawing area").focus()
    host.keyboard.press("Space")
    for _ in range(4):
        host.keyboard.press("ArrowRight")
    host.keyboard.press("Space")
    expect(amina.locator(STROKES)).to_have_count(2)
    expect(amina.locator(f"{STROKES}[stroke='#f2c200']")).to_have_count(1)
    expect(host.locator("[data-slides-position]")).to_have_text("Slide 1 of 2")
    assert not axe_violations(host, axe_source)

    # The host hands the pen to Amina; she draws; the host takes it back.
    host.get_by_label("Person to hand the pen to").select_option(label=people.amina.name)
    host.get_by_role("button", name="Hand the pen").click()
    amina.get_by_role("button", name="Annotate").click()
    amina.get_by_role("button", name="Blue").click()
    draw(amina, [(0.6, 0.6), (0.7, 0.7)])
    expect(host.locator(f"{STROKES}[stroke='#1f5fbf']")).to_have_count(1)
    host.get_by_role("button", name=f"Take the pen back from {people.amina.name}").click()
    expect(amina.get_by_role("button", name="Annotate")).to_be_hidden()

    # Each page keeps its own: page 2 is blank; back on page 1 (after a reload on page 2,
    # so the page is asked for with annotation.load) the three strokes are there.
    host.get_by_role("button", name="Next slide").click()
    expect(amina.locator("[data-slides-position]")).to_have_text("Slide 2 of 2")
    expect(amina.locator(STROKES)).to_have_count(0)
    amina.reload()
    expect(amina.locator("[data-slides-position]")).to_have_text("Slide 2 of 2")
    host.get_by_role("button", name="Previous slide").click()
    expect(amina.locator(STROKES)).to_have_count(3)
    expect(amina.locator("[data-annotation-summary]")).to_have_text("3 annotations on this page")

    # A data-saver viewer gets the strokes too (over the small image).
    people.lukas.data_saver = True
    people.lukas.save(update_fields=["data_saver"])
    lukas = browser_page("lukas")
    lukas.goto(f"/rooms/{session.pk}/")
    expect(lukas.locator(STROKES)).to_have_count(3)
    assert "/1/small/" in lukas.locator("[data-slides-image]").get_attribute("src")

    # After the session the record shows the annotated page with its strokes (server-rendered SVG).
    session.status = SessionStatus.ENDED
    session.save(update_fields=["status"])
    host.goto(f"/rooms/{session.pk}/")
    expect(host.get_by_role("heading", name="Annotated slides")).to_be_visible()
    expect(host.locator(".annotation-record polyline")).to_have_count(3)
    expect(host.get_by_text("3 annotations on this page")).to_be_visible()
    assert not axe_violations(host, axe_source)
