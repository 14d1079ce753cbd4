"""Review finding: a `tz` cookie naming a folder of the zone database ("America") or an
over-long value made every page a server error for that visitor (IsADirectoryError/OSError
escaped the middleware, which only caught unknown names)."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.parametrize("value", ["America", "x" * 300])
def test_odd_time_zone_cookie_falls_back_to_utc(db, value):
    client = Client(raise_request_exception=False)
    client.cookies["tz"] = value
    response = client.get("/")
    assert response.status_code == 200
