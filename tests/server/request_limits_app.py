"""An ASGI application for test_request_limits: the guards around an app that echoes the body length.

Served by a real daphne subprocess with MAX_REQUEST_BODY_BYTES set low (1 MB).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings.test")

import django  # noqa: E402

django.setup()

from server.daphne_http import daphne_refuse_large_bodies  # noqa: E402
from server.request_limits import RequestBodyLimit  # noqa: E402

LIMIT = 1024 * 1024
daphne_refuse_large_bodies(max_bytes=LIMIT)


async def echo_length(scope, receive, send):
    total = 0
    while True:
        message = await receive()
        total += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(total).encode()})


application = RequestBodyLimit(echo_length, max_bytes=LIMIT)
