"""Keyboard alone: log in, open a session, chat and raise a hand in the room; RTL mirrors the layout."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.reach.pages import ROOM_PAGE, page_named, seed_demo_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MAX_TABS = 80


def tab_to(page, describe: str, is_target: str) -> None:
    """Press Tab until `is_target` (a JS predicate on document.activeElement) holds; bounded."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const e = document.activeElement; return !!e && ({is_target}); }}"):
            return
    pytest.fail(f"{describe} cannot be reached with Tab")


def test_a_person_logs_in_with_the_keyboard_alone(browser_page, people):
    page = browser_page()
    page.goto("/accounts/login/")
    tab_to(page, "the username field", "e.id === 'id_username'")
    page.keyboard.type("amina")
    page.keyboard.press("Tab")
    page.keyboard.type("rounds-demo")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Amina Bello")).to_be_visible()


def test_a_session_opens_from_the_catalog_with_the_keyboard(browser_page):
    people = seed_demo_data()
    page = browser_page("amina")
    page.goto(page_named("sessions catalog").path(people))
    tab_to(page, "a link to a session", r"/^\/sessions\/\d+\/$/.test(e.getAttribute('href') || '')")
    target = page.evaluate("() => document.activeElement.getAttribute('href')")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(target)
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_chat_and_raised_hand_work_with_the_keyboard_alone(browser_page):
    people = seed_demo_data()
    page = browser_page(ROOM_PAGE.viewer(people))
    page.goto(ROOM_PAGE.path(people))
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    tab_to(page, "the chat message box", "e.id === 'chat-text'")
    page.keyboard.type("Typed without a mouse")
    page.keyboard.press("Enter")
    expect(page.get_by_role("region", name="Chat").get_by_text("Typed without a mouse")).to_be_visible()
    tab_to(page, "the raise-hand button", "e.textContent.trim() === 'Raise hand'")
    page.keyboard.press("Space")
    expect(page.get_by_role("region", name="Raised hands").get_by_text("Amina Bello")).to_be_visible()


def test_arabic_mirrors_the_layout(browser_page):
    people = seed_demo_data()
    page = browser_page("amina", locale="ar")
    page.goto(page_named("sessions catalog").path(people))
    assert page.locator("html").get_attribute("dir") == "rtl"
    brand = page.get_by_role("link", name="OpenRounds").bounding_box()
    account = page.locator(".nav-account").bounding_box()
    assert brand["x"] > account["x"], "in Arabic the brand is on the right and the account menu on the left"
