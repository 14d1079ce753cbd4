"""/api/slides: presenters list and make decks and follow their preparation; others are refused."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from courses.library.services import material_create
from sessions.models import DeckStatus, Participant
from tests.courses.library.conftest import png_bytes, upload

from .conftest import slides_pdf

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_presenter_uploads_a_pdf_and_follows_it_until_ready(
    people, live, render_inline, local_storage, django_capture_on_commit_callbacks,
):
    tanaka = _client(people.tanaka)
    data = slides_pdf(3)
    from django.core.files.uploadedfile import SimpleUploadedFile

    with django_capture_on_commit_callbacks(execute=True):  # rendering starts after commit
        response = tanaka.post(f"/api/slides/sessions/{live.pk}/decks/upload",
                               {"file": SimpleUploadedFile("stroke-thrombolysis.pdf", data, "application/pdf")})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["title"] == "stroke-thrombolysis" and created["source"] == "upload"
    assert created["status"] == DeckStatus.PENDING and created["pages_done"] == 0

    status = tanaka.get(f"/api/slides/sessions/{live.pk}/decks/{created['id']}").json()
    assert (status["status"], status["pages"], status["pages_done"]) == (DeckStatus.READY, 3, 3)
    assert status["widths"] == {"large": 1280, "small": 480}
    listed = tanaka.get(f"/api/slides/sessions/{live.pk}/decks").json()
    assert [d["id"] for d in listed] == [created["id"]]


def test_upload_refusals_have_codes_and_statuses(people, live, local_storage, settings):
    tanaka = _client(people.tanaka)
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = f"/api/slides/sessions/{live.pk}/decks/upload"
    response = tanaka.post(url, {"file": SimpleUploadedFile("slides.pdf", b"<html>slides</html>", "application/pdf")})
    assert response.status_code == 400 and response.json()["code"] == "not_a_pdf"
    assert "neither a PDF nor an image" in response.json()["message"]
    settings.SLIDES_MAX_UPLOAD_BYTES = 100
    response = tanaka.post(url, {"file": SimpleUploadedFile("slides.pdf", slides_pdf(1), "application/pdf")})
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"


def test_an_attendee_and_a_stranger_are_refused(people, live):
    Participant.objects.create(session=live, user=people.amina, role="attendee")
    amina = _client(people.amina)
    response = amina.get(f"/api/slides/sessions/{live.pk}/decks")
    assert response.status_code == 403 and response.json()["code"] == "not_presenter"
    response = amina.get(f"/api/slides/sessions/{live.pk}/materials")
    assert response.status_code == 403
    response = _client(people.tanaka).get("/api/slides/sessions/987654/decks")
    assert response.status_code == 404 and response.json()["code"] == "unknown_session"
    assert Client().get(f"/api/slides/sessions/{live.pk}/decks").status_code == 401


def test_a_deck_from_a_library_material(people, live, render_inline, local_storage, django_capture_on_commit_callbacks):
    material = material_create(user=people.hoffmann, kind="pdf", title="Sepsis: the first hour bundle",
                               scope="public", upload=upload("sepsis.pdf", slides_pdf(2)))
    tanaka = _client(people.tanaka)
    choices = tanaka.get(f"/api/slides/sessions/{live.pk}/materials", {"q": "sepsis"}).json()
    assert [c["id"] for c in choices] == [material.pk] and choices[0]["school"]
    with django_capture_on_commit_callbacks(execute=True):
        response = tanaka.post(f"/api/slides/sessions/{live.pk}/decks", json.dumps({"material_id": material.pk}),
                               content_type="application/json")
    assert response.status_code == 201 and response.json()["material_id"] == material.pk
    status = tanaka.get(f"/api/slides/sessions/{live.pk}/decks/{response.json()['id']}").json()
    assert (status["status"], status["pages"]) == (DeckStatus.READY, 2)
    response = tanaka.post(f"/api/slides/sessions/{live.pk}/decks", json.dumps({}), content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "wrong_field"


def test_a_large_pdf_arrives_in_pieces_through_the_resumable_upload(
    people, live, render_inline, local_storage, django_capture_on_commit_callbacks,
):
    tanaka = _client(people.tanaka)
    data = slides_pdf(4)
    started = tanaka.post("/api/library/uploads", json.dumps({"name": "big-deck.pdf", "size": len(data), "kind": "pdf"}),
                          content_type="application/json")
    assert started.status_code == 201, started.content
    upload_id = started.json()["id"]
    half = len(data) // 2
    for offset, piece in ((0, data[:half]), (half, data[half:])):
        sent = tanaka.put(f"/api/library/uploads/{upload_id}/chunks?offset={offset}", piece,
                          content_type="application/octet-stream")
        assert sent.status_code == 200, sent.content
    with django_capture_on_commit_callbacks(execute=True):
        response = tanaka.post(f"/api/slides/sessions/{live.pk}/decks",
                               json.dumps({"upload_id": upload_id, "title": "Big deck"}), content_type="application/json")
    assert response.status_code == 201, response.content
    status = tanaka.get(f"/api/slides/sessions/{live.pk}/decks/{response.json()['id']}").json()
    assert (status["title"], status["status"], status["pages"]) == ("Big deck", DeckStatus.READY, 4)
    again = tanaka.post(f"/api/slides/sessions/{live.pk}/decks", json.dumps({"upload_id": upload_id}),
                        content_type="application/json")
    assert again.status_code == 403 and again.json()["code"] == "upload_not_yours", "an upload is used once"
