"""Text the database cannot store is the client's mistake on every path (server/storable_text.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from server.storable_text import first_unstorable_path, has_unstorable_character
from sessions.room.protocol import Field, ProtocolError, clean_fields


def test_nul_and_lone_surrogates_are_found_wherever_they_hide():
    assert has_unstorable_character("a\x00b") and has_unstorable_character("\udc00")
    assert not has_unstorable_character("Ça va? مرحبا 😀")
    assert first_unstorable_path({"a": [1, {"b": "ok", "c": "x\ud800"}]}) == ("a", 1, "c")
    assert first_unstorable_path({"k\x00": 1}) == ("k\x00",)
    assert first_unstorable_path({"a": ["fine"]}) is None


def test_the_room_protocol_refuses_it_on_every_database():
    with pytest.raises(ProtocolError) as refused:
        clean_fields({"text": "x\x00"}, {"text": Field("str")})
    assert (refused.value.code, refused.value.field) == ("wrong_field", "text")


@pytest.mark.django_db(transaction=True)
def test_a_json_api_body_with_such_text_is_refused_422_by_a_real_server(people, live_site):
    from server.people.services import access_token_create

    _, secret = access_token_create(user=people.amina, name="script")
    body = json.dumps({"topic": "Malaria\u0000", "discipline": "Infectious diseases", "group_size": 2,
                       "windows": []}).encode()
    request = urllib.request.Request(f"{live_site.url}/api/peer/requests", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {secret}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 422
    detail = json.loads(refused.value.read())["detail"][0]
    assert detail["type"] == "wrong_field" and detail["loc"] == ["body", "topic"]


@pytest.mark.django_db
def test_a_form_refuses_a_nul_character(people, client):
    client.force_login(people.amina)
    response = client.post("/accounts/profile/", {"first_name": "Am\x00ina"})
    assert response.status_code in (200, 400)
    people.amina.refresh_from_db()
    assert "\x00" not in people.amina.first_name
