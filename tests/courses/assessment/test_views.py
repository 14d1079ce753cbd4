"""The assessment pages over HTTP: the form without JavaScript, faculty pages, refusals."""

from __future__ import annotations

import re
import uuid

import pytest

from courses.models import Attempt, Material, Question, Scope

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
    for name in ("quiz", "quiz statistics", "quiz editor", "question editor", "marking", "question history"):
        site_page = page_named(name)
        client.force_login(getattr(people, site_page.viewer(people)))
        response = client.get(site_page.path(people))
        assert response.status_code == 200, name
        assert len(response.content) < 30_000, name  # the HTML; the 60 KB budget includes CSS and JS


def _edit_form(**changes: object) -> dict:
    form = {
        "kind": "single", "prompt": "Read this tracing.", "points": 1, "image": "", "model_answer": "",
        "option_1": "Inferior STEMI", "feedback_1": "Not on this tracing.",
        "option_2": "Normal ECG", "correct_2": "on", "feedback_2": "Yes: nothing abnormal.",
        "option_3": "Atrial fibrillation", "feedback_3": "",
    }
    return {key: value for key, value in (form | changes).items() if value is not None}


def test_faculty_edit_a_question_in_place_and_an_answered_one_keeps_its_attempts(client, people, quiz):
    course_id = quiz.course.course.pk
    client.force_login(people.amina)
    quiz_url = f"/courses/{course_id}/quizzes/{quiz.set.pk}/"
    page = client.get(quiz_url).content.decode()
    client_id = re.search(r'name="client_id" value="([0-9a-f-]+)"', page).group(1)
    # Amina's form was opened before the edit; she sends it after: marked against what she saw.
    stale_form = {"client_id": client_id, f"q{quiz.ecg.pk}": options(quiz.ecg, "Inferior STEMI"), f"q{quiz.short.pk}": ""}

    client.force_login(people.adebayo)
    edit_url = f"/courses/{course_id}/quizzes/{quiz.set.pk}/questions/{quiz.ecg.pk}/edit/"
    form_page = client.get(edit_url).content.decode()
    assert "What does this ECG show?" in form_page and "Yes: ST elevation in II, III, aVF." in form_page
    assert 'value="Atrial fibrillation"' in form_page and 'name="option_5"' in form_page  # 3 options + 2 empty rows

    refused = client.post(edit_url, _edit_form(correct_1="on"))
    assert refused.status_code == 400
    assert "Mark exactly one option as correct." in refused.content.decode()
    assert "Read this tracing." in refused.content.decode()  # what was typed is kept
    assert not Question.objects.filter(prompt="Read this tracing.").exists()

    saved = client.post(edit_url, _edit_form(image=quiz.ecg.image_id))
    new_ecg = Question.objects.get(prompt="Read this tracing.", retired_at__isnull=True)
    assert saved.status_code == 303 and saved["Location"].endswith(f"/edit/#question-{new_ecg.pk}")
    listing = client.get(saved["Location"].split("#")[0]).content.decode()
    assert "Question saved." in listing and "Read this tracing." in listing and "What does this ECG show?" not in listing
    assert client.get(edit_url).status_code == 404  # the replaced version is no longer edited

    client.force_login(people.amina)
    late = client.post(quiz_url, stale_form)
    result = client.get(late["Location"]).content.decode()
    assert "What does this ECG show?" in result and "Yes: ST elevation in II, III, aVF." in result
    assert "Score 1.0 of 4.0." in result


def test_a_refused_edit_focuses_the_first_invalid_field_and_the_image_no_longer_shared_is_kept(client, people, quiz, library):
    """The form comes back with the keyboard on the first field in error (not on a
    form-wide refusal); and once Tokyo keeps the ECG case to itself, Dr. Adebayo still
    saves the question with its image, which he did not choose again."""
    course_id = quiz.course.course.pk
    client.force_login(people.adebayo)
    edit_url = f"/courses/{course_id}/quizzes/{quiz.set.pk}/questions/{quiz.ecg.pk}/edit/"
    assert "autofocus" not in client.get(edit_url).content.decode()
    refused = client.post(edit_url, _edit_form(points="0", prompt=""))  # the question and its points: the first in error
    body = refused.content.decode()
    assert refused.status_code == 400 and body.count("autofocus") == 1
    assert re.search(r'<textarea name="prompt"[^>]* autofocus[ >]', body)
    whole_form = client.post(edit_url, _edit_form(correct_1="on")).content.decode()  # two correct: the form as a whole
    assert "Mark exactly one option as correct." in whole_form and "autofocus" not in whole_form

    Material.objects.filter(pk=library.tokyo_case.pk).update(scope=Scope.OWN_SCHOOL)
    saved = client.post(edit_url, _edit_form(image=quiz.ecg.image_id))
    assert saved.status_code == 303
    assert Question.objects.get(prompt="Read this tracing.", retired_at__isnull=True).image_id == library.tokyo_case.pk


