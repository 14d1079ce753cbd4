"""server/daphne_http.py's reach into daphne: the pinned daphne/Twisted still have what it patches.

The patch's behaviour on the wire (413 before buffering) is tested against a real daphne
in tests/server/test_request_limits.py.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest
from daphne import http_protocol
from twisted.web import http

from server import daphne_http


def test_the_checks_on_daphne_http_internals_pass_with_the_pinned_versions():
    daphne_http.check_compatibility()


def test_the_checks_still_pass_once_the_patch_is_installed():
    assert daphne_http.daphne_refuse_large_bodies() is True
    assert getattr(http_protocol.WebRequest, "_openrounds_body_limit", False)
    daphne_http.check_compatibility()
    assert daphne_http.daphne_refuse_large_bodies() is True, "idempotent"


def test_a_missing_request_class_fails_naming_it_and_the_installed_version(monkeypatch):
    monkeypatch.delattr(http_protocol, "WebRequest")
    with pytest.raises(RuntimeError) as failure:
        daphne_http.check_compatibility()
    message = str(failure.value)
    assert "daphne.http_protocol.WebRequest" in message
    assert f"(daphne {version('daphne')}, Twisted {version('Twisted')} installed;" in message
    assert "checked against daphne 4.2.3" in message


def test_a_channel_that_no_longer_calls_got_length_fails(monkeypatch):
    monkeypatch.setattr(http.HTTPChannel, "allHeadersReceived", lambda self: None)
    with pytest.raises(daphne_http.DaphneHttpError, match=r"HTTPChannel\.allHeadersReceived calls request\.gotLength"):
        daphne_http.check_compatibility()


def test_a_changed_signature_fails_naming_the_method(monkeypatch):
    class WebRequest(http.Request):  # a daphne whose request class changed shape
        def handleContentChunk(self, data, final):  # noqa: N802
            pass

    monkeypatch.setattr(http_protocol, "WebRequest", WebRequest)
    with pytest.raises(daphne_http.DaphneHttpError) as failure:
        daphne_http.check_compatibility()
    message = str(failure.value)
    assert "WebRequest.handleContentChunk(self, data, final), expected (self, data)" in message
    assert "daphne's WebRequest.process copies request.content" in message
