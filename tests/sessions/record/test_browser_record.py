"""In Chromium: a student earns a certificate and a stranger verifies it; a coordinator opens the report."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from sessions.models import Attendance, CertificateRule, SessionKind
from tests.accessibility.test_axe import axe_source, axe_violations  # noqa: F401  (the fixture, and the check)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_student_earns_a_certificate_and_a_stranger_verifies_it(people, ended_session, browser_page):
    CertificateRule.objects.create(institution=people.schools.tokyo, session_kind=SessionKind.LECTURE, min_presence_percent=75)
    session = ended_session(present={people.amina: 55}, title="Rheumatic heart disease")
    assert Attendance.objects.filter(session=session).count() == 1

    student = browser_page("amina")
    student.goto("/record/certificates/")
    item = student.locator(".certificate-item", has_text="Rheumatic heart disease")
    item.wait_for()
    with student.expect_download() as pdf:
        item.get_by_role("link", name="Download PDF").click()
    assert pdf.value.path().read_bytes()[:5] == b"%PDF-"
    with student.expect_download() as credential_file:
        item.get_by_role("link", name="Download signed credential (JSON)").click()
    credential = json.loads(credential_file.value.path().read_text())
    verify_path = credential["verify"].split("//", 1)[1].split("/", 1)[1]

    stranger = browser_page(None)  # a second context, not signed in
    stranger.goto("/" + verify_path)
    verdict = stranger.locator("#verdict")
    assert verdict.get_attribute("data-status") == "genuine"
    assert stranger.locator("#holder").inner_text() == "Amina Bello"
    answer = stranger.request.post("/api/record/verify", data={"credential": credential["jwt"]})
    assert answer.json()["status"] == "genuine"
    head, body, signature = credential["jwt"].split(".")
    answer = stranger.request.post("/api/record/verify", data={"credential": f"{head}.{body[:-2]}xx.{signature}"})
    assert answer.json()["status"] == "tampered"
    keys = stranger.request.get("/.well-known/jwks.json").json()["keys"]
    assert keys[0]["crv"] == "Ed25519"


def test_a_coordinator_opens_the_report_and_the_record_pages_pass_axe(people, ended_session, browser_page, axe_source):  # noqa: F811
    CertificateRule.objects.create(institution=people.schools.tokyo, session_kind=SessionKind.LECTURE, min_presence_percent=75)
    ended_session(host=people.adebayo, present={people.yui: 60, people.amina: 60}, ago=dt.timedelta(days=3))
    ended_session(host=people.tanaka, kind=SessionKind.PEER, present={people.yui: 30, people.ren: 30, people.lukas: 60}, ago=dt.timedelta(days=2))
    lecture = ended_session(host=people.tanaka, present={people.yui: 60}, title="Snakebite")

    coordinator = browser_page("kobayashi")
    coordinator.goto("/record/report/")
    assert coordinator.locator("#figure-participation").inner_text() == "100%"
    assert coordinator.locator("svg.report-chart").count() >= 3
    assert coordinator.locator("#kind-table tbody tr").count() == 2
    with coordinator.expect_download() as report_csv:
        coordinator.locator("#report-csv").click()
    assert "participants,,2" in report_csv.value.path().read_text()
    problems = {"school report": axe_violations(coordinator, axe_source)}

    student = browser_page("yui")
    student.goto("/record/certificates/")
    student.locator(".certificate-item", has_text="Snakebite").wait_for()
    problems["my certificates"] = axe_violations(student, axe_source)
    student.goto("/record/portfolio/")
    with student.expect_navigation():
        student.get_by_role("button", name="Make a link to share it").click()
    assert student.locator("#share-url").count() == 1, student.content()[:3000]
    link = student.locator("#share-url").inner_text()
    problems["portfolio"] = axe_violations(student, axe_source)

    stranger = browser_page(None)
    certificate = lecture.certificates.get()
    stranger.goto(f"/record/verify/{certificate.pk}/")
    problems["verification"] = axe_violations(stranger, axe_source)
    stranger.goto(link)
    assert "Snakebite" in stranger.locator("#portfolio-sessions").inner_text()
    problems["shared portfolio"] = axe_violations(stranger, axe_source)
    assert not any(problems.values()), problems
