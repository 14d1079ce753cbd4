"""Certificate rules: who sets them (service, page, API), the audit of changes, and the
course rule that issues on "course passed" (the assessment's verdict) at the attempt."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from courses.assessment import selectors as assessment_selectors
from courses.assessment import services as assessment
from courses.models import Course
from server.people.errors import InvalidRequest, PermissionRefused
from sessions.models import Certificate, CertificateRule, CertificateRuleChange, SessionKind
from sessions.record.services import (
    certificate_rule_set,
    certificates_backfill,
    certificates_issue_for_course,
    course_certificate_criterion,
)
from tests.courses.assessment.conftest import options, quiz  # noqa: F401 - fixture reused
from tests.courses.curriculum.conftest import course, library  # noqa: F401 - fixtures reused

pytestmark = pytest.mark.django_db


def _passing(quiz, *, short: str = "") -> dict:  # noqa: F811
    """Both choice questions right (3 of 4 points, pass mark 60%); the short answer blank
    (0 points, graded at once) or given (waits for a mark)."""
    return {
        quiz.ecg.pk: {"options": options(quiz.ecg, "Inferior STEMI")},
        quiz.tests.pk: {"options": options(quiz.tests, "Troponin", "Repeat ECG")},
        quiz.short.pk: {"text": short},
    }


def _failing(quiz) -> dict:  # noqa: F811
    return {quiz.ecg.pk: {"options": options(quiz.ecg, "Normal ECG")}}


# -- who sets which rule, and the audit -----------------------------------------------------------


def test_coordinators_set_their_schools_session_rules_and_every_change_is_audited(people):
    tokyo = people.schools.tokyo
    rule = certificate_rule_set(by=people.kobayashi, institution=tokyo, session_kind=SessionKind.LECTURE, min_presence_percent=80)
    assert (rule.min_presence_percent, rule.is_active, rule.updated_by) == (80, True, people.kobayashi)
    assert certificate_rule_set(by=people.kobayashi, institution=tokyo, session_kind=SessionKind.LECTURE, min_presence_percent=80) == rule
    certificate_rule_set(by=people.kobayashi, institution=tokyo, session_kind=SessionKind.LECTURE, min_presence_percent=80, active=False)
    changes = list(CertificateRuleChange.objects.filter(rule=rule).order_by("pk").values_list("changed_by__username", "created", "is_active", "min_presence_percent"))
    assert changes == [("kobayashi", True, True, 80), ("kobayashi", False, False, 80)]  # the unchanged save recorded nothing
    assert CertificateRule.objects.get(pk=rule.pk).is_active is False

    for outsider in (people.okafor, people.tanaka, people.amina):  # another school's coordinator, faculty, a student
        with pytest.raises(PermissionRefused):
            certificate_rule_set(by=outsider, institution=tokyo, session_kind=SessionKind.LECTURE, min_presence_percent=50)
    for percent in (0, 101, -5):
        with pytest.raises(InvalidRequest):
            certificate_rule_set(by=people.kobayashi, institution=tokyo, session_kind=SessionKind.PEER, min_presence_percent=percent)
    with pytest.raises(InvalidRequest):  # a consult is not certified by attendance
        certificate_rule_set(by=people.kobayashi, institution=tokyo, session_kind=SessionKind.CONSULT)
    assert CertificateRuleChange.objects.count() == 2


def test_a_courses_faculty_set_its_rule_and_no_one_else(people, quiz):  # noqa: F811
    lagos_course = quiz.course.course
    for outsider in (people.kobayashi, people.tanaka, people.amina):  # Tokyo's coordinator, a partner's faculty, a learner
        with pytest.raises(PermissionRefused):
            certificate_rule_set(by=outsider, course=lagos_course)
    with pytest.raises(PermissionRefused):  # a coordinator cannot file another school's course under theirs
        certificate_rule_set(by=people.kobayashi, institution=people.schools.tokyo, course=lagos_course)
    rule = certificate_rule_set(by=people.adebayo, course=lagos_course)  # the author
    assert rule.institution == people.schools.lagos and rule.updated_by == people.adebayo
    certificate_rule_set(by=people.okafor, course=lagos_course, active=False)  # the school's coordinator
    assert [c.changed_by for c in rule.changes.order_by("pk")] == [people.adebayo, people.okafor]


# -- "course passed" -------------------------------------------------------------------------------


def test_a_course_with_question_sets_certifies_at_the_passing_attempt_once(people, quiz, django_capture_on_commit_callbacks):  # noqa: F811
    course_ = quiz.course.course
    certificate_rule_set(by=people.adebayo, course=course_)
    # Every item done is not enough when the course has question sets.
    from courses.models import LearnerProgress

    for item in vars(quiz.course.items).values():
        LearnerProgress.objects.create(user=people.amina, item=item, status="done")
    assert certificates_issue_for_course(course_id=course_.pk) == []

    with django_capture_on_commit_callbacks(execute=True):
        assessment.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=_failing(quiz))
    assert not Certificate.objects.filter(course=course_).exists()

    passing_id = uuid.uuid4()  # answered offline; the device sends it later, and again after a lost reply
    with django_capture_on_commit_callbacks(execute=True):
        assessment.attempt_submit(user=people.amina, question_set=quiz.set, client_id=passing_id, answers=_passing(quiz))
    [certificate] = Certificate.objects.filter(course=course_)
    assert certificate.user == people.amina and certificate.kind == "course"
    with django_capture_on_commit_callbacks(execute=True):
        replay = assessment.attempt_submit(user=people.amina, question_set=quiz.set, client_id=passing_id, answers=_passing(quiz))
    assert replay.replayed
    assert Certificate.objects.filter(course=course_).count() == 1
    assert certificates_backfill() == 0


def test_a_pass_that_waits_for_a_mark_certifies_when_marked(people, quiz, django_capture_on_commit_callbacks):  # noqa: F811
    certificate_rule_set(by=people.adebayo, course=quiz.course.course)
    with django_capture_on_commit_callbacks(execute=True):
        attempt = assessment.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(),
                                            answers=_passing(quiz, short="Call the cath lab.")).attempt
    assert attempt.passed is None and not Certificate.objects.exists()  # pending: the short answer waits
    with django_capture_on_commit_callbacks(execute=True):
        assessment.answer_mark(by=people.adebayo, answer=attempt.answers.get(question=quiz.short), points=1)
    assert Certificate.objects.get().user == people.tunde


#: Switching a course rule on with three learners: the rule, its audit, then who passed (the
#: sets counted, the passers) and the certificate of the one who did.
RULE_ON_QUERIES = 21


def test_switching_a_course_rule_on_certifies_those_who_already_passed(people, quiz, django_capture_on_commit_callbacks,  # noqa: F811
                                                                        django_assert_num_queries):
    """Who passed is read in one query for every learner (it was two per learner, inside
    the request that switched the rule on): the count below holds whatever their number."""
    assessment.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=_passing(quiz))
    assessment.attempt_submit(user=people.tunde, question_set=quiz.set, client_id=uuid.uuid4(), answers=_failing(quiz))
    assessment.attempt_submit(user=people.chiamaka, question_set=quiz.set, client_id=uuid.uuid4(), answers=_failing(quiz))
    assert not Certificate.objects.exists()  # no rule yet
    with django_assert_num_queries(RULE_ON_QUERIES), django_capture_on_commit_callbacks(execute=True):
        certificate_rule_set(by=people.adebayo, course=quiz.course.course)
    assert list(Certificate.objects.values_list("user__username", flat=True)) == ["amina"]
    course_ = quiz.course.course
    learners = [people.amina.pk, people.tunde.pk, people.chiamaka.pk]
    assert assessment_selectors.course_passers(course=course_, user_ids=learners) == {people.amina.pk}
    assert {u.pk for u in (people.amina, people.tunde, people.chiamaka)
            if assessment_selectors.course_passed(user=u, course=course_)} == {people.amina.pk}  # the same verdict


def test_a_question_set_without_current_questions_does_not_count(people, quiz, django_capture_on_commit_callbacks):  # noqa: F811
    """A second set nobody has written questions for yet, and then one whose questions were
    all removed: neither can be passed, so neither may stand between a learner and the
    course's verdict (or its certificate)."""
    course_ = quiz.course.course
    assessment.question_set_create(by=people.adebayo, module=quiz.set.module, title="Still being written")
    certificate_rule_set(by=people.adebayo, course=course_)
    with django_capture_on_commit_callbacks(execute=True):
        assessment.attempt_submit(user=people.amina, question_set=quiz.set, client_id=uuid.uuid4(), answers=_passing(quiz))
    assert assessment_selectors.course_passed(user=people.amina, course=course_)
    assert [s.question_set_id for s in assessment_selectors.course_assessment_results(user=people.amina, course=course_).sets] == [quiz.set.pk]
    assert Certificate.objects.get(course=course_).user == people.amina
    assert assessment_selectors.course_passers(course=course_, user_ids=[people.amina.pk, people.tunde.pk]) == {people.amina.pk}
    assert course_certificate_criterion(course=course_) == "passed"
    for question in (quiz.ecg, quiz.tests, quiz.short):
        assessment.question_remove(by=people.adebayo, question=question)
    assert course_certificate_criterion(course=course_) == "completed"  # no set left to pass
    assert not assessment_selectors.course_passed(user=people.amina, course=course_)


