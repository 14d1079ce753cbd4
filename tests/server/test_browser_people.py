"""People pages in a real browser: log in with the README's password, see the profile."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from server.people.demo import DEMO_PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_amina_logs_in_with_the_demo_password_and_sees_her_school(people, browser_page):
    page = browser_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("amina")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/accounts/profile/")
    expect(page.get_by_role("link", name="University of Lagos College of Medicine")).to_be_visible()
    expect(page.get_by_text("Africa/Lagos").first).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_coordinator_invites_a_member_from_the_school_page(people, browser_page):
    page = browser_page("okafor")
    page.goto(f"/institutions/{people.schools.lagos.pk}/")
    page.get_by_label("E-mail").fill("new.student@example.org")
    page.get_by_label("Role", exact=True).last.select_option("student")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to new.student@example.org")).to_be_visible()
