"""The link between two media workers: an authenticated, ordered stream of frames and controls.

Why a link at all: one session may span several workers (placement spreads a lecture's
audience once a worker is full), and a subscriber on worker B must receive a publisher
on worker A. Each publication crosses to each other worker of its session once (one
copy per worker, not per subscriber) as the encoded frames A's forwarder already has —
nothing is decoded or encoded again (Jitsi's Octo relays and mediasoup's
`pipeToRouter` do the same between bridges/routers).

Why TCP and not RTP over UDP: the frames cross inside one deployment's network, where
loss is rare; a reliable ordered stream keeps the link to one socket per pair of
workers, makes authentication per message a sequence check plus a MAC, and lets a
worker notice at once that its peer died (the kernel resets the connection of a killed
process). Back-pressure is handled by the sender: when the socket's buffer is full a
video track skips to its next keyframe (as a slow subscriber does inside a worker).

Authentication (`docs/media.md`, "The cascade link"): both ends hold the cascade
secret (`MEDIA_CASCADE_SECRET`, by default derived from `SECRET_KEY`). The connecting
worker says who it is, both send a fresh nonce, and each proves knowledge of the secret
with an HMAC over both ids and both nonces; the accepting worker also checks that the
caller is a live worker of the registry. A worker speaking another protocol version is
refused with a log line saying both versions. After the handshake every message carries
a sequence number and an HMAC-SHA256 tag (truncated to 16 bytes) under a key of this
connection and direction: a forged message fails the tag, a replayed one (same
connection: an old sequence number; another connection: another key) fails too. Both
are dropped and counted; too many close the link.

Wire format after the handshake, each message::

    u32 length of tag + payload | u64 sequence | 16-byte tag | payload
    payload: u8 kind, then for FRAME:
        u32 session | u8 len + track id | u8 codec | u8 audio level (255 none) | u32 RTP timestamp | data
    and for CONTROL: UTF-8 JSON (join, leave, pub, unpub, pli; see cascade.py)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

#: Bumped whenever the bytes on the link change; workers of different versions refuse each other.
CASCADE_PROTOCOL_VERSION = 1

FRAME = 1
CONTROL = 2

#: Codecs on the link (a byte each); the forwarder accepts only these.
CODECS = ("audio/opus", "video/vp8", "video/h264")
CLOCK_RATES = {"audio/opus": 48000, "video/vp8": 90000, "video/h264": 90000}

TAG_BYTES = 16
_HEADER = struct.Struct("!IQ")
_FRAME_HEAD = struct.Struct("!IB")
_FRAME_TAIL = struct.Struct("!BBI")
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_HANDSHAKE_LINE = 1024
HANDSHAKE_TIMEOUT = 5.0
#: A link that receives this many bad messages is closed (a peer that lost its key, or worse).
MAX_BAD_MESSAGES = 16
#: Beyond this many unsent bytes queued on the socket, frames are dropped until a keyframe.
SEND_BUFFER_LIMIT = 2 * 1024 * 1024


class HandshakeRefused(Exception):
    """The other end is not a worker of this cascade (wrong secret, version, or unregistered)."""


@dataclass
class LinkCounters:
    """What a link did; shown in /healthz details and used by tests."""

    frames_sent: int = 0
    frames_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    frames_dropped_backlog: int = 0
    forged: int = 0
    replayed: int = 0
    refused_handshakes: int = 0


@dataclass(frozen=True)
class RelayedFrame:
    """One encoded frame as it crosses the link."""

    session_id: int
    track_id: str
    mime_type: str
    audio_level: int | None
    timestamp: int
    data: bytes


def encode_frame(frame: RelayedFrame) -> bytes:
    track = frame.track_id.encode()[:255]
    return b"".join((
        bytes([FRAME]),
        _FRAME_HEAD.pack(frame.session_id, len(track)), track,
        _FRAME_TAIL.pack(CODECS.index(frame.mime_type), 255 if frame.audio_level is None else frame.audio_level & 0x7F,
                         frame.timestamp & 0xFFFFFFFF),
        frame.data,
    ))


def decode_frame(payload: bytes) -> RelayedFrame:
    """Parse a FRAME payload (after the kind byte was read); ValueError when malformed."""
    try:
        session_id, track_len = _FRAME_HEAD.unpack_from(payload, 1)
        offset = 1 + _FRAME_HEAD.size
        track_id = payload[offset:offset + track_len].decode()
        offset += track_len
        codec, level, timestamp = _FRAME_TAIL.unpack_from(payload, offset)
        offset += _FRAME_TAIL.size
        mime_type = CODECS[codec]
    except (struct.error, UnicodeDecodeError, IndexError) as exc:
        raise ValueError(f"malformed frame: {exc}") from exc
    return RelayedFrame(session_id, track_id, mime_type, None if level == 255 else level, timestamp, payload[offset:])


def _proof(secret: bytes, role: str, client: str, server: str, client_nonce: str, server_nonce: str) -> str:
    text = "|".join(("openrounds-cascade", role, client, server, client_nonce, server_nonce))
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def _key(secret: bytes, direction: str, client_nonce: str, server_nonce: str) -> bytes:
    text = "|".join(("openrounds-cascade-key", direction, client_nonce, server_nonce))
    return hmac.new(secret, text.encode(), hashlib.sha256).digest()


async def _read_line(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await asyncio.wait_for(reader.readline(), HANDSHAKE_TIMEOUT)
    if not line or len(line) > MAX_HANDSHAKE_LINE or not line.endswith(b"\n"):
        raise HandshakeRefused("no handshake line")
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise HandshakeRefused("handshake is not JSON") from exc
    if not isinstance(data, dict):
        raise HandshakeRefused("handshake is not an object")
    if "refused" in data:
        raise HandshakeRefused(f"refused by the other worker: {str(data['refused'])[:200]}")
    return data


def _write_line(writer: asyncio.StreamWriter, data: dict[str, Any]) -> None:
    writer.write(json.dumps(data, separators=(",", ":")).encode() + b"\n")


MessageHandler = Callable[["Link", int, bytes], None]


@dataclass(eq=False)
class Link:
    """One authenticated connection to another worker (either end may have dialled)."""

    peer_id: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    send_key: bytes
    receive_key: bytes
    counters: LinkCounters
    on_message: MessageHandler
    send_seq: int = 0
    receive_seq: int = 0
    bad: int = 0
    closed: bool = False
    task: asyncio.Task[None] | None = None
    #: Per track: drop video frames until the next keyframe (the socket backed up).
    skipping: set[str] = field(default_factory=set)

    # --------------------------------------------------------------- sending

    def backlog(self) -> int:
        transport = self.writer.transport
        return transport.get_write_buffer_size() if transport is not None and not transport.is_closing() else 0

    def send(self, payload: bytes) -> bool:
        """Queue one message; False if the link is closed."""
        if self.closed:
            return False
        self.send_seq += 1
        tag = hmac.new(self.send_key, struct.pack("!Q", self.send_seq) + payload, hashlib.sha256).digest()[:TAG_BYTES]
        self.writer.write(_HEADER.pack(TAG_BYTES + len(payload), self.send_seq) + tag + payload)
        self.counters.bytes_sent += len(payload) + _HEADER.size + TAG_BYTES
        return True

    def send_control(self, message: dict[str, Any]) -> bool:
        return self.send(bytes([CONTROL]) + json.dumps(message, separators=(",", ":")).encode())

    def send_frame(self, frame: RelayedFrame, *, keyframe: bool, video: bool, encoded: bytes | None = None) -> bool:
        """Send a frame unless the socket is backed up; a video track then waits for a keyframe."""
        if self.closed:
            return False
        if video:
            if frame.track_id in self.skipping and not keyframe:
                self.counters.frames_dropped_backlog += 1
                return False
            self.skipping.discard(frame.track_id)
        if self.backlog() > SEND_BUFFER_LIMIT:
            self.counters.frames_dropped_backlog += 1
            if video:
                self.skipping.add(frame.track_id)
            return False
        self.counters.frames_sent += 1
        return self.send(encoded if encoded is not None else encode_frame(frame))

    # ------------------------------------------------------------- receiving

    async def run(self) -> None:
        """Read messages until the connection ends; a bad message is dropped and counted."""
        try:
            while not self.closed:
                header = await self.reader.readexactly(_HEADER.size)
                length, seq = _HEADER.unpack(header)
                if length < TAG_BYTES + 1 or length > MAX_MESSAGE_BYTES:
                    logger.warning("media cascade: link to %s sent a message of %d bytes; closing", self.peer_id, length)
                    self.counters.forged += 1
                    return
                body = await self.reader.readexactly(length)
                tag, payload = body[:TAG_BYTES], body[TAG_BYTES:]
                expected = hmac.new(self.receive_key, struct.pack("!Q", seq) + payload, hashlib.sha256).digest()[:TAG_BYTES]
                if not hmac.compare_digest(tag, expected):
                    self.counters.forged += 1
                    self._bad("a message with a wrong tag")
                    continue
                if seq <= self.receive_seq:
                    self.counters.replayed += 1
                    self._bad(f"a replayed message (sequence {seq} after {self.receive_seq})")
                    continue
                self.receive_seq = seq
                self.counters.bytes_received += length + _HEADER.size
                if payload[0] == FRAME:
                    self.counters.frames_received += 1
                try:
                    self.on_message(self, payload[0], payload)
                except Exception:
                    logger.exception("media cascade: a message from %s could not be handled", self.peer_id)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.close()

    def _bad(self, what: str) -> None:
        self.bad += 1
        logger.warning("media cascade: dropped %s from %s (%d so far)", what, self.peer_id, self.bad)
        if self.bad >= MAX_BAD_MESSAGES:
            logger.error("media cascade: closing the link to %s after %d bad messages", self.peer_id, self.bad)
            self.closed = True

    def close(self) -> None:
        self.closed = True
        try:
            self.writer.close()
        except Exception:
            pass


@dataclass
class LinkEnds:
    """What both ends of every link share: who this worker is and how to prove it."""

    worker_id: str
    secret: bytes
    #: Is this id a live registered worker? (the accepting end asks before trusting a caller)
    is_registered: Callable[[str], Awaitable[bool]]
    on_message: MessageHandler
    counters: LinkCounters = field(default_factory=LinkCounters)
    version: int = CASCADE_PROTOCOL_VERSION

    async def dial(self, peer_id: str, host: str, port: int) -> Link:
        """Connect to `peer_id` and authenticate both ways; HandshakeRefused or OSError otherwise."""
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), HANDSHAKE_TIMEOUT)
        try:
            client_nonce = os.urandom(16).hex()
            _write_line(writer, {"worker": self.worker_id, "version": self.version, "nonce": client_nonce})
            hello = await _read_line(reader)
            self._check_version(hello, peer_id)
            if hello.get("worker") != peer_id:
                raise HandshakeRefused(f"expected worker {peer_id}, reached {str(hello.get('worker'))[:64]}")
            server_nonce = str(hello.get("nonce", ""))
            _write_line(writer, {"proof": _proof(self.secret, "client", self.worker_id, peer_id, client_nonce, server_nonce)})
            answer = await _read_line(reader)
            expected = _proof(self.secret, "server", self.worker_id, peer_id, client_nonce, server_nonce)
            if not hmac.compare_digest(str(answer.get("proof", "")), expected):
                raise HandshakeRefused(f"worker {peer_id} did not prove it holds the cascade secret")
        except BaseException:
            writer.close()
            self.counters.refused_handshakes += 1
            raise
        return self._link(peer_id, reader, writer, client_nonce, server_nonce, dialled=True)

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Link | None:
        """Authenticate a caller; None (and a log line) if it is not a worker of this cascade."""
        peer = "?"
        try:
            hello = await _read_line(reader)
            peer = str(hello.get("worker", "?"))[:64]
            try:
                self._check_version(hello, peer)
            except HandshakeRefused as refusal:
                _write_line(writer, {"refused": str(refusal)})
                raise
            client_nonce = str(hello.get("nonce", ""))
            if len(client_nonce) != 32:
                raise HandshakeRefused("no nonce")
            server_nonce = os.urandom(16).hex()
            _write_line(writer, {"worker": self.worker_id, "version": self.version, "nonce": server_nonce})
            proof = await _read_line(reader)
            expected = _proof(self.secret, "client", peer, self.worker_id, client_nonce, server_nonce)
            if not hmac.compare_digest(str(proof.get("proof", "")), expected):
                raise HandshakeRefused("it did not prove it holds the cascade secret")
            if not await self.is_registered(peer):
                raise HandshakeRefused("it is not a live worker of the registry")
            _write_line(writer, {"proof": _proof(self.secret, "server", peer, self.worker_id, client_nonce, server_nonce)})
        except (HandshakeRefused, TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError) as refusal:
            self.counters.refused_handshakes += 1
            logger.warning("media cascade: refused a link from %s (%s): %s",
                           _address(writer), peer, refusal or type(refusal).__name__)
            writer.close()
            return None
        return self._link(peer, reader, writer, client_nonce, server_nonce, dialled=False)

    def _check_version(self, hello: dict[str, Any], peer: str) -> None:
        version = hello.get("version")
        if version != self.version:
            message = (f"worker {peer} speaks cascade protocol version {version}, this worker "
                       f"{self.worker_id} version {self.version}: they do not join each other's sessions")
            logger.error("media cascade: %s", message)
            raise HandshakeRefused(message)

    def _link(self, peer_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
              client_nonce: str, server_nonce: str, *, dialled: bool) -> Link:
        to_server = _key(self.secret, "client->server", client_nonce, server_nonce)
        to_client = _key(self.secret, "server->client", client_nonce, server_nonce)
        link = Link(
            peer_id=peer_id, reader=reader, writer=writer,
            send_key=to_server if dialled else to_client, receive_key=to_client if dialled else to_server,
            counters=self.counters, on_message=self.on_message,
        )
        return link


def _address(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"
