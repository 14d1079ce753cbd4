"""Review finding: a huge offset in the session list API was a server error (OverflowError)."""

from __future__ import annotations

from django.test import Client


def test_huge_offset_in_session_list_is_an_empty_page_not_a_server_error(people):
    client = Client(raise_request_exception=False)
    client.force_login(people.amina)
    response = client.get("/api/sessions/", {"limit": "99999999999999999999", "offset": "99999999999999999999"})
    assert response.status_code == 200
    assert response.json() == []
