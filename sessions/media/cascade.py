"""One session across several media workers: which worker relays what to which.

Why: one worker holds about 450 video subscribers per core; a consortium lecture has
thousands. Placement (`placement.py`) spreads a session's participants over workers
once the session's worker is full; this module makes those workers one room. Every
publication crosses once to each other worker of its session (the link is
`cascade_link.py`), where it becomes a *relayed publication* of that worker's
`MediaRoom`: its subscribers, recorder, low-quality copy and speaker detection use it as
they use a local one, and keyframe requests travel back to the publisher's worker.

The control messages (JSON on the link), all about one session::

    {"op": "join", "session": 7}     I carry session 7 now: send me its publications
    {"op": "leave", "session": 7}    I no longer do (or: I never did; stop sending)
    {"op": "pub", "session": 7, "track": "12:0", "publisher": "12", "kind": "video", "source": "camera"}
    {"op": "unpub", "session": 7, "tracks": ["12:0"]}
    {"op": "pli", "session": 7, "track": "12:0"}   a keyframe, please

A worker relays only its *local* publications (a full mesh per session, no second hop),
only to workers that joined the session, and accepts frames only for sessions it carries,
from the worker that announced the track. A link that ends takes that worker's relayed
publications with it; subscribers see them vanish and come back when the publisher's
browser republishes on a live worker (failover, `worker.py`).
"""

from __future__ import annotations

import asyncio
import fractions
import hashlib
import hmac
import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import av
from django.conf import settings

from .cascade_link import (
    CLOCK_RATES,
    CODECS,
    CONTROL,
    FRAME,
    HandshakeRefused,
    Link,
    LinkEnds,
    RelayedFrame,
    decode_frame,
    encode_frame,
)
from .tap import TappedFrame

if TYPE_CHECKING:
    from .placement import WorkerRegistry
    from .sfu import SFU, Publication

logger = logging.getLogger(__name__)

_TIME_BASES = {mime: fractions.Fraction(1, rate) for mime, rate in CLOCK_RATES.items()}
#: Keyframe requests a worker sends over the link per relayed track, at most one per this many seconds.
PLI_INTERVAL = 0.3


def cascade_secret() -> bytes:
    """`MEDIA_CASCADE_SECRET`, or one derived from SECRET_KEY (every process of a deploy shares it)."""
    configured = str(getattr(settings, "MEDIA_CASCADE_SECRET", "") or "")
    if configured:
        return configured.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"openrounds media cascade", hashlib.sha256).digest()


def cascade_enabled() -> bool:
    return bool(getattr(settings, "MEDIA_CASCADE", True))


