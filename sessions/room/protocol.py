"""The room protocol's vocabulary: version, limits, error and close codes, and validation.

Everything a client may send is checked here before any handler runs, so handlers only
see well-formed messages. docs/protocol.md documents every code below; a test checks
that the document names each of them. Error texts are translated (the consumer runs
under the socket's language, see language.py); clients match on the codes, never the text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from server.storable_text import has_unstorable_character

PROTOCOL_VERSION = 1

#: Longest texts a person may send (characters).
MAX_CHAT_CHARS = 2000
MAX_QUESTION_CHARS = 500
MAX_POLL_QUESTION_CHARS = 300
MAX_POLL_OPTION_CHARS = 120
MAX_POLL_OPTIONS = 10
MAX_CLIENT_ID_CHARS = 64
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def max_message_bytes() -> int:
    """Largest inbound message; daphne refuses larger frames itself (--websocket-max-message-size)."""
    return int(getattr(settings, "WEBSOCKET_MAX_MESSAGE_BYTES", 64 * 1024))


class ErrorCode(StrEnum):
    """Codes of `{"type": "error"}` messages. The socket stays open after each of them."""

    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    WRONG_FIELD = "wrong_field"
    TOO_LONG = "too_long"
    RATE_LIMITED = "rate_limited"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    MUTED = "muted"
    CHAT_DISABLED = "chat_disabled"
    CONFLICT = "conflict"
    IN_LOBBY = "in_lobby"
    SERVER_ERROR = "server_error"
    # Sent just before the socket is closed (the close code says why).
    NOT_ALLOWED = "not_allowed"
    NO_SUCH_SESSION = "no_such_session"
    ROOM_LOCKED = "room_locked"
    REMOVED = "removed"
    REFUSED = "refused"
    ROOM_ENDED = "room_ended"
    FLOOD = "flood"
    TOO_LARGE = "too_large"
    UNSUPPORTED_VERSION = "unsupported_version"


class CloseCode(IntEnum):
    """WebSocket close codes used by the room (4xxx are ours; see docs/protocol.md)."""

    NORMAL = 1000
    TOO_LARGE = 1009
    SERVER_ERROR = 1011
    UNSUPPORTED_VERSION = 4400
    NOT_SIGNED_IN = 4401
    NOT_ALLOWED = 4403
    NO_SUCH_SESSION = 4404
    ROOM_ENDED = 4410
    ROOM_LOCKED = 4423
    FLOOD = 4429
    REMOVED = 4430
    REFUSED = 4431


class ProtocolError(Exception):
    """A message the server will not act on; becomes an error message with `code`."""

    def __init__(self, code: ErrorCode | str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Field:
    """What one field of a message must be.

    kind: "str", "int", "bool", "int_list" or "str_list"; max_length applies to strings
    and to each string of a list; max_items to lists.
    """

    kind: str
    required: bool = True
    max_length: int | None = None
    min_items: int = 0
    max_items: int | None = None
    choices: tuple[str, ...] | None = None


def parse_text_frame(text: str | None, data: bytes | None) -> dict[str, Any]:
    """Decode one inbound frame into a message dict with a string `type`.

    Raises ProtocolError (bad_json, bad_message, too_large). Binary frames are refused.
    """
    if data is not None and text is None:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, _("Binary frames are not part of the protocol; send JSON text."))
    if text is None:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, _("Empty frame."))
    if len(text.encode("utf-8", "surrogatepass")) > max_message_bytes():
        raise ProtocolError(ErrorCode.TOO_LARGE, _("The message is larger than the server accepts."))
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_JSON, _("The message is not valid JSON.")) from None
    if not isinstance(message, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, _("A message is a JSON object."))
    kind = message.get("type")
    if kind is None:
        raise ProtocolError(ErrorCode.MISSING_FIELD, _("Every message has a 'type'."), field="type")
    if not isinstance(kind, str) or not kind or len(kind) > 48:
        raise ProtocolError(ErrorCode.WRONG_FIELD, _("'type' must be a short string."), field="type")
    client_id = message.get("id")
    if client_id is not None and (not isinstance(client_id, str) or not _CLIENT_ID.match(client_id)):
        raise ProtocolError(
            ErrorCode.WRONG_FIELD, _("'id' must be 1-64 letters, digits or _.:-"), field="id"
        )
    return message


def clean_fields(message: dict[str, Any], fields: dict[str, Field]) -> dict[str, Any]:
    """Check `message` against `fields`; return only the declared fields (absent optional ones as None)."""
    cleaned: dict[str, Any] = {}
    for name, spec in fields.items():
        value = message.get(name)
        if value is None:
            if spec.required:
                raise ProtocolError(ErrorCode.MISSING_FIELD, _("'%(name)s' is required.") % {"name": name}, field=name)
            cleaned[name] = None
            continue
        cleaned[name] = _clean_value(name, value, spec)
    return cleaned


def _clean_value(name: str, value: Any, spec: Field) -> Any:
    # Messages are gettext'd here, at raise time: the consumer has the socket's language active.
    named = {"name": name}
    if spec.kind == "str":
        if not isinstance(value, str):
            raise ProtocolError(ErrorCode.WRONG_FIELD, _("'%(name)s' must be text.") % named, field=name)
        if has_unstorable_character(value):  # PostgreSQL refuses it; refuse it on every database
            raise ProtocolError(ErrorCode.WRONG_FIELD,
                                _("'%(name)s' contains a character that cannot be stored.") % named, field=name)
        value = value.strip()
        if spec.required and not value:
            raise ProtocolError(ErrorCode.MISSING_FIELD, _("'%(name)s' must not be empty.") % named, field=name)
        if spec.max_length is not None and len(value) > spec.max_length:
            message = ngettext(
                "'%(name)s' is longer than %(limit)s character.", "'%(name)s' is longer than %(limit)s characters.",
                spec.max_length,
            ) % {**named, "limit": spec.max_length}
            raise ProtocolError(ErrorCode.TOO_LONG, message, field=name)
        if spec.choices is not None and value not in spec.choices:
            message = _("'%(name)s' must be one of %(choices)s.") % {**named, "choices": ", ".join(spec.choices)}
            raise ProtocolError(ErrorCode.WRONG_FIELD, message, field=name)
        return value
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2**53:
            raise ProtocolError(ErrorCode.WRONG_FIELD, _("'%(name)s' must be a whole number.") % named, field=name)
        return value
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ProtocolError(ErrorCode.WRONG_FIELD, _("'%(name)s' must be true or false.") % named, field=name)
        return value
    if spec.kind in ("int_list", "str_list"):
        if not isinstance(value, list):
            raise ProtocolError(ErrorCode.WRONG_FIELD, _("'%(name)s' must be a list.") % named, field=name)
        if len(value) < spec.min_items:
            message = ngettext(
                "'%(name)s' needs at least %(count)s item.", "'%(name)s' needs at least %(count)s items.", spec.min_items
            ) % {**named, "count": spec.min_items}
            raise ProtocolError(ErrorCode.WRONG_FIELD, message, field=name)
        if spec.max_items is not None and len(value) > spec.max_items:
            message = ngettext(
                "'%(name)s' has more than %(count)s item.", "'%(name)s' has more than %(count)s items.", spec.max_items
            ) % {**named, "count": spec.max_items}
            raise ProtocolError(ErrorCode.TOO_LONG, message, field=name)
        item_spec = Field("int" if spec.kind == "int_list" else "str", max_length=spec.max_length)
        return [_clean_value(name, item, item_spec) for item in value]
    raise ValueError(f"unknown field kind {spec.kind!r}")


def error_message(code: str, message: str, *, client_id: str | None = None, field: str | None = None, **extra: Any) -> dict[str, Any]:
    """The error message sent to one socket."""
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_id:
        body["id"] = client_id
    if field:
        body["field"] = field
    body.update(extra)
    return body
