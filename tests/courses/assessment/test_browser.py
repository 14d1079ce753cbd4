"""Headless Chromium: a learner answers a quiz with the network off, it syncs once when the
network is back; the course's faculty read the statistics. axe and CSP on these pages."""

from __future__ import annotations

import pytest

from courses.models import Attempt
from tests.accessibility.test_axe import axe_source, axe_violations  # noqa: F401 - fixture reused
from tests.reach.test_csp import RECORD_VIOLATIONS, violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_answers_given_offline_sync_once_and_faculty_see_statistics(people, quiz, browser_page, axe_source):  # noqa: F811
    from playwright.sync_api import expect

    course_id = quiz.course.course.pk
    page = browser_page("amina")
    page.context.add_init_script(RECORD_VIOLATIONS)
    page.csp_console = []  # type: ignore[attr-defined]
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_console.append(m.text))
    page.goto(f"/courses/{course_id}/")
    page.get_by_role("link", name="Chest pain check").click()
    expect(page.get_by_role("heading", name="Chest pain check")).to_be_visible()
    expect(page.get_by_role("img", name="Figure 0")).to_be_visible()  # the ECG, through the library's file URL

    page.locator("article.quiz[data-ready]").wait_for()
    page.context.set_offline(True)
    page.get_by_label("Inferior STEMI").check()
    page.get_by_label("Troponin").check()
    page.get_by_label("Repeat ECG").check()
    page.get_by_role("button", name="Submit answers").click()
    expect(page.locator(".quiz-status")).to_have_text(
        "Saved on this device. Your answers will be sent when you are online again."
    )
    assert Attempt.objects.count() == 0

    page.context.set_offline(False)
    result = page.locator(".quiz-result")
    expect(result.locator(".score")).to_have_text("Score 3 of 4 (75%). Passed.")
    expect(result).to_contain_text("Yes: ST elevation in II, III, aVF.")
    expect(page.locator(".quiz-status")).to_have_text("Your answers were sent.")
    expect(result.locator("h2")).to_have_count(1)
    assert Attempt.objects.filter(user=people.amina).count() == 1
    # Another drop and reconnect sends nothing again and shows nothing twice.
    page.context.set_offline(True)
    page.context.set_offline(False)
    page.wait_for_timeout(300)
    expect(result.locator("h2")).to_have_count(1)
    # The same attempt sent again (a retry after a dropped reply) is answered, not counted.
    attempt = Attempt.objects.get()
    replay = page.evaluate(
        """async ([setId, clientId]) => {
          const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
          const response = await fetch(`/api/assessment/sets/${setId}/attempts`, {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
            body: JSON.stringify({client_id: clientId, answers: []})});
          return [response.status, (await response.json()).replayed];
        }""",
        [quiz.set.pk, str(attempt.client_id)],
    )
    assert replay == [200, True]
    assert Attempt.objects.count() == 1
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('openrounds.quiz') && localStorage[k] !== '[]')") == []
    assert axe_violations(page, axe_source) == []
    assert violations(page) == []
    weight = page.evaluate(
        "performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))"
        ".filter(e => !e.name.includes('/library/')).reduce((sum, e) => sum + (e.encodedBodySize || 0), 0)"
    )
    assert 0 < weight <= 60 * 1024, weight  # the ECG image is the lesson's own content, counted apart
    page.context.close()

    faculty = browser_page("adebayo")
    faculty.goto(f"/courses/{course_id}/quizzes/{quiz.set.pk}/statistics/")
    row = faculty.locator(f'tr.item-stats[data-question="{quiz.ecg.pk}"]')
    expect(row.locator(".difficulty")).to_have_text("1.00")
    expect(faculty.locator(".stats-summary")).to_contain_text("1 learner's first graded attempt.")
    assert axe_violations(faculty, axe_source) == []
    for path in (f"/courses/{course_id}/assessment/", f"/courses/{course_id}/quizzes/{quiz.set.pk}/edit/",
                 f"/courses/{course_id}/assessment/marking/", f"/courses/{course_id}/quizzes/{quiz.set.pk}/attempts/{attempt.pk}/"):
        faculty.goto(path)
        assert axe_violations(faculty, axe_source) == [], path
    # Reordering by keyboard with plain forms: the focus comes back to the moved question.
    faculty.goto(f"/courses/{course_id}/quizzes/{quiz.set.pk}/edit/")
    faculty.get_by_role("button", name="Move down question 1").focus()
    faculty.keyboard.press("Enter")
    expect(faculty.get_by_role("button", name="Move down question 2")).to_be_focused()
    expect(faculty.locator("ol.edit-questions > li").first).to_contain_text("Which tests first?")
    faculty.keyboard.press("Shift+Tab")  # to its "Move up", and back up
    faculty.keyboard.press("Enter")
    expect(faculty.get_by_role("button", name="Move down question 1")).to_be_focused()  # first: no "up" left
    expect(faculty.locator("ol.edit-questions > li").first).to_contain_text("What does this ECG show?")
    # Editing the answered ECG question: a new version; Amina's attempt keeps the one she answered.
    faculty.get_by_role("link", name="Edit question 1").click()
    expect(faculty.get_by_role("heading", name="Edit question 1")).to_be_visible()
    assert axe_violations(faculty, axe_source) == []
    faculty.get_by_label("Question", exact=True).fill("What does this tracing show?")
    faculty.get_by_role("button", name="Save question").click()
    expect(faculty.get_by_role("status")).to_contain_text("Question saved as version 2.")
    faculty.goto(f"/courses/{course_id}/quizzes/{quiz.set.pk}/attempts/{attempt.pk}/")
    expect(faculty.locator("main")).to_contain_text("What does this ECG show?")
    faculty.context.close()
