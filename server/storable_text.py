"""Text the database can store: no NUL character, no lone UTF-16 surrogate.

Why: PostgreSQL refuses both in text columns (SQLite stores them), so a chat message or
an API field carrying `\\u0000` or a lone `\\ud800` (both legal in JSON) was accepted on
the embedded demo and became `server_error` on PostgreSQL, whose "retry with the same id"
can never succeed. Every path that stores client text refuses such text as the client's
mistake, the same on both databases: the room protocol (`sessions/room/protocol.py`,
`wrong_field`), JSON API bodies (`StorableJsonParser`, 422), and Django forms (their
CharField already refuses NUL; form data cannot carry a lone surrogate, Django decodes it
with replacement characters).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def has_unstorable_character(value: str) -> bool:
    """Whether `value` holds a character no PostgreSQL text column accepts."""
    return _UNSTORABLE.search(value) is not None


def first_unstorable_path(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """Where in a parsed JSON value the first unstorable string (or key) is, else None."""
    if isinstance(value, str):
        return path if has_unstorable_character(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and has_unstorable_character(key):
                return (*path, key)
            found = first_unstorable_path(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = first_unstorable_path(item, (*path, index))
            if found is not None:
                return found
    return None


class UnstorableText(ValueError):
    """A JSON body holds text the database cannot store, at `loc`."""

    def __init__(self, loc: tuple[Any, ...]) -> None:
        super().__init__("Text may not contain a NUL character or a lone surrogate.")
        self.loc = loc

    def as_detail(self) -> list[dict[str, Any]]:
        """The 422 body, in django-ninja's validation error shape."""
        return [{"type": "wrong_field", "loc": ["body", *self.loc], "msg": str(self)}]


class StorableJsonParser(Parser):
    """django-ninja's JSON parser, refusing text the database cannot store.

    django-ninja turns any parser exception into `HttpError(400)` with this one as its
    cause; server/api.py's handler answers that 422 `wrong_field` with the field's place.
    """

    def parse_body(self, request: HttpRequest) -> Any:
        data = json.loads(request.body)
        found = first_unstorable_path(data)
        if found is not None:
            raise UnstorableText(found)
        return data
