"""The peer-exchange JSON API: create, list, read and withdraw my requests; typed errors."""

from __future__ import annotations

from django.test import Client

from sessions.models import PeerMatchRequest, PeerRequestStatus

from .conftest import window


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _payload(*windows, **fields) -> dict:
    body = {
        "topic": "Malaria in pregnancy", "discipline": "Infectious diseases", "group_size": 2,
        "windows": [{"starts_at": s.isoformat(), "ends_at": e.isoformat()} for s, e in (windows or [window(3, 14)])],
    }
    body.update(fields)
    return body


def _post(client: Client, body: dict):
    return client.post("/api/peer/requests", body, content_type="application/json")


def test_a_student_asks_and_lists_her_requests(people):
    client = client_for(people.amina)
    response = _post(client, _payload(window(3, 14), window(4, 9, 2)))
    assert response.status_code == 201
    made = response.json()
    assert made["status"] == "open" and made["match"] is None
    assert made["languages"] == ["en", "ha", "yo"]  # her profile's, when none are given
    assert [w["starts_at"] for w in made["windows"]] == [window(3, 14)[0].isoformat().replace("+00:00", "Z"), window(4, 9)[0].isoformat().replace("+00:00", "Z")]
    listed = client.get("/api/peer/requests").json()
    assert [item["id"] for item in listed] == [made["id"]]
    assert client.get(f"/api/peer/requests/{made['id']}").json()["topic"] == "Malaria in pregnancy"


def test_the_reply_says_when_a_group_formed_at_once(people):
    _post(client_for(people.amina), _payload())
    response = _post(client_for(people.lukas), _payload(languages=["de", "en"]))
    assert response.status_code == 201
    match = response.json()["match"]
    assert response.json()["status"] == "matched"
    assert match["language"] == "en" and match["room_url"] == f"/rooms/{match['session_id']}/"
    assert [p["name"] for p in match["partners"]] == [people.amina.name]
    assert match["partners"][0]["country"] == "NG"


def test_refusals_carry_a_code_and_a_message(people):
    client = client_for(people.amina)
    too_many = _post(client, _payload(*[window(2 + i, 10) for i in range(7)]))
    assert too_many.status_code == 400 and too_many.json()["code"] == "too_many_windows"
    naive = _post(client, {**_payload(), "windows": [{"starts_at": "2030-01-01T10:00:00", "ends_at": "2030-01-01T12:00:00"}]})
    assert naive.status_code == 400 and naive.json()["code"] == "naive_time"
    short = _post(client, _payload(window(3, 14, 0.5)))
    assert short.json() == {"code": "window_too_short", "message": "Each free time must last at least 45 minutes."}
    assert _post(client, _payload(group_size=9)).status_code == 422  # outside the schema: 2 to 6
    faculty = _post(client_for(people.tanaka), _payload())
    assert faculty.status_code == 403 and faculty.json()["code"] == "not_student"
    assert not PeerMatchRequest.objects.exists()


def test_withdraw_mine_but_never_someone_elses(people):
    made = _post(client_for(people.amina), _payload()).json()
    other = client_for(people.lukas)
    assert other.delete(f"/api/peer/requests/{made['id']}").status_code == 404
    assert other.get(f"/api/peer/requests/{made['id']}").status_code == 404
    response = client_for(people.amina).delete(f"/api/peer/requests/{made['id']}")
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    again = client_for(people.amina).delete(f"/api/peer/requests/{made['id']}")
    assert again.status_code == 400 and again.json()["code"] == "not_open"
    assert PeerMatchRequest.objects.get().status == PeerRequestStatus.WITHDRAWN


def test_anonymous_callers_are_turned_away(people):
    assert Client().get("/api/peer/requests").status_code == 401
    assert _post(Client(), _payload()).status_code == 401


def test_a_personal_token_works_like_the_session(people):
    from server.people.services import access_token_create

    _, secret = access_token_create(user=people.amina, name="phone")
    response = Client().post("/api/peer/requests", _payload(), content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 201
