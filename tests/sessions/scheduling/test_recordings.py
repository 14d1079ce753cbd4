"""A session's recording stays with its audience until the host publishes it.

An outside walk found lecture recordings published to the whole library automatically
("Everyone, All rights reserved") with students' cameras in them, and downloaded by a
person who never registered. These tests read what people get from the pages.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from courses.models import Material
from server.people.errors import InvalidRequest, PermissionRefused
from sessions.media.recording import recording_folder
from sessions.models import Attendance, RegistrationStatus, SessionKind, SessionRecording, SessionRegistration
from sessions.scheduling import recordings
from tests.courses.library.conftest import webm_bytes

pytestmark = pytest.mark.django_db

PAST = -dt.timedelta(hours=3)


@pytest.fixture
def recorded(people, make_session):
    """A lecture by Prof. Tanaka that ended; Amina registered and attended, Lukas attended."""
    session = make_session(people.tanaka, kind=SessionKind.LECTURE, starts_in=PAST)
    SessionRegistration.objects.create(session=session, user=people.amina, status=RegistrationStatus.REGISTERED)
    for user in (people.amina, people.lukas):
        Attendance.objects.create(session=session, user=user)
    name = default_storage.save(f"{recording_folder(session.pk)}/part-1.webm", ContentFile(webm_bytes(1.0)))
    (recording,) = recordings.session_recordings_keep(session_id=session.pk, names=[name])
    return recording


def test_a_finished_recording_is_kept_with_the_session_and_not_in_the_library(people, recorded):
    assert not Material.objects.exists()
    assert not recorded.is_published
    assert sorted(recorded.recorded_user_ids) == sorted([people.amina.pk, people.lukas.pk])


def test_the_audience_watches_it_and_nobody_else_can_download_it(people, recorded, client):
    url = f"/sessions/{recorded.session_id}/recordings/{recorded.pk}/"
    client.force_login(people.amina)
    response = client.get(url)
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content)[:4] == b"\x1a\x45\xdf\xa3"  # WebM
    assert "Recording 1" in client.get(f"/sessions/{recorded.session_id}/").content.decode()
    client.logout()
    assert client.get(url).status_code == 302  # to the log-in page
    client.force_login(people.chikondi)  # could see the lecture in the catalogue, never came
    assert client.get(url).status_code == 404
    assert "Recording 1" not in client.get(f"/sessions/{recorded.session_id}/").content.decode()


def test_only_the_host_publishes_and_only_after_confirming_everyone_was_told(people, recorded):
    with pytest.raises(PermissionRefused):
        recordings.session_recording_publish(by=people.amina, recording=recorded, scope="public", licence="cc-by",
                                             everyone_told=True)
    with pytest.raises(InvalidRequest, match="Confirm that everyone recorded was told"):
        recordings.session_recording_publish(by=people.tanaka, recording=recorded, scope="public", licence="cc-by",
                                             everyone_told=False)
    assert not Material.objects.exists()


def test_the_host_publishes_with_scope_and_licence_and_the_people_in_it_are_emailed(
    people, recorded, client, django_capture_on_commit_callbacks
):
    client.force_login(people.tanaka)
    page = client.get(f"/sessions/{recorded.session_id}/").content.decode()
    assert "Publish to the library" in page and people.lukas.name in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/sessions/{recorded.session_id}/recordings/{recorded.pk}/publish/",
                               {"scope": "partners", "licence": "cc-by-nc", "everyone_told": "on"})
    assert response.status_code == 302
    material = Material.objects.get(session_id=recorded.session_id, kind="recording")
    assert (material.scope, material.licence) == ("partners", "cc-by-nc")
    recorded.refresh_from_db()
    assert recorded.published_material == material and recorded.published_by == people.tanaka
    assert sorted(m.to[0] for m in mail.outbox) == sorted([people.amina.email, people.lukas.email])
    with pytest.raises(InvalidRequest, match="already in the library"):
        recordings.session_recording_publish(by=people.tanaka, recording=recorded, scope="public", licence="cc-by",
                                             everyone_told=True)
