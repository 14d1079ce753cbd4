"""In Chromium: a lecture's recording is the session's until its host publishes it."""

from __future__ import annotations

import datetime as dt

import pytest

from courses.models import Material
from sessions.media.recording import recording_folder
from sessions.models import Attendance, RegistrationStatus, SessionKind, SessionRecording, SessionRegistration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_audience_sees_the_recording_an_outsider_does_not_and_the_host_is_offered_to_publish_it(
    people, make_session, browser_page,
):
    """What each person's page shows. Downloads and publishing themselves are tested through
    the views in test_recordings.py (the file lives in this process's storage; in the CI
    rehearsal the server process did not always read the same one)."""
    from playwright.sync_api import expect

    lecture = make_session(people.tanaka, kind=SessionKind.LECTURE, starts_in=-dt.timedelta(hours=3),
                           title="Sepsis in the emergency room")
    SessionRegistration.objects.create(session=lecture, user=people.amina, status=RegistrationStatus.REGISTERED)
    Attendance.objects.create(session=lecture, user=people.amina)
    SessionRecording.objects.create(session=lecture, name=f"{recording_folder(lecture.pk)}/part-1.webm", size=2048,
                                    recorded_user_ids=[people.amina.pk])

    amina = browser_page("amina")
    amina.goto(f"/sessions/{lecture.pk}/")
    recording = amina.locator(".after-session .recording")
    expect(recording).to_contain_text("It is not in the library")
    expect(recording.get_by_role("link", name="Recording 1")).to_be_visible()
    assert amina.get_by_text("Publish to the library").count() == 0

    outsider = browser_page("chikondi")
    outsider.goto(f"/sessions/{lecture.pk}/")
    expect(outsider.locator(".after-session")).to_be_visible()
    assert outsider.get_by_role("link", name="Recording 1").count() == 0

    host = browser_page("tanaka")
    host.goto(f"/sessions/{lecture.pk}/")
    host.get_by_text("Publish to the library").first.click()
    form = host.locator(".publish-recording")
    expect(form).to_contain_text(people.amina.name)
    expect(form.get_by_label("Who may see it in the library")).to_be_visible()
    expect(form.get_by_label("Licence")).to_be_visible()
    expect(form.get_by_label("Everyone listed above was told")).to_be_visible()
    assert not Material.objects.filter(session=lecture).exists()
