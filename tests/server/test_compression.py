"""Pages travel compressed; file downloads do not (they keep Range and Content-Length)."""

from __future__ import annotations

from django.test import Client


def test_html_page_is_gzipped_for_a_browser_that_accepts_it(people, client: Client):
    client.force_login(people.amina)
    response = client.get("/accounts/profile/", HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"


def test_streamed_responses_are_not_compressed(people, client: Client):
    from django.http import StreamingHttpResponse
    from django.test import RequestFactory

    from server.compression import PageGZipMiddleware

    request = RequestFactory().get("/", HTTP_ACCEPT_ENCODING="gzip")
    streamed = StreamingHttpResponse(iter([b"x" * 1000]), content_type="text/html")
    response = PageGZipMiddleware(lambda r: streamed)(request)
    assert not response.has_header("Content-Encoding")
