"""The room's WebSocket: one per participant at /ws/sessions/<id>/ (docs/protocol.md).

The consumer only translates: it admits or refuses (services.room_admission), registers
the socket with this process's fan-out node, sends the snapshot, and dispatches each
client message to the handler registered for its type (handlers.py, and other parts
through registry.room_message) after the protocol checks and the rate limit.

Everything a socket does on the person's behalf (admission, snapshot, each message with
its handler and the services it calls) runs under their interface language
(language.py), so refusals and errors reach them in the language of the room page.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused

from . import (
    daphne_wire,
    handlers,  # noqa: F401  (registers the built-in message types)
)
from .fanout import Envelope, db_parallel, get_node, note_event
from .language import socket_language
from .protocol import (
    PROTOCOL_VERSION,
    CloseCode,
    ErrorCode,
    ProtocolError,
    clean_fields,
    error_message,
    max_message_bytes,
    parse_text_frame,
)
from .ratelimit import FLOOD_STRIKES, shared_limiter
from .registry import ClientOrigin, RoomContext, StayCheck, message_spec, role_permissions, snapshot_parts, stay_check

if TYPE_CHECKING:
    from sessions.models import LiveSession

logger = logging.getLogger(__name__)


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), default=str)


class RoomConsumer(AsyncWebsocketConsumer):
    """One participant's socket in a live session's room."""

    user_id: int = 0
    in_lobby: bool = False
    row_open: bool = False
    #: A running re-check of admission after an event about this person (kept so it is not collected).
    _stay_task: asyncio.Task[None] | None = None
    _wire: Any = None
    #: The person's interface language, chosen once at connect (language.socket_language).
    language: str = settings.LANGUAGE_CODE
    origin: ClientOrigin = ClientOrigin()

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Close with a plain int code (``CloseCode`` is an IntEnum; ASGI servers want ints)."""
        await super().close(code=int(code) if isinstance(code, int) and code is not True else code, reason=reason)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CloseCode.NOT_SIGNED_IN)
            return
        self.language = socket_language(self.scope, user)
        self.origin = ClientOrigin.from_scope(self.scope)  # for audit trails; read once, not per frame
        # Translation state is context-local (asgiref): database_sync_to_async calls and the
        # tasks started here inherit the language, so the services' `_()` use it too.
        with translation.override(self.language):
            await self._admit(user)

    @property
    def live_session(self) -> LiveSession:
        """The session, once `_admit` has read it: everything after admission may use it."""
        if self.session is None:
            raise RuntimeError("the room socket was used before its session was read")
        return self.session

    async def _admit(self, user: Any) -> None:
        """Refuse, put in the lobby, or let in: the connection's first messages."""
        self.user = user
        self.user_id = user.pk
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        self.session: LiveSession | None = None
        self.role = "attendee"
        self.ready = False
        self.closing = False
        self.registered = False
        self.last_seq = 0
        self.strikes = 0
        self.busy = False
        self._pending_close: int | None = None
        self._buffer: list[Envelope] = []
        self.node = get_node()
        self._wire = daphne_wire.frame_writer(getattr(self, "base_send", None))
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        await self.accept()
        version = (query.get("v") or [str(PROTOCOL_VERSION)])[0]
        if version != str(PROTOCOL_VERSION):
            message = _("This server speaks protocol version %(version)s.") % {"version": PROTOCOL_VERSION}
            await self._refuse(ErrorCode.UNSUPPORTED_VERSION, CloseCode.UNSUPPORTED_VERSION, message)
            return
        since_raw = (query.get("since") or [""])[0]
        since = int(since_raw) if since_raw.isdigit() else None

        from .selectors import room_session
        from .services import room_admission

        def admit() -> tuple[Any, Any]:
            session = room_session(session_id=self.session_id)
            return session, room_admission(session=session, user=user)

        session, admission = await db_parallel(admit)()
        if admission.outcome == "refused":
            logger.info("room %s: user %s refused (%s)", self.session_id, user.pk, admission.code)
            await self._refuse(admission.code, admission.close_code, admission.message)
            return
        self.session = session
        self.role = admission.role
        await self._join_schedule_group()
        await self.node.register(self.session_id, self, self.channel_name)
        self.registered = True
        if admission.outcome == "lobby":
            await self._wait_in_lobby()
        else:
            await self._enter(since)

    async def _refuse(self, code: str, close_code: int, message: str) -> None:
        self.closing = True
        await self._send_json(error_message(code, message))
        await self.close(code=close_code)

    async def _join_schedule_group(self) -> None:
        """Scheduling changes (cancelled, ended elsewhere) reach the room through this group."""
        from sessions.scheduling.events import session_group_name

        if self.channel_layer is not None:
            try:
                await self.channel_layer.group_add(session_group_name(self.session_id), self.channel_name)
            except Exception:
                logger.warning("room %s: schedule group unavailable", self.session_id)

    async def _wait_in_lobby(self) -> None:
        from .presence import room_connection_open
        from .services import lobby_enter

        self.in_lobby = True
        self.ready = True
        swept = await database_sync_to_async(room_connection_open)(
            session_id=self.session_id, user=self.user, role=self.role, channel_name=self.channel_name,
            process_id=self.node.process_id, in_lobby=True,
        )
        self._row_opened(swept)
        await database_sync_to_async(lobby_enter)(session_id=self.session_id, user=self.user)
        await self._send_json({"type": "lobby.waiting", "session": {"id": self.session_id, "title": self.live_session.title}})

    async def _enter(self, since: int | None) -> None:
        """Become a participant: connection row, snapshot, then whatever arrived meanwhile.

        Also run when the host admits a waiting person, from a delivery: outside connect's
        language, hence the override here.
        """
        with translation.override(self.language):
            await self._enter_in_language(since)

    async def _enter_in_language(self, since: int | None) -> None:
        from .presence import room_connection_open
        from .selectors import room_snapshot

        self.in_lobby = False
        self.ready = False
        swept = await db_parallel(room_connection_open)(
            session_id=self.session_id, user=self.user, role=self.role, channel_name=self.channel_name,
            process_id=self.node.process_id, in_lobby=False,
        )
        self._row_opened(swept)
        snapshot, parts = await asyncio.gather(
            db_parallel(room_snapshot)(session=self.live_session, user=self.user, role=self.role, since=since),
            snapshot_parts(self.live_session, self.user, self.origin),
        )
        snapshot.update(parts)
        self.last_seq = snapshot["seq"]
        if snapshot["events"]:
            self.last_seq = max(self.last_seq, snapshot["events"][-1]["seq"])
        await self.send(text_data=_dumps(snapshot))
        self.ready = True
        buffered, self._buffer = self._buffer, []
        for envelope in buffered:
            await self._deliver_now(envelope)
        self.node.presence_changed(self.session_id, self.user_id)

    def _row_opened(self, swept: bool) -> None:
        self.row_open = True
        if swept:  # this process had been swept as dead: its other sockets' rows are gone
            self.node.restore_soon()

    def connection_row(self) -> Any:
        """This socket's `RoomConnection` row (fanout.RoomSocket), or None before it is open."""
        from .fanout import ConnectionRow

        if not self.row_open or not getattr(self, "registered", False):
            return None
        return ConnectionRow(self.channel_name, self.session_id, self.user_id, self.in_lobby)

    async def disconnect(self, code: int) -> None:
        if not getattr(self, "registered", False):
            return
        self.registered = False
        self.row_open = False
        await self.node.unregister(self.session_id, self, self.channel_name)
        from .presence import room_connection_close

        try:
            await db_parallel(room_connection_close)(channel_name=self.channel_name)
        except Exception:
            logger.warning("room %s: closing connection row failed", self.session_id, exc_info=True)
        if not self.in_lobby:
            self.node.presence_changed(self.session_id, self.user_id)

    # --- delivery from the fan-out ---------------------------------------------------

    async def room_deliver(self, envelope: Envelope) -> None:
        if self.closing:
            return
        if self.in_lobby and envelope.visible_to is None:
            return
        if not envelope.visible_for(self.user_id):
            return
        if not self.ready:
            self._buffer.append(envelope)
            return
        await self._deliver_now(envelope)

    async def _deliver_now(self, envelope: Envelope) -> None:
        if envelope.seq is not None:
            if envelope.seq <= self.last_seq:
                return
            self.last_seq = envelope.seq
        if not daphne_wire.write_prepared(self._wire, envelope):
            await self.send(text_data=envelope.frame)
        if envelope.target == self.user_id or envelope.type == "room.ended":
            await self._react(envelope)

    async def _react(self, envelope: Envelope) -> None:
        """Events about this very person change what this socket is."""
        kind = envelope.type
        if kind == "participant.removed":
            await self._close_soon(CloseCode.REMOVED)
        elif kind == "room.ended":
            await self._close_soon(CloseCode.ROOM_ENDED)
        elif kind == "participant.role":
            self.role = json.loads(envelope.frame)["data"]["role"]
        elif kind == "lobby.refused" and self.in_lobby:
            await self._close_soon(CloseCode.REFUSED)
        elif kind == "lobby.admitted" and self.in_lobby:
            self.in_lobby = False
            self.ready = False
            asyncio.get_running_loop().create_task(self._enter(None))
        elif (check := stay_check(kind)) is not None and not self.closing:
            # In a task: this runs inside the room's delivery to every socket, one by one.
            self._stay_task = asyncio.get_running_loop().create_task(self._check_stay(check))

    async def _check_stay(self, check: StayCheck) -> None:
        """An event took this person out of what admitted them (registry.register_stay_check):
        if the part's check says they may no longer stay, refuse as at connect (the error,
        then close 4403)."""
        with translation.override(self.language):
            refusal = await db_parallel(check)(self.live_session, self.user)
            if refusal is None or self.closing or not self.registered:  # kept, or gone meanwhile
                return
            code, message = refusal
            logger.info("room %s: user %s may no longer stay (%s)", self.session_id, self.user_id, code)
            await self._send_json(error_message(code, message))
            await self._close_soon(CloseCode.NOT_ALLOWED)

    async def _close_soon(self, code: int) -> None:
        """Close now, or right after the message being handled has been acknowledged."""
        self.closing = True
        if self.busy:
            self._pending_close = code
        else:
            await self.close(code=code)

    async def room_frame(self, message: dict[str, Any]) -> None:
        """The stock group_send path (ROOM_FANOUT=group)."""
        envelope = Envelope.decode(message["envelope"])
        note_event(envelope)
        await self.room_deliver(envelope)

    async def schedule_event(self, message: dict[str, Any]) -> None:
        """A scheduling event about this session (sessions.scheduling.events)."""
        if message.get("event") in ("session.cancelled", "session.ended") and not self.closing:
            self.closing = True
            reason = "cancelled" if message["event"] == "session.cancelled" else "ended"
            await self._send_json({"type": "room.ended", "data": {"reason": reason}})
            await self._close_soon(CloseCode.ROOM_ENDED)

    async def media_signal(self, message: dict[str, Any]) -> None:
        """A message of the media worker for this socket (sessions/media/worker.py)."""
        if not self.closing:
            await self._send_json(message["message"])

    # --- messages from the client ----------------------------------------------------

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        # Checked before any decoding: daphne enforces the same limit on frames.
        text = message.get("text")
        data = message.get("bytes")
        size = len(text.encode("utf-8", "surrogatepass")) if text is not None else len(data or b"")
        if size > max_message_bytes():
            self.closing = True
            await self.close(code=CloseCode.TOO_LARGE)
            return
        await self.receive(text_data=text, bytes_data=data)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing or self.session is None:
            return
        with translation.override(self.language):  # the handler and the services it calls run under it
            await self._receive_in_language(text_data, bytes_data)

    async def _receive_in_language(self, text_data: str | None, bytes_data: bytes | None) -> None:
        client_id = None
        self.busy = True
        try:
            message = parse_text_frame(text_data, bytes_data)
            client_id = message.get("id")
            await self._dispatch(message, client_id)
        except ProtocolError as exc:
            await self._send_json(error_message(exc.code, exc.message, client_id=client_id, field=exc.field))
        except (PermissionRefused, InvalidRequest) as exc:
            await self._send_json(error_message(exc.code, str(exc.message), client_id=client_id))
        except Exception:
            logger.exception("room %s: message from user %s failed", self.session_id, self.user_id)
            text = _("The server could not do that; try again.")
            await self._send_json(error_message(ErrorCode.SERVER_ERROR, text, client_id=client_id))
        finally:
            self.busy = False
            if self._pending_close is not None:
                code, self._pending_close = self._pending_close, None
                await self.close(code=code)

    async def _dispatch(self, message: dict[str, Any], client_id: str | None) -> None:
        kind = message["type"]
        if kind == "ping":
            await self._send_json({"type": "pong", "id": client_id, "seq": self.last_seq})
            return
        if self.in_lobby:
            raise ProtocolError(ErrorCode.IN_LOBBY, _("Wait until the host lets you in."))
        spec = message_spec(kind)
        if spec is None:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, _("Unknown message type '%(type)s'.") % {"type": kind}, field="type")
        permissions = role_permissions(self.role)
        wait = await shared_limiter.check(
            session_id=self.session_id, user_id=self.user_id, bucket=spec.bucket,
            privileged=bool({"present", "moderate"} & permissions),
        )
        if wait:
            self.strikes += 1
            if self.strikes >= FLOOD_STRIKES:
                logger.warning("room %s: user %s flooded; closing", self.session_id, self.user_id)
                await self._refuse(ErrorCode.FLOOD, CloseCode.FLOOD, _("Too many messages; the connection was closed."))
                return
            seconds = formats.number_format(wait, decimal_pos=1)  # "0.4" in English, "0,4" in French
            raise ProtocolError(ErrorCode.RATE_LIMITED, _("Too many messages; wait %(seconds)s s.") % {"seconds": seconds})
        self.strikes = 0
        fields = clean_fields(message, spec.fields)
        if spec.roles is not None and self.role not in spec.roles:
            raise PermissionRefused(_("Your role in this room does not allow that."), code=ErrorCode.FORBIDDEN)
        if client_id:
            seq = await db_parallel(_seq_of_client_message)(self.session_id, self.user_id, client_id)
            if seq is not None:  # a resend of something already stored: acknowledge again
                await self._send_json({"type": "ack", "id": client_id, "seq": seq})
                return
        ctx = RoomContext(
            session=self.live_session, user=self.user, role=self.role, client_id=client_id,
            origin=self.origin, _send=self._send_json,
        )
        await spec.handler(ctx, {**fields, "type": kind, "id": client_id})
        if client_id and not ctx.failed:
            await self._send_json({"type": "ack", "id": client_id, "seq": ctx.seq})

    async def _send_json(self, message: dict[str, Any]) -> None:
        await self.send(text_data=_dumps(message))


def _seq_of_client_message(session_id: int, user_id: int, client_id: str) -> int | None:
    from sessions.models import RoomEvent

    return (
        RoomEvent.objects.filter(session_id=session_id, actor_id=user_id, client_id=client_id)
        .values_list("seq", flat=True).first()
    )
