"""Certificates over HTTP: the student's pages and downloads, public verification, the key."""

from __future__ import annotations

import datetime as dt
import io
import json

import pypdfium2
import pytest
from django.urls import reverse

from sessions.models import Certificate, RoomState, SessionStatus
from sessions.record.services import certificates_issue_for_session

pytestmark = pytest.mark.django_db


def _pdf_text(body: bytes) -> str:
    document = pypdfium2.PdfDocument(io.BytesIO(body))
    return "".join(page.get_textpage().get_text_range() for page in document)


def test_ending_the_room_issues_the_certificate(people, ended_session, lecture_rule, django_capture_on_commit_callbacks):
    from sessions.models import Participant
    from sessions.room.services import room_end

    session = ended_session(present={people.amina: 60}, ago=dt.timedelta(0))  # the room ends now
    session.status = SessionStatus.LIVE
    session.save()
    RoomState.objects.create(session=session)
    Participant.objects.create(session=session, user=people.tanaka, role="host")
    with django_capture_on_commit_callbacks(execute=True):
        room_end(session_id=session.pk, user=people.tanaka)
    assert Certificate.objects.filter(session=session, user=people.amina).exists()


def test_my_certificates_lists_and_downloads_pdf_and_json(client, people, ended_session, lecture_rule):
    session = ended_session(present={people.amina: 60}, title="Sepsis in children")
    client.force_login(people.amina)
    page = client.get(reverse("record:certificates"))  # the page issues what was missed
    assert page.status_code == 200 and "Sepsis in children" in page.content.decode()
    certificate = Certificate.objects.get(session=session, user=people.amina)

    pdf = client.get(reverse("record:certificate-pdf", args=[certificate.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    assert "Amina Bello" in text and "Sepsis in children" in text
    assert f"/record/verify/{certificate.pk}/" in text

    body = json.loads(client.get(reverse("record:certificate-json", args=[certificate.pk])).content)
    assert body["jwt"] == certificate.credential and body["credential"]["credentialSubject"]["name"] == "Amina Bello"


def test_an_arabic_certificate_is_shaped_right_to_left(client, people, ended_session, lecture_rule):
    people.amina.preferred_language = "ar"
    people.amina.save()
    session = ended_session(present={people.amina: 60})
    [certificate] = certificates_issue_for_session(session_id=session.pk)
    client.force_login(people.amina)
    text = _pdf_text(client.get(reverse("record:certificate-pdf", args=[certificate.pk])).content)
    assert "Amina Bello" in text
    assert any("\u0600" <= ch <= "\u06ff" for ch in text)  # Arabic script came out as text


def test_downloads_are_the_holders_only(client, people, ended_session, lecture_rule):
    [certificate] = certificates_issue_for_session(session_id=ended_session(present={people.amina: 60}).pk)
    client.force_login(people.lukas)
    assert client.get(reverse("record:certificate-pdf", args=[certificate.pk])).status_code == 404
    assert client.get(reverse("record:certificate-json", args=[certificate.pk])).status_code == 404
    client.logout()
    assert client.get(reverse("record:certificate-pdf", args=[certificate.pk])).status_code == 302


def test_anyone_verifies_and_a_coordinator_revokes(client, people, ended_session, lecture_rule):
    [certificate] = certificates_issue_for_session(session_id=ended_session(present={people.amina: 60}).pk)
    url = reverse("record:verify", args=[certificate.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'data-status="genuine"' in page.content.decode()
    assert "Revoke this certificate" not in page.content.decode()
    assert client.get(reverse("record:verify", args=["00000000-0000-4000-8000-000000000000"])).status_code == 404

    client.force_login(people.okafor)  # another school's coordinator
    assert client.post(reverse("record:revoke", args=[certificate.pk]), {"reason": "x"}).status_code == 403
    client.force_login(people.kobayashi)
    assert "Revoke this certificate" in client.get(url).content.decode()
    client.post(reverse("record:revoke", args=[certificate.pk]), {"reason": "Shared account"})
    client.logout()
    page = client.get(url).content.decode()
    assert 'data-status="revoked"' in page and "Shared account" in page


def test_the_json_endpoint_checks_the_signature(client, people, ended_session, lecture_rule):
    [certificate] = certificates_issue_for_session(session_id=ended_session(present={people.amina: 60}).pk)
    answer = client.post("/api/record/verify", {"credential": certificate.credential}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["status"] == "genuine" and answer.json()["valid"] is True
    head, body, signature = certificate.credential.split(".")
    forged = f"{head}.{body[:-4]}AAAA.{signature}"
    answer = client.post("/api/record/verify", {"credential": forged}, content_type="application/json")
    assert answer.json() == {"status": "tampered", "valid": False, "certificate": None}
    assert client.get(f"/api/record/certificates/{certificate.pk}").json()["status"] == "genuine"
    assert client.get("/api/record/certificates").status_code == 401


def test_the_public_key_is_published(client):
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    assert keys[0]["kty"] == "OKP" and keys[0]["crv"] == "Ed25519" and "d" not in keys[0]
    did = client.get("/.well-known/did.json").json()
    assert did["verificationMethod"][0]["publicKeyJwk"] == keys[0]
