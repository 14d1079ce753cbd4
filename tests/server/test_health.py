"""/healthz tells the operator which component is down."""

from __future__ import annotations

import pytest
from channels.layers import channel_layers
from django.test import override_settings

from tests.conftest import need_component, port_open


@pytest.mark.django_db
def test_healthz_reports_every_component_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {"ok": True, "database": "up", "channel_layer": "up", "storage": "up", "details": None}


@pytest.mark.django_db
def test_healthz_reports_a_stopped_redis_as_down(client):
    """A Redis that does not answer (nothing listens on the port) makes /healthz 503."""
    dead = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}
    with override_settings(CHANNEL_LAYERS=dead):
        channel_layers.backends.clear()
        try:
            response = client.get("/healthz")
        finally:
            channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["channel_layer"] == "down"
    assert response.json()["database"] == "up"


@pytest.mark.realservices
@pytest.mark.django_db
def test_healthz_with_real_redis_then_redis_stopped(client, tmp_path):
    """Start a private redis-server, see /healthz up, stop it, see 503."""
    import shutil
    import subprocess
    import time

    from tests.conftest import free_port

    need_component("redis-server", shutil.which("redis-server") is not None)
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if port_open("127.0.0.1", port):
                break
            time.sleep(0.1)
        layers = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"]}}}
        with override_settings(CHANNEL_LAYERS=layers):
            channel_layers.backends.clear()
            assert client.get("/healthz").status_code == 200
            server.terminate()
            server.wait(10)
            channel_layers.backends.clear()
            response = client.get("/healthz")
            assert response.status_code == 503
            assert response.json()["channel_layer"] == "down"
    finally:
        server.kill()
        channel_layers.backends.clear()


@pytest.mark.django_db
def test_healthz_details_go_to_staff_and_the_monitoring_token_only(client, people, settings):
    settings.HEALTHZ_TOKEN = "monitor-secret"
    assert client.get("/healthz").json()["details"] is None
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer wrong").json()["details"] is None
    details = client.get("/healthz", HTTP_AUTHORIZATION="Bearer monitor-secret").json()["details"]
    assert details["database"]["backend"] and details["channel_layer"]["backend"] and "media_workers" in details
    client.force_login(people.amina)
    assert client.get("/healthz").json()["details"] is None
    people.admin.is_staff = True
    people.admin.save(update_fields=["is_staff"])
    client.force_login(people.admin)
    assert client.get("/healthz").json()["details"]["storage"]["ok"] is True


@pytest.mark.django_db(transaction=True)
def test_an_anonymous_caller_of_a_real_server_learns_no_backend_or_error_class(live_site):
    import json
    import urllib.request

    with urllib.request.urlopen(f"{live_site.url}/healthz", timeout=10) as response:
        raw = response.read().decode()
        assert response.status == 200
    body = json.loads(raw)
    assert set(body) == {"ok", "database", "channel_layer", "storage", "details"} and body["details"] is None
    for leak in ("channels", "Layer", "sqlite", "postgresql", "Storage", "Error"):
        assert leak not in raw