def test_faculty_reorder_questions_with_plain_forms_and_focus_returns_to_the_moved_one(client, people, quiz):
    course_id = quiz.course.course.pk
    client.force_login(people.adebayo)
    move_url = f"/courses/{course_id}/quizzes/{quiz.set.pk}/questions/{quiz.short.pk}/move/"
    moved = client.post(move_url, {"direction": "up"})
    assert moved.status_code == 303 and f"moved={quiz.short.pk}&direction=up" in moved["Location"]
    page = client.get(moved["Location"]).content.decode()
    order = [int(pk) for pk in re.findall(r'<li id="question-(\d+)"', page)]
    assert order == [quiz.ecg.pk, quiz.short.pk, quiz.tests.pk]
    assert "Question moved up." in page
    focused = re.findall(r'<button type="submit" name="direction" value="(up|down)" autofocus>', page)
    assert focused == ["up"]
    first = page[page.index(f'id="question-{quiz.ecg.pk}"'):page.index(f'id="question-{quiz.short.pk}"')]
    assert 'value="up"' not in first and 'value="down"' in first  # no "up" on the first question
    bad = client.post(move_url, {"direction": "sideways"}, follow=True)
    assert "Move a question one place up or down." in bad.content.decode()


def test_only_the_course_faculty_edit_or_move_and_a_post_needs_the_csrf_token(people, quiz):
    from django.test import Client

    course_id = quiz.course.course.pk
    edit_url = f"/courses/{course_id}/quizzes/{quiz.set.pk}/questions/{quiz.ecg.pk}/edit/"
    move_url = f"/courses/{course_id}/quizzes/{quiz.set.pk}/questions/{quiz.ecg.pk}/move/"
    client = Client()
    assert client.get(edit_url).status_code == 302  # to the log-in page
    for person, status in ((people.amina, 403), (people.tanaka, 403), (people.awa, 404)):
        client.force_login(person)
        assert client.get(edit_url).status_code == status, person
        assert client.post(edit_url, _edit_form()).status_code == status, person
        assert client.post(move_url, {"direction": "down"}).status_code == status, person
    assert list(Question.objects.filter(question_set=quiz.set).values_list("pk", flat=True).order_by("position")) == [
        quiz.ecg.pk, quiz.tests.pk, quiz.short.pk
    ]
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people.adebayo)
    assert strict.post(edit_url, _edit_form()).status_code == 403
    assert strict.post(move_url, {"direction": "down"}).status_code == 403
    assert not Question.objects.filter(prompt="Read this tracing.").exists()


def test_faculty_open_a_questions_history_from_the_editor_and_others_are_refused(client, people, quiz):
    course_id = quiz.course.course.pk
    edit_url = f"/courses/{course_id}/quizzes/{quiz.set.pk}/questions/{quiz.ecg.pk}/edit/"
    history_url = f"/courses/{course_id}/quizzes/{quiz.set.pk}/questions/{quiz.ecg.pk}/history/"
    client.force_login(people.adebayo)
    assert client.post(edit_url, _edit_form(image=quiz.ecg.image_id)).status_code == 303
    new_ecg = Question.objects.get(prompt="Read this tracing.", retired_at__isnull=True)
    editor = client.get(f"/courses/{course_id}/quizzes/{quiz.set.pk}/edit/").content.decode()
    assert f"/questions/{new_ecg.pk}/history/" in editor
    response = client.get(f"/courses/{course_id}/quizzes/{quiz.set.pk}/questions/{new_ecg.pk}/history/")
    page = response.content.decode()
    assert response.status_code == 200
    newest, oldest = page.index("Read this tracing."), page.index("What does this ECG show?")
    assert newest < oldest  # newest first
    assert page.count("Current</span>") == 1 and page.index("Current</span>") < oldest
    assert "Written by" in page and "Yes: ST elevation in II, III, aVF." in page  # the old key too

    client.logout()
    assert client.get(history_url).status_code == 302  # to the log-in page
    for person, status in ((people.amina, 403), (people.tanaka, 403), (people.awa, 404)):
        client.force_login(person)
        response = client.get(history_url)
        assert response.status_code == status, person
        assert "Inferior STEMI" not in response.content.decode()
    client.force_login(people.adebayo)
    assert client.get(f"/courses/{course_id}/quizzes/{quiz.set.pk}/questions/999999/history/").status_code == 404


