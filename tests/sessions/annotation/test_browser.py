"""In Chromium: the presenter draws on a slide, an attendee sees it (and after a reload);
the host hands the pen to a student who draws with her finger (touch input on a touch
device) and undoes and redoes a stroke; the host clears the page and undoes the clear;
the same from the keyboard; a library image is shown and
annotated like a slide."""

from __future__ import annotations

import pytest

from courses.library.services import material_create
from sessions.models import SessionStatus
from sessions.slides import services as slides_services
from tests.accessibility.test_axe import axe_source, axe_violations  # noqa: F401
from tests.courses.library.conftest import upload
from tests.sessions.room.conftest import make_session
from tests.sessions.slides.conftest import make_ready_deck
from tests.sessions.slides.test_image_decks import ecg_jpeg

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


def touch_draw(page, points):
    """Draw through `points` (fractions of the slide) with one finger: real touch input
    through the DevTools protocol, which Chromium turns into pointer events of type touch."""
    layer = page.locator("[data-annotation-layer]")
    layer.scroll_into_view_if_needed()
    box = layer.bounding_box()
    cdp = page.context.new_cdp_session(page)

    def finger(x, y):
        return [{"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"], "id": 1, "radiusX": 4, "radiusY": 4}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": finger(*points[0])})
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        for step in range(1, 6):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": finger(x0 + (x1 - x0) * step / 5, y0 + (y1 - y0) * step / 5)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def touch_action(page):
    return page.locator("[data-annotation-layer]").evaluate("(layer) => getComputedStyle(layer).touchAction")


def test_drawing_on_a_slide_reaches_the_room_survives_a_reload_and_the_pen_can_be_handed(
    people, browser_page, axe_source, s3_default_storage,
):
    """`s3_default_storage`: files this process stores (the deck, the library image) are on
    the S3 server the live server reads, whatever storage an earlier test left behind."""
    from playwright.sync_api import expect

    session = make_session(people)
    deck = make_ready_deck(session, people.tanaka, pages=2)
    slides_services.slides_open(session=session, user=people.tanaka, deck_id=deck.pk)

    amina = browser_page("amina", has_touch=True)  # a tablet: she draws with her finger
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

    # The host hands the pen to Amina; she draws with her finger (the layer takes touch
    # only while a tool is active: before, a finger scrolls the page); she undoes her
    # last stroke with Ctrl+Z and everyone sees it go; the host takes the pen back.
    host.get_by_label("Person to hand the pen to").select_option(label=people.amina.name)
    host.get_by_role("button", name="Hand the pen").click()
    assert touch_action(amina) == "auto"
    amina.get_by_role("button", name="Annotate").click()
    assert touch_action(amina) == "none"
    amina.locator("[data-annotation-layer]").evaluate(
        "(layer) => { layer.dataset.seenPointers = ''; layer.addEventListener('pointerdown', (e) => { layer.dataset.seenPointers += e.pointerType; }); }")
    amina.get_by_role("button", name="Blue").click()
    touch_draw(amina, [(0.6, 0.6), (0.7, 0.7)])
    expect(host.locator(f"{STROKES}[stroke='#1f5fbf']")).to_have_count(1)
    assert amina.locator("[data-annotation-layer]").get_attribute("data-seen-pointers") == "touch"
    amina.get_by_role("button", name="Green").click()
    touch_draw(amina, [(0.1, 0.8), (0.3, 0.9), (0.4, 0.8)])
    expect(host.locator(f"{STROKES}[stroke='#1a7f37']")).to_have_count(1)
    amina.keyboard.press("Control+z")
    expect(host.locator(f"{STROKES}[stroke='#1a7f37']")).to_have_count(0)
    expect(amina.locator(f"{STROKES}[stroke='#1a7f37']")).to_have_count(0)
    expect(host.locator(f"{STROKES}[stroke='#1f5fbf']")).to_have_count(1)  # only her last one
    # Redo (Ctrl+Shift+Z) brings it back for everyone; the Undo button takes it back again.
    amina.keyboard.press("Control+Shift+z")
    expect(host.locator(f"{STROKES}[stroke='#1a7f37']")).to_have_count(1)
    amina.get_by_role("button", name="Undo", exact=True).click()
    expect(host.locator(f"{STROKES}[stroke='#1a7f37']")).to_have_count(0)
    host.get_by_role("button", name=f"Take the pen back from {people.amina.name}").click()
    expect(amina.get_by_role("button", name="Annotate")).to_be_hidden()
    assert touch_action(amina) == "auto"

    # The host clears the page and undoes the clear: the three strokes come back for Amina too.
    host.get_by_role("button", name="Clear page").click()
    expect(amina.locator(STROKES)).to_have_count(0)
    host.get_by_role("button", name="Undo", exact=True).click()
    expect(amina.locator(STROKES)).to_have_count(3)

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

    # A library image (an ECG) goes on screen like a one-page slide; the host draws on it.
    ecg = material_create(user=people.hoffmann, kind="image", title="12-lead ECG: anterior STEMI", scope="public",
                          upload=upload("ecg.jpg", ecg_jpeg((1600, 1000))))
    host.get_by_text("Show slides").click()
    host.get_by_label("Deck").select_option(value=f"m:{ecg.pk}")
    host.get_by_role("button", name="Show on screen").click()
    # The server prepares the image (in its rendering child) while the host's page waits.
    expect(amina.get_by_role("img", name="12-lead ECG: anterior STEMI")).to_be_visible(timeout=60_000)
    expect(amina.locator("[data-slides-position]")).to_have_text("Image")
    expect(amina.locator(STROKES)).to_have_count(0)
    expect(host.get_by_role("button", name="Stop showing the image")).to_be_focused()
    expect(host.get_by_role("button", name="Next slide")).to_be_hidden()
    draw(host, [(0.3, 0.5), (0.45, 0.2), (0.6, 0.5)])
    expect(amina.locator(STROKES)).to_have_count(1)
    assert not axe_violations(host, axe_source)

    # After the session the record shows the annotated page and image with their strokes (server-rendered SVG).
    session.status = SessionStatus.ENDED
    session.save(update_fields=["status"])
    host.goto(f"/rooms/{session.pk}/")
    expect(host.get_by_role("heading", name="Annotated slides")).to_be_visible()
    expect(host.locator(".annotation-record polyline")).to_have_count(4)
    expect(host.get_by_text("3 annotations on this page")).to_be_visible()
    expect(host.get_by_text("12-lead ECG: anterior STEMI · image · 1 annotation on this page")).to_be_visible()
    assert not axe_violations(host, axe_source)
