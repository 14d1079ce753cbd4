"""What people see in Chromium when the room closes their socket for good.

The host ends the session for everyone, or removes someone: their page says why and stops
reconnecting (it used to reconnect every few seconds, because every close arrived as 1011).
A message too large to send is refused in the page, and the socket stays open.
"""

from __future__ import annotations

import pytest

from tests.sessions.media.test_browser_media import open_room
from tests.sessions.room.conftest import make_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sockets_opened(page) -> list:
    opened: list = []
    page.on("websocket", lambda socket: opened.append(socket.url))
    return opened


def test_end_for_everyone_tells_each_attendee_and_their_page_stops_reconnecting(people, browser_page):
    live = make_session(people)
    host = open_room(browser_page, "tanaka", live.pk)
    attendees = [open_room(browser_page, name, live.pk) for name in ("amina", "lukas")]
    opened = [sockets_opened(page) for page in attendees]
    host.on("dialog", lambda dialog: dialog.accept())
    host.get_by_role("button", name="End for everyone").click()
    for page in attendees:
        page.wait_for_selector('#room-connection[data-state="closed"]', timeout=15_000)
        assert "This session has ended." in page.locator("#room-notice").inner_text()
    attendees[0].wait_for_timeout(4000)  # the client used to reconnect within 1-5 s
    assert opened == [[], []], "no page opened a new socket"
    for page in attendees:
        assert page.locator("#room-connection").get_attribute("data-state") == "closed"


def test_a_removed_person_is_told_why_and_their_page_does_not_come_back(people, browser_page):
    live = make_session(people)
    host = open_room(browser_page, "tanaka", live.pk)
    amina = open_room(browser_page, "amina", live.pk)
    opened = sockets_opened(amina)
    host.on("dialog", lambda dialog: dialog.accept())
    host.locator(f'#people-list li[data-user-id="{people.amina.pk}"]').get_by_role("button", name="Remove").click()
    amina.wait_for_selector('#room-connection[data-state="closed"]', timeout=15_000)
    assert "The host removed you from this session." in amina.locator("#room-notice").inner_text()
    amina.wait_for_timeout(4000)
    assert opened == []
    assert amina.locator("#room-connection").get_attribute("data-state") == "closed"


def test_a_message_too_large_to_send_is_refused_in_the_page_and_the_socket_stays_open(people, browser_page):
    live = make_session(people)
    amina = open_room(browser_page, "amina", live.pk)
    opened = sockets_opened(amina)
    code = amina.evaluate("""() => window.openRoundsRoom.connection.send('chat.send', {text: 'x'.repeat(70000)})
        .then(() => 'sent', (error) => error.code)""")
    assert code == "too_large"
    assert "too long to send" in amina.locator("#room-notice").inner_text()
    amina.wait_for_timeout(1500)
    assert amina.locator("#room-connection").get_attribute("data-state") == "open"
    assert opened == []
    # The room still works for her.
    amina.evaluate("() => window.openRoundsRoom.connection.send('chat.send', {text: 'Hello from Lagos'})")
    amina.wait_for_selector("text=Hello from Lagos")
