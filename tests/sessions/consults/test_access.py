"""The access matrix, over HTTP: every consult page, file and API route, for every kind of person.

Allowed: the trainee, the supervisor, an invited observer (reading). Refused: a supervisor
who was not invited, the coordinator of the trainee's school (who sees only that the
consult happened), a student, and anonymous visitors (sent to log in / 401).
"""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse

from sessions.consults import services
from sessions.models import AuditEntry

from .conftest import jpeg_with_gps

pytestmark = pytest.mark.django_db

READERS = ("trainee", "supervisor", "observer")
REFUSED = ("uninvited_supervisor", "coordinator", "student")


@pytest.fixture
def photo(people, consented):
    data = jpeg_with_gps()
    return services.photo_add(by=people.chikondi, consult=consented, upload=io.BytesIO(data), size=len(data))


@pytest.fixture
def signed(people, consented):
    services.note_update(by=people.chikondi, consult=consented, changes={"subjective": "Fever", "assessment": "Malaria", "plan": "ACT"})
    services.note_sign(by=people.mensah, consult=consented)
    return consented


def _client(user) -> Client:
    client = Client()
    if user.is_authenticated:
        client.force_login(user)
    return client


def _get_urls(consult, photo) -> dict[str, tuple[str, ...]]:
    """Each GET URL of one consult, and who may open it."""
    return {
        reverse("consults:detail", args=[consult.pk]): READERS,
        reverse("consults:consent", args=[consult.pk]): READERS,
        reverse("consults:room", args=[consult.pk]): READERS,
        reverse("consults:note", args=[consult.pk]): READERS,
        reverse("consults:photo", args=[consult.pk, photo.pk]): READERS,
        reverse("consults:audit", args=[consult.pk]): ("supervisor",),
        reverse("consults:teaching-case", args=[consult.pk]): ("supervisor",),
        f"/api/consults/{consult.pk}": READERS,
        f"/api/consults/{consult.pk}/note": READERS,
    }


def test_access_matrix_for_every_consult_page_file_and_api(cast, signed, photo):
    for url, allowed in _get_urls(signed, photo).items():
        for who in (*READERS, *REFUSED, "anonymous"):
            user = getattr(cast, who)
            response = _client(user).get(url)
            if who == "anonymous":
                expected = 401 if url.startswith("/api/") else 302
                assert response.status_code == expected, (url, who, response.status_code)
                if expected == 302:
                    assert response["Location"].startswith("/accounts/login/")
            elif who in allowed:
                assert response.status_code == 200, (url, who, response.status_code)
            else:
                assert response.status_code == 403, (url, who, response.status_code)
    refused = AuditEntry.objects.filter(consult=signed, action="access.refused").count()
    assert refused >= 9 * len(REFUSED) - 2  # each refusal of a known person is in the audit log


def test_every_post_refuses_outsiders(cast, consented, photo):
    posts = {
        reverse("consults:cancel", args=[consented.pk]): {},
        reverse("consults:complete", args=[consented.pk]): {},
        reverse("consults:consent", args=[consented.pk]): {"consult_given": "yes", "recording_given": "no", "teaching_given": "no", "language": "en", "explained": "on", "form_version": services.CONSENT_FORM_VERSION},
        reverse("consults:consent-withdraw", args=[consented.pk]): {"scopes": ["recording"]},
        reverse("consults:note-sign", args=[consented.pk]): {},
        reverse("consults:photo-upload", args=[consented.pk]): {},
        reverse("consults:observer-invite", args=[consented.pk]): {"username": "thoko"},
        reverse("consults:teaching-case", args=[consented.pk]): {"confirm": "yes"},
    }
    for url, data in posts.items():
        for who in (*REFUSED, "observer"):
            response = _client(getattr(cast, who)).post(url, data)
            assert response.status_code == 403, (url, who, response.status_code)
        assert _client(cast.anonymous).post(url, data).status_code == 302
    consented.refresh_from_db()
    assert consented.status == "accepted"
    assert consented.observers.filter(user__username="thoko").count() == 0


def test_photo_is_served_with_nosniff_and_no_caching(cast, photo):
    response = _client(cast.supervisor).get(reverse("consults:photo", args=[photo.consult_id, photo.pk]))
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "image/jpeg"
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    assert body[:2] == b"\xff\xd8" and b"ClinicPhone" not in body
    assert AuditEntry.objects.filter(action="photo.read", actor=cast.supervisor, object_id=str(photo.pk)).exists()


def test_photo_of_another_consult_is_not_served_through_this_one(cast, people, photo, roster):
    other = services.consult_request_create(trainee=people.mphatso, specialty="Paediatrics", urgency="routine",
                                            language="en", reason="Wheeze in a toddler")
    services.consult_accept(supervisor=people.mensah, consult=other)
    response = _client(cast.supervisor).get(reverse("consults:photo", args=[other.pk, photo.pk]))
    assert response.status_code == 404


def test_coordinator_sees_that_the_consult_happened_but_not_its_content(cast, signed):
    response = _client(cast.coordinator).get(reverse("consults:index"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Paediatrics" in page and cast.trainee.name in page
    assert signed.reason not in page and "Malaria" not in page
    assert reverse("consults:detail", args=[signed.pk]) not in page


def test_a_matching_supervisor_sees_the_request_on_the_roster_and_accepts(people, pending, other_supervisor):
    client = _client(other_supervisor)
    roster = client.get(reverse("consults:roster"))
    assert pending.reason in roster.content.decode()
    response = client.post(reverse("consults:accept", args=[pending.pk]), {"duration": 60})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.supervisor == other_supervisor and pending.status == "accepted"


def test_student_cannot_open_the_request_form_or_roster(cast):
    assert _client(cast.student).get(reverse("consults:request")).status_code == 403
    assert _client(cast.student).get(reverse("consults:roster")).status_code == 403


def test_trainee_requests_through_the_form(people, roster):
    client = _client(people.chikondi)
    refused = client.post(reverse("consults:request"), {"specialty": "Paediatrics", "urgency": "soon", "language": "en",
                                                        "reason": "Mrs. Banda's baby has a fever"})
    assert refused.status_code == 400 and "identify the patient" in refused.content.decode()
    response = client.post(reverse("consults:request"), {"specialty": "Paediatrics", "urgency": "soon", "language": "en",
                                                         "reason": "Infant with fever and poor feeding"})
    assert response.status_code == 302


def test_audit_page_shows_the_chain_check(cast, signed):
    response = _client(cast.supervisor).get(reverse("consults:audit", args=[signed.pk]))
    assert "Chain verified" in response.content.decode()


def test_the_consult_page_lists_its_recordings_for_participants_once_it_has_ended(cast, consented):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from sessions.media.recording import recording_folder

    services.consult_complete(by=cast.supervisor, consult=consented)
    stored = default_storage.save(f"{recording_folder(consented.session_id)}/consult.webm", ContentFile(b"\x1aE\xdf\xa3 webm"))
    name = stored.rsplit("/", 1)[-1]
    link = reverse("consults:recording", args=[consented.pk, name])
    try:
        for who in READERS:
            client = Client()
            client.force_login(getattr(cast, who))
            page = client.get(reverse("consults:detail", args=[consented.pk]))
            assert page.status_code == 200 and link in page.content.decode(), who
        assert AuditEntry.objects.filter(consult=consented, action="recording.list").count() == len(READERS)
        for who in REFUSED:
            client = Client()
            client.force_login(getattr(cast, who))
            assert client.get(link).status_code in (403, 404), who
    finally:
        default_storage.delete(stored)