class Cascade:
    """This worker's side of every session it shares with other workers."""

    def __init__(
        self, *, worker_id: str, sfu: "SFU", registry: "WorkerRegistry", host: str = "127.0.0.1", port: int = 0,
        secret: bytes | None = None, on_peer_lost: Callable[[str, list[int]], Awaitable[None]] | None = None,
    ) -> None:
        self.worker_id = worker_id
        self.sfu = sfu
        self.registry = registry
        self.host = host
        self.port = port
        self.ends = LinkEnds(worker_id=worker_id, secret=secret or cascade_secret(),
                             is_registered=self._is_registered, on_message=self._on_message)
        self.links: dict[str, Link] = {}
        #: Session -> the other workers carrying it (they joined, or we joined them).
        self.peers_of: dict[int, set[str]] = defaultdict(set)
        #: (session, peer) -> the local track ids announced to that peer.
        self._announced: dict[tuple[int, str], set[str]] = defaultdict(set)
        #: Local track ids whose forwarder has our relay observer.
        self._relaying: set[str] = set()
        self._dial_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last_pli: dict[str, float] = {}
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_peer_lost = on_peer_lost
        self.address = ""

    @property
    def counters(self):  # noqa: ANN201 - LinkCounters
        return self.ends.counters

    async def start(self) -> str:
        """Listen for links; the address ("host:port") the registry announces."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        sock = self._server.sockets[0].getsockname()
        self.address = f"{self.host}:{sock[1]}"
        logger.info("media cascade: worker %s listens for links on %s", self.worker_id, self.address)
        return self.address

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self.links.values()):
            link.close()
        for task in list(self._tasks):
            task.cancel()
        self.links.clear()

    # ------------------------------------------------------------ sessions

    async def join(self, session_id: int) -> None:
        """This worker carries the session now: link to its other workers, exchange publications."""
        room = self.sfu.get_room(str(session_id))
        if room is None:
            return
        room.on_publications_changed = lambda: self.publications_changed(session_id)
        room.spans_workers = True
        for peer in await self.registry.session_join(session_id, self.worker_id):
            link = await self._link_to(peer)
            if link is None:
                continue
            link.send_control({"op": "join", "session": session_id})
            self._serve(session_id, peer)

    async def leave(self, session_id: int) -> None:
        """The session's media ended here (no one left, session over, drained)."""
        for peer in self.peers_of.pop(session_id, set()):
            self._announced.pop((session_id, peer), None)
            link = self.links.get(peer)
            if link is not None:
                link.send_control({"op": "leave", "session": session_id})
        try:
            await self.registry.session_leave(session_id, self.worker_id)
        except Exception:
            logger.warning("media cascade: session %s: could not leave the registry", session_id, exc_info=True)

    def publications_changed(self, session_id: int) -> None:
        for peer in list(self.peers_of.get(session_id, ())):
            self._announce(session_id, peer)

    def _serve(self, session_id: int, peer: str) -> None:
        self.peers_of[session_id].add(peer)
        self._announce(session_id, peer)

    def _announce(self, session_id: int, peer: str) -> None:
        """Tell `peer` which of this worker's publications of the session exist now."""
        link = self.links.get(peer)
        room = self.sfu.get_room(str(session_id))
        if link is None or room is None:
            return
        local = {pub.track_id: pub for pub in room.local_publications() if not pub.forwarder.closed}
        announced = self._announced[(session_id, peer)]
        gone = sorted(announced - set(local))
        if gone:
            link.send_control({"op": "unpub", "session": session_id, "tracks": gone})
            announced.difference_update(gone)
        for track_id, pub in local.items():
            if track_id in announced:
                continue
            link.send_control({"op": "pub", "session": session_id, "track": track_id, "publisher": pub.publisher_id,
                               "kind": pub.kind, "source": pub.source})
            announced.add(track_id)
            self._relay(session_id, pub)
            if pub.kind == "video":
                pub.request_keyframe()  # the new worker's subscribers start at a keyframe

    def _relay(self, session_id: int, pub: "Publication") -> None:
        """Send the publication's frames to every peer it is announced to: one encoding, one send each."""
        if pub.track_id in self._relaying:
            return
        self._relaying.add(pub.track_id)
        video = pub.kind == "video"
        forwarder = pub.forwarder

        def observe(frame: TappedFrame) -> None:
            peers = [peer for peer in self.peers_of.get(session_id, ()) if pub.track_id in self._announced.get((session_id, peer), ())]
            if not peers or frame.mime_type not in CODECS:
                return
            relayed = RelayedFrame(session_id, pub.track_id, frame.mime_type, frame.audio_level,
                                   int(frame.packet.pts or 0), bytes(frame.packet))
            encoded = encode_frame(relayed)
            keyframe = forwarder.last_was_keyframe if video else True
            for peer in peers:
                link = self.links.get(peer)
                if link is not None:
                    link.send_frame(relayed, keyframe=keyframe, video=video, encoded=encoded)

        forwarder.observers.append(observe)

    # ------------------------------------------------------------- receiving

    def _on_message(self, link: Link, kind: int, payload: bytes) -> None:
        if kind == FRAME:
            self._on_frame(link, payload)
        elif kind == CONTROL:
            import json

            try:
                message = json.loads(payload[1:])
                session_id = int(message["session"])
                op = str(message["op"])
            except (ValueError, KeyError, TypeError):
                logger.warning("media cascade: malformed control from %s", link.peer_id)
                return
            self._on_control(link, op, session_id, message)

    def _on_control(self, link: Link, op: str, session_id: int, message: dict[str, Any]) -> None:
        peer = link.peer_id
        room = self.sfu.get_room(str(session_id))
        if op == "join":
            if room is None:
                link.send_control({"op": "leave", "session": session_id})
                return
            room.on_publications_changed = lambda: self.publications_changed(session_id)
            self._serve(session_id, peer)
        elif op == "leave":
            self.peers_of.get(session_id, set()).discard(peer)
            self._announced.pop((session_id, peer), None)
            if room is not None:
                room.remove_relayed_publications(origin=peer)
        elif op == "pub":
            if room is None or peer not in self.peers_of.get(session_id, ()):
                return
            track_id = str(message.get("track", ""))[:64]
            room.add_relayed_publication(
                origin=peer, publisher_id=str(message.get("publisher", ""))[:24], track_id=track_id,
                kind=str(message.get("kind", "")), source=str(message.get("source", "")),
                request_keyframe=lambda: self._request_keyframe(peer, session_id, track_id),
            )
        elif op == "unpub":
            if room is not None:
                tracks = message.get("tracks")
                room.remove_relayed_publications(origin=peer, track_ids=[str(t) for t in tracks] if isinstance(tracks, list) else [])
        elif op == "pli":
            if room is None or peer not in self.peers_of.get(session_id, ()):
                return
            track_id = str(message.get("track", ""))
            pub = next((p for p in room.local_publications() if p.track_id == track_id), None)
            if pub is not None:
                pub.request_keyframe()

    def _on_frame(self, link: Link, payload: bytes) -> None:
        try:
            frame = decode_frame(payload)
        except ValueError:
            logger.warning("media cascade: malformed frame from %s", link.peer_id)
            return
        room = self.sfu.get_room(str(frame.session_id))
        pub = room.relayed_publication(frame.track_id) if room is not None else None
        if pub is None or pub.origin != link.peer_id:
            return  # a session or track we do not relay from this worker: dropped
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.dts = frame.timestamp
        packet.time_base = _TIME_BASES[frame.mime_type]
        pub.forwarder.push(TappedFrame(
            packet=packet, mime_type=frame.mime_type, ssrc=zlib.crc32(frame.track_id.encode()),
            audio_level=frame.audio_level, arrival=time.perf_counter(),
        ))

    def _request_keyframe(self, peer: str, session_id: int, track_id: str) -> None:
        now = time.monotonic()
        if now - self._last_pli.get(track_id, -1e9) < PLI_INTERVAL:
            return
        self._last_pli[track_id] = now
        link = self.links.get(peer)
        if link is not None:
            link.send_control({"op": "pli", "session": session_id, "track": track_id})

    # ----------------------------------------------------------------- links

    async def _is_registered(self, worker_id: str) -> bool:
        return worker_id != self.worker_id and await self.registry.worker(worker_id) is not None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = await self.ends.accept(reader, writer)
        if link is not None:
            self._adopt(link)

    async def _link_to(self, peer: str) -> Link | None:
        """The link to `peer`, dialled if there is none; None if it cannot be reached."""
        async with self._dial_locks[peer]:
            link = self.links.get(peer)
            if link is not None and not link.closed:
                return link
            info = await self.registry.worker(peer)
            if info is None or not info.link:
                return None
            host, _sep, port = info.link.rpartition(":")
            try:
                link = await self.ends.dial(peer, host, int(port))
            except (HandshakeRefused, OSError, TimeoutError, ValueError) as exc:
                logger.warning("media cascade: no link to worker %s at %s: %s", peer, info.link, exc)
                return None
            self._adopt(link)
            return link

    def _adopt(self, link: Link) -> None:
        previous = self.links.get(link.peer_id)
        self.links[link.peer_id] = link
        if previous is not None and previous is not link:
            previous.close()
        task = asyncio.ensure_future(self._run(link))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        logger.info("media cascade: worker %s linked to %s", self.worker_id, link.peer_id)

    async def _run(self, link: Link) -> None:
        await link.run()
        if self.links.get(link.peer_id) is not link:
            return  # replaced by a newer link to the same worker
        del self.links[link.peer_id]
        lost = []
        for session_id, peers in list(self.peers_of.items()):
            if link.peer_id in peers:
                peers.discard(link.peer_id)
                self._announced.pop((session_id, link.peer_id), None)
                lost.append(session_id)
            room = self.sfu.get_room(str(session_id))
            if room is not None:
                room.remove_relayed_publications(origin=link.peer_id)
        logger.warning("media cascade: link to worker %s ended (%d shared session(s))", link.peer_id, len(lost))
        if self._on_peer_lost is not None:
            try:
                await self._on_peer_lost(link.peer_id, lost)
            except Exception:
                logger.exception("media cascade: handling the loss of %s failed", link.peer_id)

    async def peer_reachable(self, peer: str) -> bool:
        """Whether the peer's link port still accepts connections (False: its process is gone)."""
        info = await self.registry.worker(peer)
        if info is None or not info.link:
            return False
        host, _sep, port = info.link.rpartition(":")
        try:
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1.0)
        except (OSError, TimeoutError, ValueError):
            return False
        writer.close()
        return True

    def describe(self) -> dict[str, Any]:
        """For /healthz details and logs."""
        from dataclasses import asdict

        return {"address": self.address, "links": sorted(self.links),
                "sessions": {str(s): sorted(p) for s, p in self.peers_of.items() if p}, **asdict(self.counters)}