# -- the pages -------------------------------------------------------------------------------------


def test_the_school_page_shows_edits_and_refuses_others(client, people):
    url = reverse("record:rules-school", args=[people.schools.tokyo.pk])
    assert client.get(url).status_code == 302  # to the log-in page
    for outsider in (people.okafor, people.tanaka, people.yui):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
        assert client.post(url, {"session_kind": "lecture", "lecture-min_presence_percent": "50", "lecture-active": "on"}).status_code == 404
    assert not CertificateRule.objects.exists()

    client.force_login(people.kobayashi)
    page = client.get(url)
    assert page.status_code == 200
    assert page.content.decode().count('class="rule-form"') == 3  # case conference, lecture, peer session

    refused = client.post(url, {"session_kind": "lecture", "lecture-min_presence_percent": "0", "lecture-active": "on"})
    body = refused.content.decode()
    assert refused.status_code == 400
    assert body.count("autofocus") == 1 and re.search(r'<input [^>]*name="lecture-min_presence_percent"[^>]* autofocus[ >]', body)
    assert "Give a whole percentage from 1 to 100." in body and 'aria-invalid="true"' in body
    # The message is tied to its field for screen readers, and its id is unique on the page.
    assert 'aria-describedby="id_lecture-min_presence_percent_helptext id_lecture-min_presence_percent_error"' in body
    assert body.count('id="id_lecture-min_presence_percent_error"') == 1
    for bad in ("101", "abc", ""):
        assert client.post(url, {"session_kind": "lecture", "lecture-min_presence_percent": bad}).status_code == 400, bad
    assert not CertificateRule.objects.exists()

    saved = client.post(url, {"session_kind": "lecture", "lecture-min_presence_percent": "80", "lecture-active": "on"})
    assert saved.status_code == 302 and saved["Location"].endswith("#rule-lecture")
    rule = CertificateRule.objects.get(institution=people.schools.tokyo, session_kind="lecture")
    assert (rule.min_presence_percent, rule.is_active) == (80, True)
    client.post(url, {"session_kind": "lecture", "lecture-min_presence_percent": "80"})  # the box left unticked: off
    rule.refresh_from_db()
    assert rule.is_active is False
    page = client.get(url).content.decode()
    assert 'data-state="off"' in page and "Last changed by Emi Kobayashi" in page
    assert page.count("<td>Emi Kobayashi</td>") == 2  # the history: created, switched off
    assert page.count("<td>Lecture</td>") == 2  # which rule each change was to
    assert client.post(url, {"session_kind": "consult", "consult-min_presence_percent": "50"}).status_code == 400


