"""The one place where the room reaches into daphne's and autobahn's internals.

Three reach-ins, each because the public path cannot do what a client must see:

* **Close codes.** An application closes a socket with ``{"type": "websocket.close",
  "code": n}``; daphne hands ``n`` to autobahn's ``sendClose``, which refuses anything
  but a plain ``int`` (our ``CloseCode`` is an ``IntEnum``) and any code outside 1000 and
  3000-4999 (1009 "message too big", 1011). Each refusal raised inside daphne and the
  browser got 1011 (or 1006): every documented refusal (4403, 4410, 4429, 4430...) and
  "End for everyone" arrived as an error, and the client kept reconnecting.
  :func:`install` replaces daphne's ``serverClose`` with one that sends the close
  frame the application asked for (as an int; protocol-level codes through autobahn's
  ``sendCloseFrame``, which does not police them).
* **Oversized frames.** autobahn fails a connection whose frame or message exceeds
  daphne's ``--websocket-max-*-size`` by dropping TCP (1006), because its servers default
  to ``failByDrop``; :func:`install` turns that off for daphne's factory, so the client
  gets the 1009 close frame autobahn already chose (and, by the protocol, stops).
* **The fan-out's fast path** (:func:`frame_writer`, :func:`prepared_frame`): a room
  event is framed once (autobahn's ``PreparedMessage``) and written to each socket's
  transport (see docs/benchmarks.md, "Room fan-out").

:func:`check_compatibility` fails (tests/sessions/room/test_daphne_wire.py runs it) when
a daphne or autobahn upgrade renames anything used here, like
``sessions/media/tap.py``'s check for aiortc.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

logger = logging.getLogger(__name__)


class WireError(RuntimeError):
    """daphne or autobahn changed: what this module relies on is gone."""


def check_compatibility() -> None:
    """Raise :class:`WireError` if any daphne/autobahn name used here is missing."""
    from autobahn.websocket import protocol as autobahn_protocol
    from daphne import ws_protocol

    missing = []
    server_protocol = getattr(ws_protocol, "WebSocketProtocol", None)
    factory = getattr(ws_protocol, "WebSocketFactory", None)
    if server_protocol is None or not callable(getattr(server_protocol, "serverClose", None)):
        missing.append("daphne.ws_protocol.WebSocketProtocol.serverClose")
    elif "serverClose" not in server_protocol.handle_reply.__code__.co_names:
        missing.append("daphne's handle_reply closes through serverClose")
    if factory is None or not callable(getattr(factory, "setProtocolOptions", None)):
        missing.append("daphne.ws_protocol.WebSocketFactory.setProtocolOptions")
    base = autobahn_protocol.WebSocketProtocol
    for name in ("sendCloseFrame", "sendPreparedMessage", "STATE_OPEN", "_fail_connection"):
        if not hasattr(base, name):
            missing.append(f"autobahn WebSocketProtocol.{name}")
    if "failByDrop" not in getattr(base, "CONFIG_ATTRS_COMMON", ()):
        missing.append("autobahn option failByDrop")
    if not hasattr(autobahn_protocol, "PreparedMessage"):
        missing.append("autobahn PreparedMessage")
    if missing:
        raise WireError("daphne/autobahn internals changed, missing: " + ", ".join(missing))


_installed = False


def install() -> None:
    """Make daphne send the close codes the application chooses, and 1009 for big frames.

    Call once where the ASGI application is built (server/asgi.py); harmless elsewhere.
    """
    global _installed
    if _installed:
        return
    try:
        from daphne import ws_protocol
    except ImportError:  # another ASGI server: nothing to fix here
        return
    check_compatibility()

    def server_close(self: Any, code: int | None = None) -> None:
        code = 1000 if code is None else int(code)
        if code == 1000 or 3000 <= code <= 4999:
            self.sendClose(code=code)
        else:  # 1009, 1011: protocol-level codes autobahn's public sendClose refuses
            self.sendCloseFrame(code=code, isReply=False)

    ws_protocol.WebSocketProtocol.serverClose = server_close
    original_init = ws_protocol.WebSocketFactory.__init__

    @functools.wraps(original_init)
    def factory_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.setProtocolOptions(failByDrop=False)

    ws_protocol.WebSocketFactory.__init__ = factory_init
    _installed = True


# --- the fan-out's fast path to the wire ----------------------------------------------
#
# A room event goes to every socket of the room. Through `self.send` each copy crosses
# channels' session wrapper, daphne's reply dispatch, a UTF-8 encode, and autobahn's
# framing and debug-log argument formatting: most of the CPU of a 1,000-person room
# (docs/benchmarks.md, "Room fan-out"). Under daphne, the frame is instead framed ONCE per
# event (autobahn's PreparedMessage, its broadcast API) and written to each socket's
# transport. Anything unusual (another server, compression, a closing socket, data
# queued in autobahn) takes the ordinary path; ROOM_FAST_SEND=0 turns it off. Order is
# kept: both paths reach the transport synchronously within the event loop.

_prepared: tuple[Any, Any] = (None, None)


def prepared_frame(envelope: Any) -> Any:
    """The envelope's frame, framed once (the hub hands the same envelope to every socket)."""
    global _prepared
    if _prepared[0] is not envelope:
        from autobahn.websocket.protocol import PreparedMessage

        _prepared = (envelope, PreparedMessage(envelope.frame.encode("utf-8"), False, False, True))
    return _prepared[1]


def frame_writer(send: Any) -> Any | None:
    """daphne's WebSocket protocol under channels' send wrappers, or None (tests, other servers)."""
    from django.conf import settings

    if not getattr(settings, "ROOM_FAST_SEND", True):
        return None
    for _ in range(6):
        if isinstance(send, functools.partial):
            protocol = send.args[0] if len(send.args) == 1 else None
            needed = ("sendPreparedMessage", "transport", "send_queue", "state", "STATE_OPEN")
            return protocol if all(hasattr(protocol, name) for name in needed) else None
        send = getattr(getattr(send, "__self__", None), "real_send", None)
        if send is None:
            return None
    return None


def write_prepared(wire: Any, envelope: Any) -> bool:
    """Write the event's prepared frame straight to the socket if nothing stands in the way."""
    if (
        wire is not None and wire.state == wire.STATE_OPEN and not wire.send_queue
        and getattr(wire, "_perMessageCompress", None) is None and wire.transport is not None
    ):
        wire.transport.write(prepared_frame(envelope).payloadHybi)
        return True
    return False