def test_a_passed_course_says_course_completed_on_its_page_the_list_and_the_portfolio(client, people, quiz):
    course = quiz.course.course
    client.force_login(people.amina)
    assert "Course completed" not in client.get(f"/courses/{course.pk}/").content.decode()
    client.post(f"/courses/{course.pk}/quizzes/{quiz.set.pk}/", {
        "client_id": str(uuid.uuid4()), f"q{quiz.ecg.pk}": options(quiz.ecg, "Inferior STEMI"),
        f"q{quiz.tests.pk}": options(quiz.tests, "Troponin", "Repeat ECG"), f"q{quiz.short.pk}": "",
    })
    when = Attempt.objects.get(user=people.amina).received_at
    page = client.get(f"/courses/{course.pk}/").content.decode()
    assert re.search(r'id="course-completed"><strong>Course completed</strong> · on [^<]*' + str(when.year), page)
    listing = client.get("/courses/").content.decode()
    card = listing[listing.index(f'href="/courses/{course.pk}/"') - 40:]
    card = card[:card.index("</li>")]
    assert 'class="card completed"' in card and "Course completed" in card and "0 items" not in card
    assert re.search(r'Course completed</span> <time datetime="' + str(when.year) + r"-\d\d-\d\dT", card)
    portfolio = client.get("/record/portfolio/").content.decode()
    assert re.search(r'id="portfolio-courses"><li>' + re.escape(course.title) + r" · <time", portfolio)
    client.force_login(people.tunde)  # no attempt: still in progress everywhere
    assert "Course completed" not in client.get(f"/courses/{course.pk}/").content.decode()
    assert "Course completed" not in client.get("/courses/").content.decode()


def test_faculty_move_a_question_to_another_set_with_a_plain_form_and_focus_stays_in_place(client, people, quiz):
    from courses.assessment import services

    course_id = quiz.course.course.pk
    target = services.question_set_create(by=people.adebayo, module=quiz.set.module, title="ECG practice")
    transfer_url = f"/courses/{course_id}/quizzes/{quiz.set.pk}/questions/{quiz.ecg.pk}/transfer/"
    client.force_login(people.adebayo)
    editor = client.get(f"/courses/{course_id}/quizzes/{quiz.set.pk}/edit/").content.decode()
    assert f'action="{transfer_url}"' in editor and f'<option value="{target.pk}">ECG practice</option>' in editor

    for person, status in ((people.amina, 403), (people.tanaka, 403), (people.awa, 404)):
        client.force_login(person)
        assert client.post(transfer_url, {"to_set": target.pk}).status_code == status, person
    strict = type(client)(enforce_csrf_checks=True)
    strict.force_login(people.adebayo)
    assert strict.post(transfer_url, {"to_set": target.pk}).status_code == 403
    client.force_login(people.adebayo)
    bad = client.post(transfer_url, {"to_set": "nope"}, follow=True).content.decode()
    assert "Choose another question set to move the question to." in bad
    assert not target.questions.exists()

    moved = client.post(transfer_url, {"to_set": target.pk})
    assert moved.status_code == 303 and moved["Location"].endswith(f"/quizzes/{quiz.set.pk}/edit/?transferred=0")
    page = client.get(moved["Location"]).content.decode()
    assert "Question moved to ECG practice" in page
    assert re.findall(r'<select name="to_set" id="to-set-(\d+)" autofocus>', page) == [str(quiz.tests.pk)]
    assert "What does this ECG show?" in page[page.index("removed question"):]  # listed as moved, with its history
    target_page = client.get(f"/courses/{course_id}/quizzes/{target.pk}/edit/").content.decode()
    assert "What does this ECG show?" in target_page
