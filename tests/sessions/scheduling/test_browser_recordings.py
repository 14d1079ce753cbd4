"""In Chromium: a lecture's recording is the session's until its host publishes it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.conf import settings
from django.core.files.storage import storages

from courses.models import Material
from sessions.media.recording import recording_folder
from sessions.models import Attendance, RegistrationStatus, SessionKind, SessionRegistration
from sessions.scheduling import recordings
from tests.courses.library.conftest import webm_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_audience_sees_the_recording_an_outsider_does_not_and_the_host_publishes_it(people, make_session, browser_page):
    from playwright.sync_api import expect

    lecture = make_session(people.tanaka, kind=SessionKind.LECTURE, starts_in=-dt.timedelta(hours=3),
                           title="Sepsis in the emergency room")
    SessionRegistration.objects.create(session=lecture, user=people.amina, status=RegistrationStatus.REGISTERED)
    Attendance.objects.create(session=lecture, user=people.amina)
    # The server process reads the storage its settings name; this process's default_storage
    # may have been swapped by an earlier test's fixture.
    storage = storages.create_storage(settings.STORAGES["default"])
    name = storage.save(f"{recording_folder(lecture.pk)}/part-1.webm", ContentFile(webm_bytes(1.0)))
    recordings.session_recordings_keep(session_id=lecture.pk, names=[name])

    amina = browser_page("amina")
    amina.goto(f"/sessions/{lecture.pk}/")
    recording = amina.locator(".after-session .recording")
    expect(recording).to_contain_text("It is not in the library")
    href = recording.get_by_role("link", name="Recording 1").get_attribute("href")
    assert amina.request.get(href).status == 200

    outsider = browser_page("chikondi")
    outsider.goto(f"/sessions/{lecture.pk}/")
    expect(outsider.locator(".after-session")).not_to_contain_text("Recording 1")
    assert outsider.request.get(href).status == 404
    assert not Material.objects.filter(session=lecture).exists()

    host = browser_page("tanaka")
    host.goto(f"/sessions/{lecture.pk}/")
    host.get_by_text("Publish to the library").first.click()
    expect(host.locator(".publish-recording")).to_contain_text(people.amina.name)
    host.get_by_label("Who may see it in the library").select_option("partners")
    host.get_by_label("Licence").select_option("cc-by-nc")
    host.get_by_label("Everyone listed above was told").check()
    host.locator(".publish-recording").get_by_role("button", name="Publish to the library").click()
    expect(host.locator("main")).to_contain_text("The recording is in the library")
    material = Material.objects.get(session=lecture, kind="recording")
    assert (material.scope, material.licence) == ("partners", "cc-by-nc")
    amina.goto(f"/sessions/{lecture.pk}/")
    expect(amina.locator(".after-session .recording")).to_contain_text("In the library:")
