"""Review finding: GET /api/consults/ ran four queries per consult (role and three consent
reads each), so a supervisor with a long history paid hundreds of queries per call."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sessions.consults import services


def _list_queries(client: Client) -> tuple[int, list]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/consults/")
    assert response.status_code == 200
    return len(queries), response.json()


def test_consult_list_api_queries_do_not_grow_with_the_number_of_consults(people, consented):
    client = Client()
    client.force_login(people.mensah)
    few, rows = _list_queries(client)
    assert rows[0]["consent"] == {"consult": True, "recording": True, "teaching": True}
    assert rows[0]["role"] == "supervisor"
    for _ in range(5):
        pending = services.consult_request_create(trainee=people.chikondi, specialty="Paediatrics", urgency="soon",
                                                  language="en", reason="Child with fever and a new rash.")
        services.consult_accept(supervisor=people.mensah, consult=pending)
    many, rows = _list_queries(client)
    assert len(rows) == 6
    assert many <= few + 1, (few, many)


def test_consult_list_api_gives_observers_their_role(people, consult):
    client = Client()
    client.force_login(people.kalua)
    rows = client.get("/api/consults/").json()
    assert [row["role"] for row in rows] == ["observer"]
    assert rows[0]["consent"] == {"consult": False, "recording": False, "teaching": False}
