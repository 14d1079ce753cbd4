"""What people see in Chromium when the host takes the floor back, and which video they get.

The attendee is given the floor, joins with Chromium's fake camera and microphone; a viewer
watches. When the host takes the floor back the server cuts the attendee's media for
everyone, and the attendee's page says why.
"""

from __future__ import annotations

import time

import pytest

from tests.sessions.media.test_browser_media import join, open_room, received, wait_for
from tests.sessions.room.conftest import make_session

pytestmark = [pytest.mark.browser, pytest.mark.realservices, pytest.mark.django_db(transaction=True)]

SEND = "([type, fields]) => window.openRoundsRoom.connection.send(type, fields)"


def test_an_attendee_whose_floor_is_taken_back_is_told_and_nobody_receives_them_any_more(people, browser_page):
    live = make_session(people)
    host = open_room(browser_page, "tanaka", live.pk)
    attendee = open_room(browser_page, "amina", live.pk)
    host.evaluate(SEND, ["floor.grant", {"user_id": people.amina.pk}])
    attendee.get_by_role("button", name="Join with camera and microphone").wait_for()
    join(attendee, send=True)
    viewer = open_room(browser_page, "lukas", live.pk)
    join(viewer, send=False)
    wait_for(viewer, lambda s: s["frames"] > 10 and s["audio"] > 50)
    viewer.wait_for_selector('[data-media-video-quality][data-quality="high"]')
    assert "full quality" in viewer.locator("[data-media-video-quality]").inner_text()

    host.evaluate(SEND, ["floor.revoke", {"user_id": people.amina.pk}])

    attendee.wait_for_selector('[data-media][data-publishing="floor_revoked"]', timeout=15_000)
    assert "took the floor back" in attendee.locator("[data-media-status]").inner_text()
    assert attendee.get_by_role("button", name="Join with camera and microphone").is_hidden()
    viewer.wait_for_timeout(1500)  # what was already on its way
    before = received(viewer)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        viewer.wait_for_timeout(250)
    after = received(viewer)
    assert after["frames"] == before["frames"] and after["audio"] == before["audio"], (before, after)