def test_the_pages_need_the_csrf_token(people):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people.kobayashi)
    url = reverse("record:rules-school", args=[people.schools.tokyo.pk])
    assert strict.post(url, {"session_kind": "lecture", "lecture-min_presence_percent": "80", "lecture-active": "on"}).status_code == 403
    answer = strict.put(f"/api/record/rules/schools/{people.schools.tokyo.pk}/kinds/lecture",
                        {"min_presence_percent": 80, "active": True}, content_type="application/json")
    assert answer.status_code == 403
    assert not CertificateRule.objects.exists()


def test_the_course_page_is_its_facultys(client, people, quiz, django_capture_on_commit_callbacks):  # noqa: F811
    course_ = quiz.course.course
    url = reverse("record:rules-course", args=[course_.pk])
    client.force_login(people.amina)  # a learner: the course is open to her, its rule is not
    assert client.get(url).status_code == 403
    assert client.post(url, {"active": "on"}).status_code == 403
    client.force_login(people.sow)  # Dakar is not in the course's audience
    assert client.get(url).status_code == 403
    assert not CertificateRule.objects.exists()

    client.force_login(people.adebayo)
    detail = client.get(reverse("course-detail", args=[course_.pk])).content.decode()
    assert f'href="{url}"' in detail  # linked from the course page for its faculty
    page = client.get(url).content.decode()
    assert "This course has 1 question set: a learner earns the certificate when they pass it." in page
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"active": "on"}).status_code == 302
    assert CertificateRule.objects.get(course=course_).is_active
    assert 'data-state="on"' in client.get(url).content.decode()
    client.force_login(people.amina)
    assert f'href="{url}"' not in client.get(reverse("course-detail", args=[course_.pk])).content.decode()


