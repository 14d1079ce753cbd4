"""In Chromium: a student earns a certificate and a stranger verifies it; a course's faculty
switch its rule on and a student who passes its quiz (offline, synced later) gets the
certificate; a coordinator sets a rule on the page and opens the report."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from sessions.models import Attendance, Certificate, CertificateRule, SessionKind
from tests.accessibility.test_axe import axe_source, axe_violations  # noqa: F401  (the fixture, and the check)
from tests.courses.assessment.conftest import quiz  # noqa: F401 - fixture reused
from tests.courses.curriculum.conftest import course, library  # noqa: F401 - fixtures reused

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_student_earns_a_certificate_and_a_stranger_verifies_it(people, ended_session, quiz, browser_page, axe_source):  # noqa: F811
    from playwright.sync_api import expect

    CertificateRule.objects.create(institution=people.schools.tokyo, session_kind=SessionKind.LECTURE, min_presence_percent=75)
    session = ended_session(present={people.amina: 55}, title="Rheumatic heart disease")
    assert Attendance.objects.filter(session=session).count() == 1

    # The course's author switches its rule on from the course page.
    course_id = quiz.course.course.pk
    faculty = browser_page("adebayo")
    faculty.goto(f"/courses/{course_id}/")
    faculty.locator("#course-certificate-rule").click()
    expect(faculty.locator("#rule-criterion")).to_contain_text("1 question set")
    faculty.get_by_label("Issue a certificate to learners who pass this course").check()
    with faculty.expect_navigation():
        faculty.get_by_role("button", name="Save the rule").click()
    expect(faculty.locator(".rule-state")).to_have_attribute("data-state", "on")
    expect(faculty.locator("#rule-history tbody tr")).to_have_count(1)
    assert axe_violations(faculty, axe_source) == []
    faculty.context.close()

    # The student answers its quiz offline; the certificate is issued when the passing attempt arrives.
    student = browser_page("amina")
    student.goto(f"/courses/{course_id}/")
    student.get_by_role("link", name="Chest pain check").click()
    student.locator("article.quiz[data-ready]").wait_for()
    student.context.set_offline(True)
    student.get_by_label("Inferior STEMI").check()
    student.get_by_label("Troponin").check()
    student.get_by_label("Repeat ECG").check()
    student.get_by_role("button", name="Submit answers").click()
    expect(student.locator(".quiz-status")).to_contain_text("Saved on this device.")
    assert not Certificate.objects.filter(course_id=course_id).exists()
    student.context.set_offline(False)
    expect(student.locator(".quiz-result .score")).to_have_text("Score 3 of 4 (75%). Passed.")
    assert Certificate.objects.filter(course_id=course_id, user=people.amina).count() == 1

    student.goto("/record/certificates/")
    student.locator(".certificate-item", has_text=quiz.course.course.title).wait_for()
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
    from playwright.sync_api import expect

    # The coordinator sets the lecture rule on the rules page, linked from the report.
    coordinator = browser_page("kobayashi")
    coordinator.goto("/record/report/")
    coordinator.locator("#certificate-rules").click()
    lecture_form = coordinator.locator("#rule-lecture")
    lecture_form.get_by_label("Minimum presence (%)").fill("0")
    lecture_form.get_by_label("Issue certificates").check()
    with coordinator.expect_navigation():
        lecture_form.get_by_role("button", name="Save the rule for lecture").click()
    expect(coordinator.locator("#rule-lecture [role=alert]")).to_have_text("Give a whole percentage from 1 to 100.")
    expect(lecture_form.get_by_label("Minimum presence (%)")).to_have_attribute("aria-invalid", "true")
    expect(lecture_form.get_by_label("Minimum presence (%)")).to_be_focused()  # the keyboard is on the field to fix
    problems = {"certificate rules (error shown)": axe_violations(coordinator, axe_source)}
    assert not CertificateRule.objects.exists()
    lecture_form.get_by_label("Minimum presence (%)").fill("75")
    with coordinator.expect_navigation():
        lecture_form.get_by_role("button", name="Save the rule for lecture").click()
    expect(coordinator.locator("#rule-lecture .rule-state")).to_have_attribute("data-state", "on")
    assert CertificateRule.objects.get(session_kind=SessionKind.LECTURE).min_presence_percent == 75

    ended_session(host=people.adebayo, present={people.yui: 60, people.amina: 60}, ago=dt.timedelta(days=3))
    ended_session(host=people.tanaka, kind=SessionKind.PEER, present={people.yui: 30, people.ren: 30, people.lukas: 60}, ago=dt.timedelta(days=2))
    lecture = ended_session(host=people.tanaka, present={people.yui: 60}, title="Snakebite")

    coordinator.goto("/record/report/")
    assert coordinator.locator("#figure-participation").inner_text() == "100%"
    assert coordinator.locator("svg.report-chart").count() >= 3
    assert coordinator.locator("#kind-table tbody tr").count() == 2
    with coordinator.expect_download() as report_csv:
        coordinator.locator("#report-csv").click()
    assert "participants,,2" in report_csv.value.path().read_text()
    problems["school report"] = axe_violations(coordinator, axe_source)

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
