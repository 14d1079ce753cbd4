"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSockets are only accepted from this site's own origins (ALLOWED_HOSTS) and carry the
Django session, so every consumer knows the user; consumers refuse anonymous users.
Frame and message size limits are enforced by daphne (see Procfile).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings.base")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from server.daphne_http import daphne_refuse_large_bodies  # noqa: E402
from server.request_limits import RequestBodyLimit  # noqa: E402
from sessions.room import daphne_wire  # noqa: E402
from sessions.routing import websocket_urlpatterns  # noqa: E402

# daphne would buffer a whole request body in memory before the app runs: refuse big
# bodies from the headers (see server/daphne_http.py).
daphne_refuse_large_bodies()
# daphne would turn every refusal's close code into 1011 and drop oversized frames (1006):
# send the codes docs/protocol.md promises (see sessions/room/daphne_wire.py).
daphne_wire.install()

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(django_asgi_app),  # type: ignore[arg-type]  # the stubs type ASGIHandler's scope as a dict
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
