"""Reads for the LTI tool: which registration a request names, what a launch may open, our public keys."""

from __future__ import annotations

import base64
import re
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest

from .models import Platform, ToolKey

# What a course may embed: a live session, a library material, a course. Anything else
# (the admin, an account page, another site) is refused, so a launch is never an open redirect.
TARGET_PATH = re.compile(r"^/(sessions|library|courses)/[A-Za-z0-9_-]+/$")


def platform_for_login(*, issuer: str, client_id: str = "") -> Platform:
    """The active registration a login initiation names; refuse unknown or ambiguous ones."""
    platforms = Platform.objects.filter(issuer=issuer, is_active=True)
    if client_id:
        platforms = platforms.filter(client_id=client_id)
    found = list(platforms[:2])
    if not found:
        raise InvalidRequest(_("This learning platform is not registered with OpenRounds."), code="unknown_platform")
    if len(found) > 1:
        raise InvalidRequest(_("The platform must say which client id it launches."), code="ambiguous_platform")
    return found[0]


def launch_target_path(*, candidates: list[str], host: str) -> str | None:
    """The first candidate that is an OpenRounds session, material or course on this host.

    Candidates come from the launch (the custom parameter, then target_link_uri); an
    absolute URL must name this host, a relative one must be a path.
    """
    for candidate in candidates:
        if not candidate:
            continue
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            if parts.scheme not in {"http", "https"} or parts.netloc != host:
                continue
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        if TARGET_PATH.match(path):
            return path
    return None


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def tool_jwks() -> dict[str, list[dict[str, str]]]:
    """The public keys of the tool as a JSON Web Key Set (published at /lti/jwks/)."""
    keys = []
    for key in ToolKey.objects.filter(is_active=True):
        private = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
        assert isinstance(private, rsa.RSAPrivateKey)
        numbers = private.public_key().public_numbers()
        keys.append({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": key.kid, "n": _b64(numbers.n), "e": _b64(numbers.e)})
    return {"keys": keys}
