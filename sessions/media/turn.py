"""Time-limited TURN credentials in coturn's REST scheme (`use-auth-secret`).

coturn accepts username `<expiry unix time>:<user id>` with password
base64(HMAC-SHA1(static-auth-secret, username)); it checks the signature and the expiry
itself, so the platform never stores TURN passwords and a leaked credential dies with its
TTL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class IceServer:
    urls: list[str]
    username: str | None = None
    credential: str | None = None


def turn_credentials_for(*, user_id: int, secret: str, ttl_seconds: int, now: float | None = None) -> tuple[str, str, int]:
    """Return (username, password, expiry) valid for `ttl_seconds` from `now`."""
    expiry = int((now if now is not None else time.time()) + ttl_seconds)
    username = f"{expiry}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode(), expiry


def ice_servers_for(*, user_id: int) -> tuple[list[IceServer], int | None]:
    """The ICE servers a browser should use, with fresh TURN credentials when configured."""
    servers: list[IceServer] = []
    if settings.STUN_URLS:
        servers.append(IceServer(urls=list(settings.STUN_URLS)))
    expiry: int | None = None
    if settings.TURN_URLS and settings.TURN_SECRET:
        username, password, expiry = turn_credentials_for(
            user_id=user_id, secret=settings.TURN_SECRET, ttl_seconds=settings.TURN_CREDENTIAL_TTL_SECONDS
        )
        servers.append(IceServer(urls=list(settings.TURN_URLS), username=username, credential=password))
    return servers, expiry
