"""TURN credentials follow coturn's REST scheme and expire."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from django.test import Client, override_settings

from sessions.media.turn import turn_credentials_for


def test_turn_credentials_are_signed_with_the_shared_secret_and_expire():
    username, password, expiry = turn_credentials_for(user_id=7, secret="s3cret", ttl_seconds=600, now=1_000_000)
    assert username == "1000600:7" and expiry == 1_000_600
    expected = base64.b64encode(hmac.new(b"s3cret", b"1000600:7", hashlib.sha1).digest()).decode()
    assert password == expected


@pytest.mark.django_db
def test_ice_servers_endpoint_needs_login_and_hands_out_turn(people):
    client = Client()
    assert client.get("/api/media/ice-servers").status_code == 401
    client.force_login(people.amina)
    with override_settings(TURN_URLS=["turn:127.0.0.1:3478?transport=udp"], TURN_SECRET="abc", STUN_URLS=[]):
        body = client.get("/api/media/ice-servers").json()
    [server] = body["ice_servers"]
    assert server["urls"] == ["turn:127.0.0.1:3478?transport=udp"]
    assert server["username"].endswith(f":{people.amina.pk}") and server["credential"]
