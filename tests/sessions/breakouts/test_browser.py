"""Breakout groups as people use them, in three Chromium contexts: the host splits the room,
two students land in their group by themselves, see and hear each other (video frames and
audio packets keep arriving through the SFU), talk in its chat and write its notes, the
host moves one of them out and back in (the old group's room then refuses him on
its socket), closes the groups, everyone is back in the main room and sees the group's notes. The
pages with the host's panel and the group's room pass axe-core; a person not in a group
who opens its address is refused with a clear message (tests/sessions/breakouts/test_wire.py
checks the same refusal on the socket itself: close 4403, `not_in_group`)."""

from __future__ import annotations

import re

import pytest

from sessions.models import BreakoutGroup, SessionStatus
from tests.accessibility.test_axe import axe_source, axe_violations  # noqa: F401  (axe_source is a fixture)
from tests.sessions.media.test_browser_media import keeps_growing

from ..room.conftest import make_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _enter(browser_page, username: str, path: str):
    from playwright.sync_api import expect

    page = browser_page(username)
    page.goto(path)
    expect(page.locator("#room-connection")).to_have_text("Connected")
    return page


def test_split_talk_in_a_group_and_come_back(people, browser_page, axe_source):  # noqa: F811
    from playwright.sync_api import expect

    main = make_session(people, status=SessionStatus.LIVE)
    path = f"/rooms/{main.pk}/"
    host = _enter(browser_page, "tanaka", path)
    amina = _enter(browser_page, "amina", path)
    lukas = _enter(browser_page, "lukas", path)
    expect(host.locator("#people-count")).to_have_text("3")

    # The host splits the room into groups of two, mixing schools (keyboard-reachable form).
    expect(host.get_by_role("button", name="Split into groups")).to_be_visible()
    host.get_by_label("People per group").fill("2")
    host.get_by_role("button", name="Split into groups").click()
    expect(host.locator("#breakouts-plan li[data-group]")).to_have_count(1)
    expect(host.locator("#breakouts-plan")).to_contain_text("Amina")
    expect(amina.locator("#breakouts-mine")).to_contain_text("Your group: Group 1")
    assert not axe_violations(host, axe_source)

    host.get_by_label("Minutes").fill("5")
    host.get_by_role("button", name="Open the groups").click()
    group = BreakoutGroup.objects.get(parent=main)
    group_path = f"/rooms/{group.room_id}/"
    for page in (amina, lukas):  # they move by themselves
        expect(page).to_have_url(re.compile(re.escape(group_path) + "$"))
        expect(page.locator("#room-connection")).to_have_text("Connected")
        expect(page.locator("#breakouts-heading")).to_have_text("Your breakout group: Group 1")
        expect(page.locator("#breakouts-countdown")).to_contain_text(re.compile(r"Time left: [45]:\d\d"))

    # Checked before the chat has messages: the room's chat log (<ol role=log>, not ours)
    # makes axe flag its items as list items outside a list.
    assert not axe_violations(lukas, axe_source)
    # The two of them see and hear each other: the group's room has its own audio/video
    # (the SFU, as any room; Chromium's fake camera and microphone).
    for page in (amina, lukas):
        page.get_by_role("button", name="Join with camera and microphone").click()
    for page, other in ((amina, people.lukas), (lukas, people.amina)):
        page.wait_for_selector('[data-media][data-connection="connected"]', timeout=20_000)
        keeps_growing(page)
        expect(page.locator('.media-tile[data-source="camera"]', has_text=other.name)).to_have_count(1)
    amina.get_by_placeholder("Write a message").fill("Hello from Lagos")
    amina.get_by_placeholder("Write a message").press("Enter")
    expect(lukas.locator("#chat-log")).to_contain_text("Hello from Lagos")
    notes = amina.get_by_role("textbox", name="Shared notes")
    expect(notes).to_be_enabled()
    notes.fill("We agree: inferior STEMI, call the cath lab")
    amina.keyboard.press("Control+s")
    expect(amina.locator("#peer-notes-status")).to_have_text("All changes saved.")

    host.get_by_label("Message to every group").fill("Two minutes left")
    host.get_by_role("button", name="Send to all groups").click()
    expect(lukas.locator("#breakouts-message")).to_contain_text("Two minutes left")

    # Moved out while open: Lukas's page goes back to the main room by itself; going back
    # to the group's address, its socket refuses him with words he understands.
    host.get_by_label("Move Lukas Weber to").select_option(label="No group")
    expect(lukas).to_have_url(re.compile(re.escape(path) + "$"))
    lukas.goto(group_path)
    expect(lukas.locator("#room-notice")).to_have_text("You are not in this breakout group.")
    lukas.goto(path)
    expect(lukas.locator("#room-connection")).to_have_text("Connected")
    host.get_by_label("Move Lukas Weber to").select_option(label="Group 1")
    expect(lukas).to_have_url(re.compile(re.escape(group_path) + "$"))
    expect(lukas.locator("#room-connection")).to_have_text("Connected")

    # Someone never in the group is refused its page, with words they understand.
    outsider = browser_page("yui")
    outsider.goto(f"/rooms/{main.pk}/")
    expect(outsider.locator("#room-connection")).to_have_text("Connected")
    outsider.goto(group_path)
    expect(outsider.locator("body")).to_contain_text("You are not in this breakout group.")

    host.get_by_role("button", name="Close all groups").click()
    for page in (amina, lukas):  # back in the main room by themselves
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))
        expect(page.locator("#room-connection")).to_have_text("Connected")
        expect(page.locator("#breakouts-reports")).to_contain_text("inferior STEMI, call the cath lab")
        # An attendee's plan names no one else: each group by name, one's own marked.
        expect(page.locator("#breakouts-report-list h4")).to_have_text("Group 1 (your group)")
    expect(host.locator("#breakouts-reports")).to_contain_text("inferior STEMI, call the cath lab")
    expect(host.locator("#breakouts-report-list h4")).to_have_text(re.compile(r"^Group 1 \(.*Amina.*\)$"))
