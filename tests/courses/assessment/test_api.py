"""/api/assessment/ as an HTTP client receives it: statuses, bodies, and the schema."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client

from courses.models import Attempt

from .conftest import options

pytestmark = pytest.mark.django_db


def _post(client: Client, url: str, body: dict):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _attempt(quiz, client_id: str) -> dict:
    return {
        "client_id": client_id,
        "answers": [
            {"question_id": quiz.ecg.pk, "options": options(quiz.ecg, "Inferior STEMI")},
            {"question_id": quiz.tests.pk, "options": options(quiz.tests, "Troponin", "Repeat ECG")},
        ],
    }


def test_learner_reads_the_set_without_the_answer_key(client, people, quiz):
    client.force_login(people.amina)
    response = client.get(f"/api/assessment/sets/{quiz.set.pk}")
    assert response.status_code == 200
    body = response.json()
    assert [q["kind"] for q in body["questions"]] == ["single", "multiple", "short"]
    assert b"correct" not in response.content and b"ST elevation" not in response.content


def test_a_resent_attempt_is_201_then_200_and_counted_once(client, people, quiz):
    client.force_login(people.amina)
    client_id = str(uuid.uuid4())
    first = _post(client, f"/api/assessment/sets/{quiz.set.pk}/attempts", _attempt(quiz, client_id))
    assert first.status_code == 201, first.content
    again = _post(client, f"/api/assessment/sets/{quiz.set.pk}/attempts", _attempt(quiz, client_id))
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["attempt_id"] == first.json()["attempt_id"]
    assert first.json()["score"] == 3.0 and first.json()["status"] == "graded" and first.json()["passed"] is True
    assert Attempt.objects.filter(user=people.amina).count() == 1
    assert client.get(f"/api/assessment/attempts/{first.json()['attempt_id']}").status_code == 200
    client.force_login(people.tunde)
    assert client.get(f"/api/assessment/attempts/{first.json()['attempt_id']}").status_code == 404


def test_refusals_come_back_as_code_and_message(client, people, quiz):
    client.force_login(people.amina)
    bad = _post(client, f"/api/assessment/sets/{quiz.set.pk}/attempts", {"client_id": "x", "answers": []})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_client_id"
    twice = _attempt(quiz, str(uuid.uuid4()))
    twice["answers"].append(twice["answers"][0])
    assert _post(client, f"/api/assessment/sets/{quiz.set.pk}/attempts", twice).json()["code"] == "bad_question"
    assert _post(client, f"/api/assessment/sets/{quiz.set.pk}/attempts", {"answers": []}).status_code == 422
    client.force_login(people.awa)
    hidden = _post(client, f"/api/assessment/sets/{quiz.set.pk}/attempts", _attempt(quiz, str(uuid.uuid4())))
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    client.force_login(people.amina)
    assert client.get(f"/api/assessment/sets/{quiz.set.pk}/statistics").status_code == 403


def test_a_post_without_the_csrf_token_is_refused(people, quiz):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people.amina)
    response = _post(browser, f"/api/assessment/sets/{quiz.set.pk}/attempts", _attempt(quiz, str(uuid.uuid4())))
    assert response.status_code == 403
    assert not Attempt.objects.exists()


def test_faculty_author_mark_and_read_statistics(client, people, quiz):
    client.force_login(people.adebayo)
    created = _post(
        client, f"/api/assessment/courses/{quiz.course.course.pk}/sets",
        {"module_id": quiz.course.modules[0].pk, "title": "Week 1 check", "pass_mark": 50, "max_attempts": 1},
    )
    assert created.status_code == 201
    set_id = created.json()["id"]
    added = _post(client, f"/api/assessment/sets/{set_id}/questions", {
        "kind": "single", "prompt": "Malaria in pregnancy: first line?",
        "options": [{"text": "Artemether-lumefantrine", "correct": True, "feedback": "In 2nd/3rd trimester."},
                    {"text": "Doxycycline", "feedback": "Not in pregnancy."}],
    })
    assert added.status_code == 201 and len(added.json()["questions"]) == 1
    wrong = _post(client, f"/api/assessment/sets/{set_id}/questions", {"kind": "single", "prompt": "?", "options": []})
    assert wrong.status_code == 400 and wrong.json()["code"] == "bad_options"
    client.force_login(people.amina)
    submitted = _post(client, f"/api/assessment/sets/{quiz.set.pk}/attempts", {
        "client_id": str(uuid.uuid4()), "answers": [{"question_id": quiz.short.pk, "text": "Cath lab now"}],
    })
    assert submitted.json()["status"] == "pending"
    answer_id = Attempt.objects.get().answers.get(question=quiz.short).pk
    assert _post(client, f"/api/assessment/answers/{answer_id}/mark", {"points": 1}).status_code == 403
    client.force_login(people.adebayo)
    marked = _post(client, f"/api/assessment/answers/{answer_id}/mark", {"points": 1, "feedback": "Good."})
    assert marked.status_code == 200 and marked.json()["status"] == "graded" and marked.json()["score"] == 1.0
    stats = client.get(f"/api/assessment/sets/{quiz.set.pk}/statistics").json()
    assert stats["learners"] == 1 and [i["difficulty"] for i in stats["items"]] == [0.0, 0.0, 1.0]


def test_the_openapi_schema_lists_the_assessment_routes(client):
    paths = client.get("/api/schema").json()["paths"]
    assert any(path.endswith("/assessment/sets/{set_id}/attempts") for path in paths)
    assert any(path.endswith("/assessment/sets/{set_id}/statistics") for path in paths)


def test_faculty_edit_and_move_questions_through_the_api(client, people, quiz):
    client.force_login(people.amina)
    _post(client, f"/api/assessment/sets/{quiz.set.pk}/attempts", _attempt(quiz, str(uuid.uuid4())))
    url = f"/api/assessment/sets/{quiz.set.pk}/questions/{quiz.tests.pk}"
    body = {"kind": "multiple", "prompt": "Which tests first?", "points": 2,
            "options": [{"text": "Troponin", "correct": True}, {"text": "Repeat ECG", "correct": False},
                        {"text": "Colonoscopy"}]}
    learner = client.put(url, data=json.dumps(body), content_type="application/json")
    assert learner.status_code == 403 and learner.json()["code"] == "not_course_faculty"
    client.force_login(people.adebayo)
    edited = client.put(url, data=json.dumps(body), content_type="application/json")
    assert edited.status_code == 200
    data = edited.json()
    assert data["changed"] and data["version"] == 2 and data["answers_kept"] == 1
    assert [q["id"] for q in data["set"]["questions"]] == [quiz.ecg.pk, data["question_id"], quiz.short.pk]
    assert client.put(url, data=json.dumps(body), content_type="application/json").status_code == 404  # replaced
    moved = _post(client, f"/api/assessment/sets/{quiz.set.pk}/questions/{data['question_id']}/move", {"direction": "up"})
    assert [q["id"] for q in moved.json()["questions"]] == [data["question_id"], quiz.ecg.pk, quiz.short.pk]
    bad = _post(client, f"/api/assessment/sets/{quiz.set.pk}/questions/{quiz.ecg.pk}/move", {"direction": "left"})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_move"
    attempt = Attempt.objects.get(user=people.amina)
    assert (attempt.score, attempt.max_score) == (3.0, 4.0)  # marked against the version it answered
