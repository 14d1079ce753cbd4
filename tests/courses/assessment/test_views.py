"""The assessment pages over HTTP: the form without JavaScript, faculty pages, refusals."""

from __future__ import annotations

import re
import uuid

import pytest

from courses.models import Attempt, Question

from .conftest import options

pytestmark = pytest.mark.django_db


def test_the_course_page_lists_the_question_set(client, people, quiz):
    client.force_login(people.amina)
    page = client.get(f"/courses/{quiz.course.course.pk}/").content.decode()
    assert f'/courses/{quiz.course.course.pk}/quizzes/{quiz.set.pk}/' in page and "Chest pain check" in page


def test_a_learner_answers_without_javascript_and_a_resent_form_counts_once(client, people, quiz):
    client.force_login(people.amina)
    url = f"/courses/{quiz.course.course.pk}/quizzes/{quiz.set.pk}/"
    page = client.get(url).content.decode()
    assert "ST elevation" not in page and "cath lab" not in page
    client_id = re.search(r'name="client_id" value="([0-9a-f-]+)"', page).group(1)
    form = {
        "client_id": client_id, f"q{quiz.ecg.pk}": options(quiz.ecg, "Inferior STEMI"),
        f"q{quiz.tests.pk}": options(quiz.tests, "Troponin", "Repeat ECG"), f"q{quiz.short.pk}": "",
    }
    first = client.post(url, form)
    again = client.post(url, form)
    assert first.status_code == 303 and again["Location"] == first["Location"]
    assert Attempt.objects.count() == 1
    result = client.get(first["Location"]).content.decode()
    assert "Score 3.0 of 4.0." in result and "75.0%, passed" in result
    assert "Yes: ST elevation in II, III, aVF." in result


def test_strangers_and_learners_are_kept_out_of_faculty_pages(client, people, quiz):
    course_id = quiz.course.course.pk
    client.force_login(people.awa)
    assert client.get(f"/courses/{course_id}/quizzes/{quiz.set.pk}/").status_code == 404
    client.force_login(people.amina)
    for url in (f"/courses/{course_id}/assessment/", f"/courses/{course_id}/assessment/marking/",
                f"/courses/{course_id}/quizzes/{quiz.set.pk}/edit/", f"/courses/{course_id}/quizzes/{quiz.set.pk}/statistics/"):
        response = client.get(url)
        assert response.status_code == 403, url
    attempt = Attempt.objects.create(question_set=quiz.set, user=people.tunde, client_id=uuid.uuid4())
    assert client.get(f"/courses/{course_id}/quizzes/{quiz.set.pk}/attempts/{attempt.pk}/").status_code == 404


def test_faculty_create_a_set_add_questions_and_mark_through_the_forms(client, people, quiz):
    course_id = quiz.course.course.pk
    client.force_login(people.adebayo)
    created = client.post(f"/courses/{course_id}/assessment/", {
        "module": quiz.course.modules[0].pk, "title": "Week 1 check", "instructions": "", "pass_mark": 50, "max_attempts": 2,
    })
    assert created.status_code == 303
    edit_url = created["Location"]
    added = client.post(edit_url, {
        "add_question": "1", "kind": "single", "prompt": "First-line treatment?", "points": 1, "image": "",
        "model_answer": "", "option_1": "Artemether-lumefantrine", "correct_1": "on", "feedback_1": "Yes.",
        "option_2": "Doxycycline", "feedback_2": "Not in pregnancy.",
    })
    assert added.status_code == 303
    assert Question.objects.filter(prompt="First-line treatment?").exists()
    bad = client.post(edit_url, {
        "add_question": "1", "kind": "single", "prompt": "No options?", "points": 1, "image": "", "model_answer": "",
    }, follow=True)
    assert "A choice question needs from 2 to 10 options." in bad.content.decode()
    client.force_login(people.amina)
    client.post(f"/courses/{course_id}/quizzes/{quiz.set.pk}/", {"client_id": str(uuid.uuid4()), f"q{quiz.short.pk}": "Cath lab"})
    client.force_login(people.adebayo)
    marking = client.get(f"/courses/{course_id}/assessment/marking/").content.decode()
    assert "Cath lab" in marking and "Call the cath lab." in marking
    answer = Attempt.objects.get(user=people.amina).answers.get(question=quiz.short)
    assert client.post(f"/courses/{course_id}/assessment/marking/", {"answer": answer.pk, "points": 1, "feedback": "OK"}).status_code == 303
    answer.refresh_from_db()
    assert answer.points == 1.0
    stats = client.get(f"/courses/{course_id}/quizzes/{quiz.set.pk}/statistics/")
    assert stats.status_code == 200 and "Point-biserial" in stats.content.decode()


def test_the_demo_has_a_question_set_and_its_pages_open_for_their_viewers(client):
    from tests.reach.pages import page_named, seed_demo_data

    people = seed_demo_data()
    for name in ("quiz", "quiz statistics", "quiz editor", "marking"):
        site_page = page_named(name)
        client.force_login(getattr(people, site_page.viewer(people)))
        response = client.get(site_page.path(people))
        assert response.status_code == 200, name
        assert len(response.content) < 30_000, name  # the HTML; the 60 KB budget includes CSS and JS
