"""Certificates: the rules, issuing once, the signed credential, tampering, revoking."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from django.core.management import call_command

from server.people.errors import PermissionRefused
from sessions.models import Certificate, CertificateRule, SessionKind
from sessions.record import credentials
from sessions.record.presence import presence_percent
from sessions.record.selectors import certificate_verify_credential, certificate_verify_id
from sessions.record.services import (
    certificate_revoke,
    certificate_rule_set,
    certificates_backfill,
    certificates_issue_for_course,
    certificates_issue_for_session,
)

pytestmark = pytest.mark.django_db


def test_presence_is_the_union_of_stretches_clipped_to_the_session(people, ended_session):
    session = ended_session(minutes=100)
    s = session.starts_at
    m = lambda n: s + (session.ends_at - session.starts_at) * n / 100  # noqa: E731
    # 0-40 and 30-60 overlap (60 min), 90-120 is clipped to 90-100 (10 min), before start clipped
    stretches = [(m(0), m(40)), (m(30), m(60)), (m(90), m(120)), (m(-20), m(0))]
    assert presence_percent(span=(session.starts_at, session.ends_at), stretches=stretches) == 70
    assert presence_percent(span=(session.starts_at, session.ends_at), stretches=[(m(10), None)]) == 90


def test_a_session_rule_certifies_those_present_long_enough_once(people, ended_session, lecture_rule):
    session = ended_session(present={people.amina: 50, people.lukas: [(0, 20), (25, 60)], people.priya: 44})
    issued = certificates_issue_for_session(session_id=session.pk)
    assert {c.user for c in issued} == {people.amina, people.lukas}  # 83% and 91%; priya 73%
    assert certificates_issue_for_session(session_id=session.pk) == []  # idempotent
    assert Certificate.objects.filter(session=session).count() == 2
    lukas = Certificate.objects.get(session=session, user=people.lukas)
    assert lukas.presence_percent == 91 and lukas.minutes == 55 and lukas.activity_kind == "lecture"


def test_no_rule_no_certificate_and_the_host_gets_none(people, ended_session):
    session = ended_session(present={people.amina: 60, people.tanaka: 60})
    assert certificates_issue_for_session(session_id=session.pk) == []
    CertificateRule.objects.create(institution=people.schools.tokyo, session_kind=SessionKind.LECTURE)
    assert [c.user for c in certificates_issue_for_session(session_id=session.pk)] == [people.amina]


def test_the_backfill_command_issues_what_was_missed(people, ended_session, lecture_rule, capsys):
    ended_session(present={people.amina: 60})
    ended_session(present={people.lukas: 60})
    call_command("certificates_backfill")
    assert "2 certificate(s) issued" in capsys.readouterr().out
    assert certificates_backfill() == 0


def test_the_credential_is_an_open_badge_signed_with_the_published_key(people, ended_session, lecture_rule):
    session = ended_session(present={people.amina: 60})
    [certificate] = certificates_issue_for_session(session_id=session.pk)
    header = jwt.get_unverified_header(certificate.credential)
    assert header["alg"] == "EdDSA" and header["typ"] == "vc+jwt"
    # Verify with nothing but the published JWK, as an outside verifier would.
    key = jwt.PyJWK(credentials.public_jwk())
    claims = jwt.decode(certificate.credential, key.key, algorithms=["EdDSA"])
    assert claims["id"] == f"urn:uuid:{certificate.pk}"
    assert "OpenBadgeCredential" in claims["type"]
    assert claims["credentialSubject"]["name"] == people.amina.name
    assert claims["credentialSubject"]["achievement"]["name"] == session.title
    assert certificate_verify_credential(token=certificate.credential).status == "genuine"


def _tamper(token: str, change) -> str:
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    change(claims)
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{body}.{signature}"


def test_tampered_forged_and_downgraded_credentials_are_refused(people, ended_session, lecture_rule):
    session = ended_session(present={people.amina: 60})
    [certificate] = certificates_issue_for_session(session_id=session.pk)
    token = certificate.credential

    renamed = _tamper(token, lambda c: c["credentialSubject"].update(name="Mallory"))
    assert certificate_verify_credential(token=renamed).status == "tampered"

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    claims = jwt.decode(token, options={"verify_signature": False})
    other_key = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": credentials.key_id()})
    assert certificate_verify_credential(token=other_key).status == "tampered"
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": credentials.key_id()})
    assert certificate_verify_credential(token=unsigned).status == "tampered"
    assert certificate_verify_credential(token="not a jwt").status == "tampered"
    # A genuine signature over a credential that is not the stored one (re-signed copy).
    copy = credentials.credential_sign({**claims, "name": "Something else"})
    assert certificate_verify_credential(token=copy).status == "tampered"


def test_revoking_needs_the_issuing_school_and_a_reason(people, ended_session, lecture_rule):
    session = ended_session(present={people.amina: 60})
    [certificate] = certificates_issue_for_session(session_id=session.pk)
    with pytest.raises(PermissionRefused):
        certificate_revoke(by=people.okafor, certificate=certificate, reason="no")  # Lagos coordinator
    with pytest.raises(PermissionRefused):
        certificate_revoke(by=people.amina, certificate=certificate, reason="no")
    certificate_revoke(by=people.kobayashi, certificate=certificate, reason="Attendance was shared with another account.")
    verification = certificate_verify_id(certificate_id=str(certificate.pk))
    assert verification.status == "revoked" and not verification.genuine
    assert certificate_verify_credential(token=certificate.credential).status == "revoked"
    assert verification.as_json()["certificate"]["revoke_reason"] == "Attendance was shared with another account."


def test_a_course_rule_certifies_learners_who_did_every_item(people, django_capture_on_commit_callbacks):
    from courses.models import Course, Material, Module, ModuleItem

    course = Course.objects.create(title="Tropical medicine", owner=people.tanaka, institution=people.schools.tokyo,
                                   is_published=True)
    module = Module.objects.create(course=course, title="One")
    items = []
    for n in range(2):
        material = Material.objects.create(kind="article", title=f"M{n}", contributed_by=people.tanaka, institution=people.schools.tokyo)
        items.append(ModuleItem.objects.create(module=module, material=material, position=n))
    with pytest.raises(PermissionRefused):
        certificate_rule_set(by=people.okafor, institution=people.schools.tokyo, course=course)
    certificate_rule_set(by=people.kobayashi, institution=people.schools.tokyo, course=course)
    from courses.models import LearnerProgress

    LearnerProgress.objects.create(user=people.amina, item=items[0], status="done")
    assert certificates_issue_for_course(course_id=course.pk) == []
    LearnerProgress.objects.create(user=people.amina, item=items[1], status="done")
    from courses.curriculum.events import course_event_emit

    # The course part tells of the last item done; the record's listener issues the certificate.
    with django_capture_on_commit_callbacks(execute=True):
        course_event_emit(kind="progress.done", course_id=course.pk, data={"user_id": people.amina.pk})
    [certificate] = Certificate.objects.filter(course=course)
    assert certificate.kind == "course" and certificate.user == people.amina
    assert certificates_issue_for_course(course_id=course.pk) == []


def test_the_certificate_is_in_the_holders_language(people, ended_session, lecture_rule):
    people.amina.preferred_language = "ar"
    people.amina.save()
    people.lukas.preferred_language = "de"
    people.lukas.save()
    session = ended_session(present={people.amina: 60, people.lukas: 60})
    issued = {c.user_id: c for c in certificates_issue_for_session(session_id=session.pk)}
    assert issued[people.amina.pk].language == "ar"
    assert issued[people.lukas.pk].language == "en"
