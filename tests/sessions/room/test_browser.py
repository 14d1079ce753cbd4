"""Two people on the room page chat, vote in a poll and raise a hand, as people would."""

from __future__ import annotations

import pytest

from .conftest import make_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_two_people_chat_vote_and_raise_a_hand_in_the_room(people, browser_page):
    from playwright.sync_api import expect

    session = make_session(people)
    host = browser_page("tanaka")
    host.goto(f"/rooms/{session.pk}/")
    expect(host.locator("#room-connection")).to_have_text("Connected")
    amina = browser_page("amina")
    amina.goto(f"/rooms/{session.pk}/")
    expect(amina.locator("#room-connection")).to_have_text("Connected")

    # Both see each other in the participant list, with school and country.
    expect(host.locator("#people-list")).to_contain_text(people.amina.name)
    expect(host.locator("#people-list")).to_contain_text("NG")
    expect(amina.locator("#people-list")).to_contain_text(people.tanaka.name)

    # Chat.
    amina.get_by_label("Message", exact=True).fill("Is the ST elevation in II, III and aVF?")
    amina.get_by_role("button", name="Send").click()
    expect(host.locator("#chat-log")).to_contain_text("Is the ST elevation in II, III and aVF?")
    host.get_by_label("Message", exact=True).fill("Yes, look at V4R as well.")
    host.keyboard.press("Enter")
    expect(amina.locator("#chat-log")).to_contain_text("Yes, look at V4R as well.")

    # The host opens a poll; both vote; both see the counts.
    host.get_by_text("New poll").click()
    host.get_by_label("Poll question").fill("Most likely diagnosis?")
    host.get_by_label("Options, one per line").fill("Inferior STEMI\nAortic dissection\nPericarditis")
    host.get_by_role("button", name="Open the poll").click()
    amina.get_by_label("Inferior STEMI").check()
    amina.locator("#poll-list").get_by_role("button", name="Vote").click()
    host.get_by_label("Inferior STEMI").check()
    host.locator("#poll-list").get_by_role("button", name="Vote").click()
    expect(amina.locator("#poll-list")).to_contain_text("2 voters")
    expect(host.locator("#poll-list .poll-count").first).to_have_text("2 (100%)")

    # Amina raises her hand; the host sees it and gives her the floor.
    amina.get_by_role("button", name="Raise hand").click()
    expect(host.locator("#hand-list")).to_contain_text(people.amina.name)
    expect(amina.get_by_role("button", name="Lower hand")).to_be_visible()
    host.locator("#hand-list").get_by_role("button", name="Give the floor").click()
    expect(amina.locator("#my-role")).to_contain_text("you have the floor")
    expect(host.locator("#hand-list")).to_contain_text("No raised hands")

    # Live captions: the host makes Amina the captioner; what she types reaches the host
    # with her name, as she types it and as a finished line; the host may hide them.
    expect(amina.get_by_label("Caption", exact=True)).to_be_hidden()
    host.locator("#people-list li", has_text=people.amina.name).get_by_role("button", name="Make captioner").click()
    amina.get_by_label("Caption", exact=True).fill("Inferior leads show ST elevation")
    expect(host.locator("#captions")).to_contain_text("Inferior leads show ST elevation")
    amina.get_by_label("Caption", exact=True).press("Enter")
    expect(host.locator("#captions .caption-line:not(.partial)")).to_contain_text(people.amina.name)
    expect(host.locator("#captions .caption-line:not(.partial)")).to_contain_text("Inferior leads show ST elevation")
    host.get_by_role("button", name="Hide captions").click()
    expect(host.locator("#captions")).to_be_hidden()
    host.reload()
    expect(host.locator("#room-connection")).to_have_text("Connected")
    expect(host.get_by_role("button", name="Show captions")).to_be_visible()
    expect(host.locator("#captions")).to_be_hidden()


def test_the_page_shows_reconnecting_and_recovers_by_itself_with_what_it_missed(people, browser_page, live_site):
    from playwright.sync_api import expect

    from sessions.room.events import room_event_emit

    session = make_session(people)
    amina = browser_page("amina")
    amina.goto(f"/rooms/{session.pk}/")
    expect(amina.locator("#room-connection")).to_have_text("Connected")
    live_site.kill()
    expect(amina.locator("#room-connection")).to_have_text("Connection lost — reconnecting…")
    # Said while her connection was down (stored by another process, say).
    room_event_emit(
        session_id=session.pk, type="chat.message",
        payload={"user_id": people.tanaka.pk, "name": people.tanaka.name, "text": "Missed while offline"},
        actor_id=people.tanaka.pk,
    )
    live_site.start()
    expect(amina.locator("#room-connection")).to_have_text("Connected", timeout=20_000)
    expect(amina.locator("#chat-log")).to_contain_text("Missed while offline")
