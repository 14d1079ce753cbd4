"""Room events: the one way anything reaches a room's sockets, and what each event carries.

Why a module of its own: events were emitted from `services.py`, which also held the
cluster's presence plumbing that only the fan-out uses, while the fan-out imported
services back — a circle hidden by function-level imports. Zulip's rule is the model:
events are sent only from the actions layer (services of each part, `ctx.emit` in
handlers), through this module; the queue below (`fanout.py`) imports nothing above it.

    services / handlers ──> events.room_event_emit ──> fanout (publish after commit)
                                      │
                                      └──> listeners (e.g. media rights), after commit

Each event type has a schema (`room_event_type`): the keys of its payload and their
types. Every part declares the events it emits beside its code; `room_event_emit`
checks the payload against it, and refuses an undeclared type or a payload that does not
match when `ROOM_EVENT_SCHEMAS_STRICT` is set (the test settings set it, so every event
any test emits is checked); in production a mismatch is logged and the event still goes
out (a client must not lose a message because a schema lagged behind).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from sessions.models import RoomEvent, RoomState

from . import fanout

logger = logging.getLogger(__name__)

EventListener = Callable[..., None]

#: A payload key -> its type (or types). A key ending in "?" may be missing; the key "*"
#: allows keys the schema does not name (payloads that carry a whole public object).
EventSchema = Mapping[str, type | tuple[type, ...]]

_SCHEMAS: dict[str, EventSchema] = {}
_EVENT_LISTENERS: dict[str, list[EventListener]] = {}

Nullable = type(None)


class EventSchemaError(ValueError):
    """An event whose type is not declared or whose payload does not match its schema."""


# --------------------------------------------------------------------- schemas


def room_event_type(type: str, **keys: builtins.type | tuple[builtins.type, ...]) -> None:
    """Declare event `type` and its payload: `room_event_type("hand.raised", user_id=int, at=str)`.

    Optional keys end in `_` (`reason_=str` declares an optional "reason"); `extra_=object`
    allows keys the schema does not name.
    """
    schema: dict[str, builtins.type | tuple[builtins.type, ...]] = {}
    for key, kind in keys.items():
        if key == "extra_":
            schema["*"] = object
        elif key.endswith("_"):
            schema[key[:-1] + "?"] = kind
        else:
            schema[key] = kind
    _SCHEMAS[type] = schema


def room_event_types() -> dict[str, EventSchema]:
    return dict(_SCHEMAS)


def room_event_problems(type: str, payload: Any) -> list[str]:
    """What is wrong with an event of `type` carrying `payload` ([] when it matches)."""
    schema = _SCHEMAS.get(type)
    if schema is None:
        return [f"event type {type!r} is not declared (room_event_type)"]
    if not isinstance(payload, dict):
        return [f"{type}: the payload is a {builtins_name(payload)}, not an object"]
    problems = []
    for key, kind in schema.items():
        if key == "*":
            continue
        name, optional = (key[:-1], True) if key.endswith("?") else (key, False)
        if name not in payload:
            if not optional:
                problems.append(f"{type}: {name!r} is missing")
            continue
        value = payload[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            problems.append(f"{type}: {name!r} is a {builtins_name(value)}, expected {_kind_name(kind)}")
    if "*" not in schema:
        named = {key.rstrip("?") for key in schema}
        problems += [f"{type}: {key!r} is not in its schema" for key in payload if key not in named]
    return problems


def builtins_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("null" if k is Nullable else k.__name__ for k in kinds)


def _check(type: str, payload: dict[str, Any]) -> None:
    problems = room_event_problems(type, payload)
    if not problems:
        return
    if getattr(settings, "ROOM_EVENT_SCHEMAS_STRICT", False):
        raise EventSchemaError("; ".join(problems))
    logger.error("room event does not match its schema: %s", "; ".join(problems))


# ------------------------------------------------------------------- listeners


def room_event_listener(*types: str) -> Callable[[EventListener], EventListener]:
    """Call `listener(session_id=, seq=, type=, payload=)` after each stored event of `types`.

    It runs once per event, in the process that stored it, synchronously right after the
    event's transaction commits (in the committing thread; the database may be read).
    Keep it short; an exception is logged and never undoes the write. The media part uses
    it to cut a publication when the host takes the floor back, mutes or removes someone.
    """

    def decorator(listener: EventListener) -> EventListener:
        for type in types:
            if listener not in _EVENT_LISTENERS.setdefault(type, []):
                _EVENT_LISTENERS[type].append(listener)
        return listener

    return decorator


def _listeners_run(*, session_id: int, seq: int, type: str, payload: dict[str, Any]) -> None:
    for listener in list(_EVENT_LISTENERS.get(type, ())):
        try:
            listener(session_id=session_id, seq=seq, type=type, payload=payload)
        except Exception:
            logger.exception("session %s: listener of %s failed", session_id, type)


# ------------------------------------------------------------------------ emit


def room_event_emit(
    *, session_id: int, type: str, payload: dict[str, Any], actor_id: int | None = None,
    client_id: str = "", visible_to: Iterable[int] | None = None,
) -> int:
    """Store event `type` with the session's next sequence number; deliver it after commit.

    Idempotent on (`actor_id`, `client_id`): the same client message stores one event and
    returns its number every time. `visible_to` (user ids) makes the event private to
    them. Returns the sequence number. The sender is acknowledged only after the commit,
    so an acknowledged event is never lost, whatever happens to a process or Redis later.
    """
    _check(type, payload)
    visible = sorted(set(visible_to)) if visible_to is not None else None
    with transaction.atomic():
        if client_id and actor_id:
            existing = (
                RoomEvent.objects.filter(session_id=session_id, actor_id=actor_id, client_id=client_id)
                .values_list("seq", flat=True).first()
            )
            if existing is not None:
                return existing
        if not RoomState.objects.filter(pk=session_id).update(last_seq=F("last_seq") + 1):
            RoomState.objects.get_or_create(session_id=session_id)
            RoomState.objects.filter(pk=session_id).update(last_seq=F("last_seq") + 1)
        seq = RoomState.objects.filter(pk=session_id).values_list("last_seq", flat=True).get()
        event = RoomEvent.objects.create(
            session_id=session_id, seq=seq, type=type, payload=payload, actor_id=actor_id,
            client_id=client_id, visible_to=visible,
        )
        envelope = fanout.envelope_of(event)
        transaction.on_commit(lambda: fanout.publish_after_commit(envelope))
        if _EVENT_LISTENERS.get(type):
            transaction.on_commit(lambda: _listeners_run(session_id=session_id, seq=seq, type=type, payload=payload))
    return seq


# ------------------------------------------------------- the room's own events

_card = dict  # a participant card (selectors.participant_cards)

room_event_type("chat.message", user_id=int, name=str, text=str)
room_event_type("hand.raised", user_id=int, at=str)
room_event_type("hand.lowered", user_id=int)
room_event_type("floor.granted", user_id=int)
room_event_type("floor.revoked", user_id=int)
room_event_type("question.asked", question_=dict)
room_event_type("question.voted", question_id=int, votes=int)
room_event_type("question.answered", question_id=int)
room_event_type("question.dismissed", question_id=int)
room_event_type("poll.opened", poll_=dict)
room_event_type("poll.closed", poll=dict)
room_event_type("participant.muted", user_id=int)
room_event_type("participant.unmuted", user_id=int)
room_event_type("participant.removed", user_id=int)
room_event_type("participant.role", user_id=int, role=str, permissions=list)
room_event_type("room.locked")
room_event_type("room.unlocked")
room_event_type("room.chat", enabled=bool)
room_event_type("room.ended")
room_event_type("lobby.waiting", user=_card)
room_event_type("lobby.left", user_id=int)
room_event_type("lobby.admitted", user_id=int)
room_event_type("lobby.refused", user_id=int)
room_event_type("presence", joined=list, left=list)