def test_the_report_and_the_home_page_link_the_rules(client, people):
    client.force_login(people.kobayashi)
    rules = reverse("record:rules-school", args=[people.schools.tokyo.pk])
    assert f'href="{rules}"' in client.get(reverse("record:report", args=[people.schools.tokyo.pk])).content.decode()
    assert client.get(reverse("record:rules-home"))["Location"] == rules
    client.force_login(people.amina)
    assert client.get(reverse("record:rules-home")).status_code == 403


# -- the API ---------------------------------------------------------------------------------------


def test_the_api_reads_and_sets_rules_for_those_allowed(client, people, quiz):  # noqa: F811
    tokyo = people.schools.tokyo.pk
    assert client.get(f"/api/record/rules/schools/{tokyo}").status_code == 401
    client.force_login(people.okafor)
    assert client.get(f"/api/record/rules/schools/{tokyo}").status_code == 404
    assert client.put(f"/api/record/rules/schools/{tokyo}/kinds/lecture", {"min_presence_percent": 50}, content_type="application/json").status_code == 404

    client.force_login(people.kobayashi)
    assert client.put(f"/api/record/rules/schools/{tokyo}/kinds/lecture", {"min_presence_percent": 0}, content_type="application/json").status_code == 422
    bad_kind = client.put(f"/api/record/rules/schools/{tokyo}/kinds/consult", {"min_presence_percent": 50}, content_type="application/json")
    assert bad_kind.status_code == 400 and bad_kind.json()["code"] == "bad_rule"
    set_ = client.put(f"/api/record/rules/schools/{tokyo}/kinds/lecture", {"min_presence_percent": 70}, content_type="application/json")
    assert set_.status_code == 200
    assert {k: set_.json()[k] for k in ("session_kind", "criterion", "min_presence_percent", "active", "updated_by")} == {
        "session_kind": "lecture", "criterion": "presence", "min_presence_percent": 70, "active": True, "updated_by": "Emi Kobayashi"}
    assert [r["session_kind"] for r in client.get(f"/api/record/rules/schools/{tokyo}").json()] == ["lecture"]

    course_id = quiz.course.course.pk
    client.force_login(people.amina)
    assert client.put(f"/api/record/rules/courses/{course_id}", {"active": True}, content_type="application/json").status_code == 403
    assert client.get(f"/api/record/rules/courses/{course_id}").status_code == 403
    client.force_login(people.adebayo)
    assert client.get(f"/api/record/rules/courses/{course_id}").json()["id"] is None
    answer = client.put(f"/api/record/rules/courses/{course_id}", {"active": True}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["criterion"] == "passed" and answer.json()["active"] is True


def test_the_school_rules_api_reads_its_course_rules_at_a_fixed_number_of_queries(client, people, quiz):  # noqa: F811
    """Each course rule's criterion ("passed": its course has a set with questions) comes with
    the rules, not from one more query per course."""
    lagos = people.schools.lagos
    client.force_login(people.okafor)  # Lagos's coordinator
    CertificateRule.objects.create(institution=lagos, course=quiz.course.course)
    url = f"/api/record/rules/schools/{lagos.pk}"
    with CaptureQueriesContext(connection) as one_course:
        assert [r["criterion"] for r in client.get(url).json()] == ["passed"]
    for title in ("Anaemia in pregnancy", "Burns first aid"):
        other = Course.objects.create(title=title, owner=people.adebayo, institution=lagos, is_published=True)
        CertificateRule.objects.create(institution=lagos, course=other)
    with CaptureQueriesContext(connection) as three_courses:
        rules = client.get(url).json()
    assert {r["course_id"]: r["criterion"] for r in rules} == {
        quiz.course.course.pk: "passed", **{c.pk: "completed" for c in Course.objects.filter(title__in=("Anaemia in pregnancy", "Burns first aid"))}
    }
    assert len(three_courses.captured_queries) == len(one_course.captured_queries)


def test_the_listener_costs_little_on_each_attempt(people, quiz, django_assert_num_queries):  # noqa: F811
    """It runs after every attempt, mark and item done: without a rule it reads the course and
    the rule only; with one, a learner not passing costs a handful of reads, no write."""
    course_id = quiz.course.course.pk
    with django_assert_num_queries(2):
        assert certificates_issue_for_course(course_id=course_id, user_ids=[people.amina.pk]) == []
    certificate_rule_set(by=people.adebayo, course=quiz.course.course)
    with django_assert_num_queries(7):
        assert certificates_issue_for_course(course_id=course_id, user_ids=[people.amina.pk]) == []
