"""The interface language of a room socket.

Django's LocaleMiddleware (and server.people.middleware, which applies the profile's
language) only run for HTTP requests: a WebSocket gets no active language, so every
`_()` of the room would reach a French, Portuguese or Arabic reader in English. The
consumer works the language out once at connect with `socket_language` and runs its
work under `translation.override`, with the same choice the room page was rendered with.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils.translation.trans_real import (
    get_supported_language_variant,
    language_code_re,
    parse_accept_lang_header,
)


def socket_language(scope: dict[str, Any], user: Any) -> str:
    """The language (one of settings.LANGUAGES) to talk to the socket of `scope` in.

    The same order as the pages: the footer's language switch (Django's language cookie)
    in this browser, else the profile's `preferred_language`, else the browser's
    Accept-Language, else settings.LANGUAGE_CODE. Choices the site does not offer are
    skipped ("fr-CA" becomes "fr"; "de" falls through to the next source).
    """
    cookie = _cookies(scope).get(settings.LANGUAGE_COOKIE_NAME)
    for wanted in (cookie, getattr(user, "preferred_language", "")):
        supported = _supported(wanted)
        if supported:
            return supported
    for wanted, _quality in parse_accept_lang_header(_header(scope, b"accept-language")):
        if wanted == "*":
            break
        if language_code_re.search(wanted) and (supported := _supported(wanted)):
            return supported
    return _supported(settings.LANGUAGE_CODE) or settings.LANGUAGE_CODE


def _supported(code: str | None) -> str | None:
    try:
        return get_supported_language_variant(code) if code else None
    except LookupError:
        return None


def _cookies(scope: dict[str, Any]) -> dict[str, str]:
    """Channels' CookieMiddleware puts them in the scope; without it, read the header."""
    cookies = scope.get("cookies")
    if cookies is not None:
        return cookies
    return parse_cookie(_header(scope, b"cookie"))


def _header(scope: dict[str, Any], name: bytes) -> str:
    values = [value.decode("latin-1") for key, value in scope.get("headers") or [] if key.lower() == name]
    return ", ".join(values) if name == b"accept-language" else "; ".join(values)
