"""Scheduling in a real browser: a lecture scheduled in Tokyo time, found and joined from Lagos."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sessions.models import LiveSession, RegistrationStatus, SessionRegistration


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_tanaka_schedules_a_lecture_and_amina_registers_in_her_own_time(people, browser_page):
    people.tanaka.time_zone = "Asia/Tokyo"
    people.tanaka.save()
    people.amina.time_zone = "Africa/Lagos"
    people.amina.save()
    day = (timezone.now() + dt.timedelta(days=9)).date()

    host = browser_page("tanaka")
    host.goto("/sessions/")
    host.get_by_role("link", name="New lecture").click()
    host.get_by_label("Title", exact=True).fill("Reading an ECG in ten steps")
    host.get_by_label("Specialty", exact=True).fill("Cardiology")
    host.get_by_label("Date", exact=True).fill(day.isoformat())
    host.get_by_label("Start time", exact=True).fill("18:00")
    host.get_by_label("Places", exact=True).fill("1")
    host.get_by_role("button", name="Schedule").click()
    expect(host.get_by_text("The session is scheduled.")).to_be_visible()
    expect(host.locator("#session-when")).to_contain_text("18:00")
    session = LiveSession.objects.get(title="Reading an ECG in ten steps")
    assert session.starts_at == dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)

    student = browser_page("amina")
    student.goto("/sessions/")
    student.get_by_label("Specialty").select_option("Cardiology")
    student.get_by_role("button", name="Filter").click()
    item = student.locator(f'[data-session-id="{session.pk}"]')
    expect(item).to_contain_text("10:00")  # 09:00 UTC in Lagos
    item.get_by_role("link", name="Reading an ECG in ten steps").click()
    student.get_by_role("button", name="Register").click()
    expect(student.locator("#registration-state")).to_have_text("You are registered.")
    expect(student.get_by_role("link", name="Enter the room")).to_be_visible()
    assert SessionRegistration.objects.get(session=session, user=people.amina).status == RegistrationStatus.REGISTERED

    late = browser_page("lukas")
    late.goto(f"/sessions/{session.pk}/")
    late.get_by_role("button", name="Join the waiting list").click()
    expect(late.locator("#registration-state")).to_have_text("You are number 1 on the waiting list.")
    expect(late.get_by_role("link", name="Enter the room")).to_have_count(0)
