"""/api/courses/: the same rules as the pages, as JSON."""

from __future__ import annotations

import json

from django.test import Client

from courses.models import LearnerProgress, ProgressStatus


def _json(client: Client, method: str, url: str, body: dict | None = None):
    handler = getattr(client, method)
    return handler(url, data=json.dumps(body or {}), content_type="application/json")


def test_outline_as_json_shows_availability_per_learner(client, people, course):
    client.force_login(people.lukas)
    response = client.get(f"/api/courses/{course.course.pk}")
    assert response.status_code == 200
    body = response.json()
    items = [item for module in body["modules"] for item in module["items"]]
    assert [item["available"] for item in items] == [True, True, False, True]
    assert "title" not in items[2] or items[2]["title"] == ""
    assert body["unavailable_count"] == 1 and body["bundle_url"].endswith("/offline.zip")


def test_course_list_json_is_only_open_courses(client, people, course):
    client.force_login(people.awa)
    assert client.get("/api/courses/").json() == []
    client.force_login(people.amina)
    assert [c["title"] for c in client.get("/api/courses/").json()] == ["Acute medicine across borders"]


def test_editor_reorders_modules_through_the_api(client, people, course):
    client.force_login(people.adebayo)
    first, second = course.modules
    response = _json(client, "post", f"/api/courses/{course.course.pk}/modules/order", {"ids": [second.pk, first.pk]})
    assert response.status_code == 200
    assert [m["title"] for m in response.json()["modules"]] == ["Week 2", "Week 1"]


def test_non_editor_gets_a_json_refusal(client, people, course):
    client.force_login(people.amina)
    first, second = course.modules
    response = _json(client, "post", f"/api/courses/{course.course.pk}/modules/order", {"ids": [second.pk, first.pk]})
    assert response.status_code == 403
    assert response.json()["code"] == "not_course_editor"


def test_bad_order_is_a_400_with_its_code(client, people, course):
    client.force_login(people.adebayo)
    response = _json(client, "post", f"/api/courses/{course.course.pk}/modules/order", {"ids": [course.modules[0].pk]})
    assert response.status_code == 400
    assert response.json()["code"] == "bad_order"


def test_learner_sets_progress_through_the_api(client, people, course):
    client.force_login(people.amina)
    response = _json(client, "put", f"/api/courses/{course.course.pk}/items/{course.items.lagos.pk}/progress", {"status": "done"})
    assert response.status_code == 200
    assert response.json() == {"item_id": course.items.lagos.pk, "status": "done", "done_count": 1, "available_count": 4}
    assert LearnerProgress.objects.get(user=people.amina).status == ProgressStatus.DONE


def test_api_write_with_a_session_needs_csrf(people, course):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.amina)
    response = _json(client, "put", f"/api/courses/{course.course.pk}/items/{course.items.lagos.pk}/progress", {"status": "done"})
    assert response.status_code in (401, 403)
    assert not LearnerProgress.objects.exists()
