"""The room's extension points: message handlers, snapshot parts and roles.

Other parts (consults, media) add to the room without touching the consumer:

    from sessions.room.registry import RoomContext, room_message, register_snapshot_part
    from sessions.room.protocol import Field

    @room_message("consult.guidance", roles={"supervisor"}, fields={"text": Field("str", max_length=2000)})
    async def consult_guidance(ctx: RoomContext, message: dict) -> None:
        await ctx.emit("consult.guidance", {"text": message["text"]}, visible_to=[trainee_id, ctx.user.pk])

    async def consult_part(session, user) -> dict: ...
    register_snapshot_part("consult", consult_part)

A handler runs after the protocol checks (JSON, type, `id`, declared `fields`, rate
limit, role). `ctx.emit` stores a `RoomEvent` (sequence number, idempotent on the
client's `id`) and then delivers it to every socket of the room on every process (or only
to `visible_to`). Raising `PermissionRefused` / `InvalidRequest` / `ProtocolError` sends
an error with its code; the consumer acknowledges the message when the handler returns.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .events import room_event_emit
from .fanout import db_parallel
from .protocol import Field, error_message

if TYPE_CHECKING:
    from server.people.models import User
    from sessions.models import LiveSession

logger = logging.getLogger(__name__)

Handler = Callable[["RoomContext", dict[str, Any]], Awaitable[None]]
# part(session, user), or part(session, user, origin) when registered with wants_origin=True.
SnapshotPart = Callable[..., Awaitable[dict[str, Any]]]

#: What each role may do in a room. Permissions: chat, hand, ask, vote (everyone);
#: present (publish media without being given the floor); poll (create and close polls);
#: moderate (mute, remove, lock, end, lobby, floor, roles, answer questions).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "host": frozenset({"chat", "hand", "ask", "vote", "present", "poll", "moderate"}),
    "presenter": frozenset({"chat", "hand", "ask", "vote", "present", "poll"}),
    "attendee": frozenset({"chat", "hand", "ask", "vote"}),
}
#: Roles the host may give in the room with `role.set`.
ASSIGNABLE_ROLES: set[str] = {"presenter", "attendee"}


def register_role(name: str, permissions: Iterable[str], *, assignable: bool = False) -> None:
    """Add a room role (e.g. a consult's "supervisor") with its permissions."""
    ROLE_PERMISSIONS[name] = frozenset(permissions)
    if assignable:
        ASSIGNABLE_ROLES.add(name)


def role_permissions(role: str) -> frozenset[str]:
    """Permissions of `role`; an unknown role has the attendee's."""
    return ROLE_PERMISSIONS.get(role, ROLE_PERMISSIONS["attendee"])


@dataclass(frozen=True)
class MessageSpec:
    """A registered client message type."""

    type: str
    handler: Handler
    roles: frozenset[str] | None
    fields: dict[str, Field]
    bucket: str


@dataclass(frozen=True)
class ClientOrigin:
    """The address and browser of a socket, as the ASGI server saw them."""

    ip: str = ""
    user_agent: str = ""

    @classmethod
    def from_scope(cls, scope: dict[str, Any]) -> "ClientOrigin":
        client = scope.get("client") or ("", 0)
        agent = next((value.decode("latin-1") for name, value in scope.get("headers") or [] if name == b"user-agent"), "")
        return cls(ip=str(client[0] or "")[:45], user_agent=agent[:200])


_HANDLERS: dict[str, MessageSpec] = {}
_SNAPSHOT_PARTS: dict[str, SnapshotPart] = {}
_PARTS_WANTING_ORIGIN: set[str] = set()


def room_message(
    type: str, *, roles: set[str] | None = None, fields: dict[str, Field] | None = None, bucket: str = "default"
) -> Callable[[Handler], Handler]:
    """Register `async def handler(ctx, message)` for client messages of `type`.

    roles: only people whose current room role is in this set may send it (others get
    `forbidden`); None means anyone admitted. fields: declared fields, checked before the
    handler runs (`message` then holds the cleaned values plus `type` and `id`).
    bucket: the rate-limit bucket ("default", "chat", "vote").
    """

    def decorator(handler: Handler) -> Handler:
        if type in _HANDLERS and _HANDLERS[type].handler is not handler:
            raise ValueError(f"room message type {type!r} is already registered")
        _HANDLERS[type] = MessageSpec(type, handler, frozenset(roles) if roles else None, dict(fields or {}), bucket)
        return handler

    return decorator


def message_spec(type: str) -> MessageSpec | None:
    return _HANDLERS.get(type)


def registered_types() -> list[str]:
    return sorted(_HANDLERS)


def register_snapshot_part(name: str, part: SnapshotPart, *, wants_origin: bool = False) -> None:
    """Add `snapshot[name] = await part(session, user)` to every join snapshot.

    The part runs for each joining socket: keep it to a query or two, and return only
    what `user` may see. With `wants_origin` it is called as `part(session, user, origin)`
    with the socket's `ClientOrigin` (for parts that audit the join).
    """
    _SNAPSHOT_PARTS[name] = part
    if wants_origin:
        _PARTS_WANTING_ORIGIN.add(name)
    else:
        _PARTS_WANTING_ORIGIN.discard(name)



async def snapshot_parts(session: "LiveSession", user: "User", origin: ClientOrigin | None = None) -> dict[str, Any]:
    """Every registered part, read concurrently (a joiner waits for the slowest, not the sum)."""
    import asyncio

    names = list(_SNAPSHOT_PARTS)
    calls = [
        _SNAPSHOT_PARTS[name](session, user, origin or ClientOrigin()) if name in _PARTS_WANTING_ORIGIN
        else _SNAPSHOT_PARTS[name](session, user)
        for name in names
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    parts: dict[str, Any] = {}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, BaseException):  # one broken part must not keep people out of the room
            logger.error("session %s snapshot part %s failed", session.pk, name, exc_info=result)
        else:
            parts[name] = result
    return parts


StayCheck = Callable[["LiveSession", "User"], "tuple[str, str] | None"]
_STAY_CHECKS: dict[str, StayCheck] = {}


def register_stay_check(event_type: str, check: StayCheck) -> None:
    """After an event `event_type` about one person (its `user_id`), that person's sockets
    in the room ask `check(session, user)` whether they may stay: (error code, message)
    sends that error and closes the socket with 4403; None keeps it.

    Why: admission is checked when a socket connects; an event that takes someone out of
    a room they are in (breakout groups: `breakout.moved` out of an open group) must end
    their socket too, not trust their page to leave.
    """
    _STAY_CHECKS[event_type] = check


def stay_check(event_type: str) -> StayCheck | None:
    """The check registered for `event_type` (None: the event changes nobody's admission)."""
    return _STAY_CHECKS.get(event_type)


@dataclass(frozen=True)
class DeadlineSource:
    """A part's deadlines: `upcoming(before=datetime)` -> [(key, datetime)], `run(key=str)`.

    `run` must be idempotent and safe to call from every process at once: it re-checks
    under a row lock that the deadline is due and not done (sessions/breakouts).
    """

    upcoming: Callable[..., list[tuple[str, Any]]]
    run: Callable[..., Any]


_DEADLINES: dict[str, DeadlineSource] = {}


def register_deadlines(name: str, *, upcoming: Callable[..., list[tuple[str, Any]]], run: Callable[..., Any]) -> None:
    """Have every room process keep part `name`'s deadlines, stored in its own tables.

    Why: a timer in the process that set a deadline dies with that process; the room's
    node in every process reads what is due soon and fires it (fanout.RoomNode._deadlines).
    """
    _DEADLINES[name] = DeadlineSource(upcoming=upcoming, run=run)


def room_deadlines_upcoming(*, horizon_seconds: float) -> list[tuple[str, float]]:
    """Every registered deadline due within `horizon_seconds` (or past): [("part:key", unix time)]."""
    before = timezone.now() + timedelta(seconds=horizon_seconds)
    due: list[tuple[str, float]] = []
    for name, source in _DEADLINES.items():
        due += [(f"{name}:{key}", when.timestamp()) for key, when in source.upcoming(before=before)]
    return due


def room_deadline_run(*, key: str) -> Any:
    """Run deadline "part:key" (idempotent; see `register_deadlines`)."""
    name, _sep, rest = key.partition(":")
    source = _DEADLINES.get(name)
    return source.run(key=rest) if source is not None else None


@dataclass
class RoomContext:
    """What a handler knows about the socket that sent the message, and how it answers."""

    session: "LiveSession"
    user: "User"
    role: str
    client_id: str | None = None
    #: Where the socket comes from (a consult's audit trail records it).
    origin: "ClientOrigin" = field(default_factory=lambda: ClientOrigin())
    #: The sequence number of the first event emitted for this message (sent in the ack).
    seq: int | None = None
    failed: bool = False
    _send: Callable[[dict[str, Any]], Awaitable[None]] | None = field(default=None, repr=False)

    @property
    def permissions(self) -> frozenset[str]:
        return role_permissions(self.role)

    async def emit(self, type: str, payload: dict[str, Any], visible_to: Iterable[int] | None = None) -> int:
        """Store an event (with the next sequence number) and deliver it to the room.

        The first event of a message carries the client's `id`, so a repeated message
        stores nothing new. Returns the sequence number.
        """
        client_id = self.client_id if self.seq is None else None
        seq = await db_parallel(room_event_emit)(
            session_id=self.session.pk, type=type, payload=payload, actor_id=self.user.pk,
            client_id=client_id or "", visible_to=list(visible_to) if visible_to is not None else None,
        )
        if self.seq is None:
            self.seq = seq
        return seq

    async def reply(self, message: dict[str, Any]) -> None:
        """Send `message` to this socket only (not stored, not sequenced)."""
        if self._send is not None:
            await self._send(message)

    async def error(self, code: str, message: str) -> None:
        """Send an error about the current message to this socket; no ack follows."""
        self.failed = True
        await self.reply(error_message(code, message, client_id=self.client_id))
