"""Two or more people sending at once, in real Chromium: each sees and hears the others.

Where this broke (Chromium 156): the server's offer of the tracks a sender receives
renumbered the connection's header extensions and payload types
(sessions/media/renegotiation.py), so in a consult, a peer room, or for a student given the
floor, nobody who sent saw anyone else. Each test drives the pages as the people would,
with Chromium's fake camera and microphone, and reads what each browser decodes.
"""

from __future__ import annotations

import re

import pytest

from sessions.consults import services as consults
from sessions.models import SessionKind
from tests.sessions.media.test_browser_media import join, open_room
from tests.sessions.room.conftest import make_session

pytestmark = [pytest.mark.browser, pytest.mark.realservices, pytest.mark.django_db(transaction=True)]

#: Per publisher: video frames decoded and audio packets received by this page.
BY_PUBLISHER = """async () => {
  const media = window.openroundsMedia;
  const out = {};
  if (!media || !media.pc) return out;
  const report = await media.pc.getStats();
  report.forEach((s) => {
    if (s.type !== 'inbound-rtp' || s.mid == null || !media.incoming.has(String(s.mid))) return;
    const info = media.incoming.get(String(s.mid));
    const key = `${info.publisher}:${info.kind === 'audio' ? 'audio' : info.source}`;
    out[key] = (out[key] || 0) + (info.kind === 'audio' ? (s.packetsReceived || 0) : (s.framesDecoded || 0));
  });
  return out;
}"""


def hears_and_sees(page, publisher, *, screen: bool = False, timeout: float = 30.0) -> None:
    """`page` decodes `publisher`'s camera (or screen) and receives their audio, and it keeps coming."""
    publisher = str(publisher)
    video = f"{publisher}:{'screen' if screen else 'camera'}"
    audio = f"{publisher}:audio"

    def enough() -> dict | None:
        got = page.evaluate(BY_PUBLISHER)
        return got if got.get(video, 0) > 10 and (screen or got.get(audio, 0) > 50) else None

    deadline = timeout * 4
    first = None
    while deadline > 0 and first is None:
        first = enough()
        if first is None:
            page.wait_for_timeout(250)
            deadline -= 1
    assert first is not None, f"{video} not received: {page.evaluate(BY_PUBLISHER)}; {page.locator('[data-media-status]').inner_text()!r}"
    page.wait_for_timeout(1500)
    second = page.evaluate(BY_PUBLISHER)
    assert second[video] > first[video], (first, second)
    if not screen:
        assert second[audio] > first[audio], (first, second)


def test_two_peers_both_send_and_each_sees_and_hears_the_other(people, browser_page):
    live = make_session(people, kind=SessionKind.PEER, host=people.amina, title="Peer exchange: asthma care")
    amina = open_room(browser_page, "amina", live.pk)
    join(amina, send=True)
    lukas = open_room(browser_page, "lukas", live.pk)
    join(lukas, send=True)
    hears_and_sees(amina, people.lukas.pk)
    hears_and_sees(lukas, people.amina.pk)
    assert people.lukas.name in amina.locator('.media-tile[data-source="camera"]').inner_text()
    assert people.amina.name in lukas.locator('.media-tile[data-source="camera"]').inner_text()
    for page in (amina, lukas):
        assert page.locator("[data-media]").get_attribute("data-problem") is None
        assert "problem" not in page.locator("[data-media-status]").inner_text()


def test_trainee_and_supervisor_both_send_and_each_sees_and_hears_the_other(people, browser_page):
    consults.roster_update(supervisor=people.mensah, specialties=["Paediatrics"], languages=["en"], is_active=True)
    consult = consults.consult_request_create(
        trainee=people.chikondi, specialty="Paediatrics", urgency="urgent", language="en",
        reason="Toddler with fever and a new rash since this morning.",
    )
    consult = consults.consult_accept(supervisor=people.mensah, consult=consult)
    consults.consent_record(by=people.chikondi, consult=consult, consult_given=True, recording_given=False,
                            teaching_given=False, language="ny")
    pages = {}
    for name in ("chikondi", "mensah"):
        page = browser_page(name)
        page.goto(f"/consults/{consult.pk}/room/")
        page.wait_for_selector('#room-connection[data-state="open"]')
        join(page, send=True)
        pages[name] = page
    hears_and_sees(pages["mensah"], people.chikondi.pk)
    hears_and_sees(pages["chikondi"], people.mensah.pk)


def test_a_student_given_the_floor_is_seen_and_heard_by_everyone_and_shares_a_screen(people, browser_page):
    live = make_session(people)  # a case conference: only the host sends until he gives the floor
    host = open_room(browser_page, "tanaka", live.pk)
    join(host, send=True)
    amina = open_room(browser_page, "amina", live.pk)
    join(amina, send=False)
    lukas = open_room(browser_page, "lukas", live.pk)
    join(lukas, send=False)
    hears_and_sees(lukas, people.tanaka.pk)

    # The host gives Amina the floor from the people list, as he would.
    card = host.locator(f'#people-list li[data-user-id="{people.amina.pk}"]')
    card.get_by_role("button", name="Give the floor").click()
    # Amina, already watching, starts sending (her page asks for camera and microphone).
    amina.wait_for_selector("[data-media] [data-media-screen]:not([hidden])", timeout=20_000)
    hears_and_sees(host, people.amina.pk)
    hears_and_sees(lukas, people.amina.pk)
    hears_and_sees(amina, people.tanaka.pk)

    # She shares her screen: everyone gets it as a second picture.
    amina.get_by_role("button", name="Share screen").click()
    hears_and_sees(lukas, people.amina.pk, screen=True)
    hears_and_sees(host, people.amina.pk, screen=True)
    lukas.wait_for_selector(f'.media-tile[data-source="screen"][data-publisher="{people.amina.pk}"]')
    # Her camera still reaches everyone beside the screen.
    hears_and_sees(lukas, people.amina.pk)
    assert amina.locator("[data-media]").get_attribute("data-problem") is None

    # The host draws on what she shows: a still of her screen goes on screen for everyone
    # as a page (issue 14: a live frame has no page to keep strokes with).
    from playwright.sync_api import expect

    host.locator("[data-slides-choose] summary").click()
    host.get_by_role("button", name="Draw on a still of the shared screen").click()
    still = lukas.get_by_role("img", name=re.compile(r"^The shared screen at "))
    expect(still).to_be_visible(timeout=30_000)
    lukas.wait_for_function("""() => [...document.querySelectorAll('[data-slides] img')].some(
        (image) => image.alt.startsWith('The shared screen at') && image.complete && image.naturalWidth > 0)""")
    expect(host.get_by_role("button", name="Annotate")).to_be_visible()  # and the pen is at hand
    # Amina, who has the floor, does the same with her own share (her page's own track).
    first = still.get_attribute("src")
    amina.locator("[data-slides-choose] summary").click()
    amina.get_by_role("button", name="Draw on a still of the shared screen").click()
    expect(lukas.get_by_role("img", name=re.compile(r"^The shared screen at "))).not_to_have_attribute("src", first or "")
