"""Media fan-out capacity: the OpenRounds SFU against aiortc's MediaRelay, on one core.

(One long script on purpose: a benchmark is read and run as one piece.)

Run: ``.venv/bin/python bench/media_fanout.py`` (loopback only, about 10-15
minutes, never more than ``--max-minutes``; ``--quick`` checks that it works
in about two minutes).

What one run measures, for the SFU (``sessions.media.MediaRoom``) and for
aiortc's stock ``MediaRelay`` (decode once, encode per subscriber), each for
video (pre-encoded VP8 640x480 15 fps, ~1 Mbit/s) and audio (Opus 20 ms):

* server CPU per forwarded stream (the server process's CPU time from /proc,
  all threads, above the publisher-only level, divided by the subscribers);
* the most subscribers one core serves with at least 99% of the frames the
  publisher sent delivered complete to every subscriber: subscribers are
  added in steps until a step falls under 99%, or the server's core is
  saturated;
* the latency the server adds: from the kernel's arrival time of the
  publisher's packet that completes a frame to the moment the server has
  handed that frame's last packet to a subscriber's socket, for a few probe
  subscribers spread over the join order.

Why it can run on a 2-core machine: the server is pinned to core 0; the
publisher and every subscriber run on the other core(s).  A subscriber is a
real aiortc peer connection (ICE with consent checks, the DTLS handshake, SRTP
keys; the server's RTCP is decrypted and handled as usual), but the RTP it
receives is counted at the socket and never decrypted,
parsed or buffered: the RTP header is in clear in SRTP, so the sequence number,
timestamp and marker bit tell which frames arrived complete.  A decrypting
Python subscriber costs about as much CPU as the server spends on it, so the
clients, not the server, ran out of CPU first; a counting one costs a few
microseconds per packet.  Each step checks that the clients' core was not
saturated, so a figure is never the clients' limit reported as the server's.

Frames delivered are counted exactly: before each measuring window the
publisher pauses until every subscriber's counters stop moving, so the window
holds exactly the frames the publisher sent in it.  A frame counts as
delivered if it is complete at the subscriber at most ``--grace`` (0.5 s)
after the publisher stopped: a server that falls behind and queues (as
MediaRelay does, without bound) fails the step even if the frames arrive
seconds later.  Frames that come later are reported apart ("lateFr").
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import fcntl
import fractions
import io
import json
import math
import multiprocessing
import os
import pstats
import re
import select
import socket
import statistics
import struct
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402

from sessions.media import MediaConfig, MediaRoom  # noqa: E402
from sessions.media.tap import EncodedPacketTrack, IceRestriction, restrict_ice  # noqa: E402

LOOPBACK = IceRestriction(("127.0.0.1",))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SIOCGSTAMPNS = 0x8907  # linux/sockios.h: receive time of the last datagram read from a socket
DELIVERY_AIM = 99.0
SATURATED_CPU = 95.0  # % of one core: the server's core is full
CLIENTS_SATURATED = 95.0  # % busy of the clients' core(s): the figure would be the clients' limit
AIMS = {"video_per_core": 250, "audio_per_core": 300, "relay_ratio": 20.0, "latency_p50_ms": 20.0}


# ------------------------------------------------------------------ media


def encode_clip(kind: str, seconds: int) -> list[bytes]:
    """A clip encoded once and looped by the publisher (video: keyframe every 2 s)."""
    if kind == "video":
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height, codec.pix_fmt = 640, 480, "yuv420p"
        codec.time_base = fractions.Fraction(1, 15)
        codec.bit_rate = 1_000_000
        codec.gop_size = 30
        codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0",
                         "minrate": "1000000", "maxrate": "1000000", "bufsize": "1000000"}
        frames: list[bytes] = []
        for i in range(15 * seconds):
            picture = av.VideoFrame(640, 480, "yuv420p")
            # Noise so the encoder spends its whole budget (~1 Mbit/s), as a camera does.
            size = picture.planes[0].buffer_size
            noisy = size // 12
            picture.planes[0].update(bytes([90]) * (size - noisy) + os.urandom(noisy))
            for plane in picture.planes[1:]:
                plane.update(bytes([110 + i % 30]) * plane.buffer_size)
            picture.pts = i
            frames += [bytes(p) for p in codec.encode(picture)]
        return frames
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    codec.bit_rate = 32000
    packets: list[bytes] = []
    for i in range(50 * seconds):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        samples = bytearray()
        for n in range(960):
            value = int(8000 * math.sin(2 * math.pi * (220 + i % 50) * (i * 960 + n) / 48000))
            samples += value.to_bytes(2, "little", signed=True) * 2
        frame.planes[0].update(bytes(samples))
        frame.sample_rate, frame.pts = 48000, i * 960
        packets += [bytes(p) for p in codec.encode(frame)]
    return packets


class LoopedClip:
    """Paces a pre-encoded clip in real time; can pause so a window holds whole frames.

    ``sent`` counts the frames handed to the publisher's sender, which
    packetises and sends each one at once.
    """

    def __init__(self, kind: str, data: list[bytes]) -> None:
        self.kind = kind
        self.data = data
        self.step, self.rate = (6000, 90000) if kind == "video" else (960, 48000)
        self.index = 0
        self.sent = 0
        self._start: float | None = None
        self._running = asyncio.Event()
        self._running.set()
        self.track = EncodedPacketTrack(kind, self.next_packet)

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._start = None  # pace from now on, no burst to catch up
        self._running.set()

    async def next_packet(self) -> av.Packet:
        while True:
            await self._running.wait()
            if self._start is None:
                self._start = time.monotonic() - self.index * self.step / self.rate
            delay = self._start + self.index * self.step / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._running.is_set():
                break
        packet = av.Packet(self.data[self.index % len(self.data)])
        packet.pts = self.index * self.step
        packet.time_base = fractions.Fraction(1, self.rate)
        self.index += 1
        self.sent += 1
        return packet


def media_payload_types(sdp: str) -> set[int]:
    """The RTP payload types of VP8 and Opus in ``sdp`` (not RTX: nothing is NACKed here)."""
    return {int(pt) for pt in re.findall(r"a=rtpmap:(\d+) (?:VP8|opus)/", sdp, flags=re.IGNORECASE)}


def ice_connections(pc: RTCPeerConnection) -> list[Any]:
    """The aioice connections of ``pc`` (one with BUNDLE), to reach their UDP protocols."""
    found: dict[int, Any] = {}
    transports = [t.receiver.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        transports.append(pc.sctp.transport)
    for dtls in transports:
        connection = dtls.transport.iceGatherer._connection
        found[id(connection)] = connection
    return list(found.values())


def is_rtp(data: bytes) -> bool:
    """SRTP (not SRTCP, STUN or DTLS) by RFC 7983's first byte and RFC 5761's payload types."""
    return 127 < data[0] < 192 and not 192 <= data[1] <= 208


# ------------------------------------------------------------------ server process


def read_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def read_core_jiffies() -> dict[int, tuple[int, int]]:
    """Per core: (busy, total) jiffies since boot, busy counting irq, softirq and steal."""
    cores: dict[int, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *values = line.split()
            user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in values[:8])
            total = user + nice + system + idle + iowait + irq + softirq + steal
            cores[int(name[3:])] = (total - idle - iowait, total)
    return cores


def core_busy_percent(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]],
                      cores: Iterable[int]) -> float:
    busy = sum(after[c][0] - before[c][0] for c in cores)
    total = sum(after[c][1] - before[c][1] for c in cores)
    return 100.0 * busy / total if total else 0.0


class LatencyProbe:
    """Server side: publisher packet in -> the same frame's packet out to a probe subscriber.

    In: the kernel's receive timestamp (SIOCGSTAMPNS) of the publisher's
    datagram that completes a frame (video: the marker packet; audio: every
    packet), keyed by its RTP timestamp, which is in clear in SRTP.  It
    includes any time the datagram waited in the socket for a busy event loop.
    Out: after the probe subscriber's sender handed the frame's last packet to
    its socket (SRTP protect and ``sendto`` done).  The sender's frame carries
    the publisher's RTP timestamp minus the first one the server's receiver saw
    (aiortc's ``TimestampMapper``; the SFU forwards pts unchanged, the relay's
    video decoder copies it), so adding that origin back matches the two ends.
    The relay's audio encoder makes its own timestamps: no latency for it.
    Only probe subscribers are instrumented, so the others cost exactly what
    they cost.
    """

    def __init__(self, kind: str) -> None:
        self.video = kind == "video"
        self.arrivals: dict[int, float] = {}
        self.sending: dict[int, int] = {}  # outgoing SSRC -> publisher RTP timestamp of its current frame
        self.samples: list[float] = []
        self.recording = False
        self._mapper: Any = None

    def watch_publisher(self, pc: RTCPeerConnection) -> None:
        receiver = pc.getTransceivers()[0].receiver
        self._mapper = getattr(receiver, "_RTCRtpReceiver__timestamp_mapper", None)
        for connection in ice_connections(pc):
            for protocol in connection._protocols:
                self._watch_socket(protocol)

    def _watch_socket(self, protocol: Any) -> None:
        sock = protocol.transport.get_extra_info("socket")
        fd = sock.fileno()
        try:
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_TIMESTAMPNS", 35), 1)  # stamp every datagram
        except OSError:
            pass
        original = protocol.datagram_received
        arrivals = self.arrivals
        video = self.video

        def datagram_received(data: bytes, addr: Any) -> None:
            if is_rtp(data) and (data[1] & 0x80 or not video):
                arrivals[int.from_bytes(data[4:8], "big")] = _kernel_arrival(fd)
                if len(arrivals) > 4096:
                    del arrivals[next(iter(arrivals))]
            original(data, addr)

        protocol.datagram_received = datagram_received

    def watch_subscriber(self, pc: RTCPeerConnection) -> None:
        for transceiver in pc.getTransceivers():
            sender = transceiver.sender
            if sender.track is None or getattr(sender, "_bench_probe", False):
                continue
            sender._bench_probe = True
            self._watch_sender(sender)
            transport = sender.transport
            if not getattr(transport, "_bench_probe", False):
                transport._bench_probe = True
                self._watch_transport(transport)

    def _watch_sender(self, sender: Any) -> None:
        original = sender._next_encoded_frame
        ssrc = sender._ssrc
        sending = self.sending

        async def next_encoded_frame(codec: Any) -> Any:
            frame = await original(codec)
            origin = getattr(self._mapper, "_origin", None)
            if frame is not None and origin is not None:
                sending[ssrc] = (frame.timestamp + origin) & 0xFFFFFFFF
            return frame

        sender._next_encoded_frame = next_encoded_frame

    def _watch_transport(self, transport: Any) -> None:
        original = transport._send_rtp

        async def send_rtp(data: bytes) -> None:
            await original(data)
            if not self.recording or 192 <= data[1] <= 208 or (self.video and not data[1] & 0x80):
                return
            published = self.sending.get(int.from_bytes(data[8:12], "big"))
            arrived = self.arrivals.get(published) if published is not None else None
            if arrived is not None and len(self.samples) < 500_000:
                self.samples.append(time.monotonic() - arrived)

        transport._send_rtp = send_rtp


def _kernel_arrival(fd: int) -> float:
    """When the kernel received the last datagram read from ``fd``, on the monotonic clock."""
    try:
        seconds, nanoseconds = struct.unpack("qq", fcntl.ioctl(fd, SIOCGSTAMPNS, bytes(16)))
    except OSError:
        return time.monotonic()
    return seconds + nanoseconds / 1e9 - (time.time() - time.monotonic())


def serve(conn: Connection, mode: str, kind: str, extra: tuple[Connection, ...], cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)  # what `taskset -c 0` does
    asyncio.run(_serve(conn, mode, kind, extra))


async def _serve(conn: Connection, mode: str, kind: str, extra: tuple[Connection, ...]) -> None:
    """Serve signalling requests from the main pipe and the client processes' pipes."""
    loop = asyncio.get_running_loop()
    owner: dict[str, Connection] = {}
    room = MediaRoom(
        "bench",
        config=MediaConfig(ice_host_addresses=("127.0.0.1",), max_subscribed_tracks=4),
        on_signal=lambda pid, message: owner.get(pid, conn).send(("signal", pid, message)),
    )
    relay = MediaRelay()
    relay_pcs: list[RTCPeerConnection] = []
    published: list[Any] = []
    probe = LatencyProbe(kind)
    probe_ids: set[str] = set()
    profiler: cProfile.Profile | None = None
    stop = asyncio.Event()
    lock = asyncio.Lock()

    async def pump(link: Connection) -> None:
        executor = ThreadPoolExecutor(1)  # one blocking reader per pipe
        while not stop.is_set():
            try:
                request = await loop.run_in_executor(executor, link.recv)
            except EOFError:
                return
            if request[0] in ("offer", "relay_offer"):
                owner[request[1]] = link
            async with lock:
                await handle(link, *request)

    async def handle(link: Connection, op: str, *args: Any) -> None:
        nonlocal profiler
        try:
            if op == "offer":
                pid, sdp, publish = args
                answer = await room.handle_offer(pid, sdp, may_publish=publish)
                if publish:
                    probe.watch_publisher(room.peer_connection(pid))
                link.send(("reply", answer))
            elif op == "subscribe":
                pid, publisher, kinds, is_probe = args
                if is_probe:
                    probe_ids.add(pid)
                await room.subscribe(pid, publisher, kinds)
                link.send(("reply", None))
            elif op == "answer":
                pid, sdp = args
                await room.handle_answer(pid, sdp)
                if pid in probe_ids:
                    probe.watch_subscriber(room.peer_connection(pid))
                link.send(("reply", None))
            elif op == "relay_offer":
                pid, sdp, publish, is_probe = args
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                relay_pcs.append(pc)
                pc.on("track", published.append)
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                if not publish:
                    for track in published:
                        pc.addTrack(relay.subscribe(track))
                restrict_ice(pc, LOOPBACK)
                await pc.setLocalDescription(await pc.createAnswer())
                if publish:
                    probe.watch_publisher(pc)
                elif is_probe and kind == "video":
                    probe.watch_subscriber(pc)
                link.send(("reply", pc.localDescription.sdp))
            elif op == "latency":
                (action,) = args
                if action == "start":
                    probe.samples.clear()
                    probe.recording = True
                    link.send(("reply", None))
                else:
                    probe.recording = False
                    link.send(("reply", list(probe.samples)))
            elif op == "profile":
                action, path = args
                if action == "start":
                    profiler = cProfile.Profile()
                    profiler.enable()
                    link.send(("reply", None))
                else:
                    assert profiler is not None
                    profiler.disable()
                    profiler.dump_stats(path)
                    text = io.StringIO()
                    stats = pstats.Stats(profiler, stream=text)
                    stats.sort_stats("tottime").print_stats(25)
                    stats.sort_stats("cumulative").print_stats(30)
                    link.send(("reply", text.getvalue()))
            elif op == "stop":
                await room.close()
                for pc in relay_pcs:
                    await asyncio.wait_for(pc.close(), 5)
                link.send(("reply", None))
                stop.set()
        except Exception as exc:  # the bench must report, not hang (and MediaError does not unpickle)
            link.send(("reply", RuntimeError(repr(exc))))

    pumps = [asyncio.ensure_future(pump(link)) for link in (conn, *extra)]
    await stop.wait()
    for task in pumps:
        task.cancel()


# ------------------------------------------------------------------ client side


class ServerLink:
    """Request/reply over a pipe to the server, with server signals handled on the side."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()
        self.replies: asyncio.Queue[Any] = asyncio.Queue()
        self.on_signal: Callable[[str, dict[str, Any]], Any] = self._ignore
        self.stopping = False
        self.reader = asyncio.ensure_future(self._read())

    @staticmethod
    async def _ignore(pid: str, message: dict[str, Any]) -> None:
        return None

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(1)
        while True:
            try:
                kind, *rest = await loop.run_in_executor(executor, self.conn.recv)
            except (EOFError, OSError):
                return
            if kind == "signal":
                asyncio.ensure_future(self.on_signal(*rest))
            else:
                await self.replies.put(rest[0])
                if rest[0] is None and self.stopping:
                    return

    async def call(self, *request: Any, timeout: float = 60.0) -> Any:
        async with self.lock:
            self.conn.send(request)
            reply = await asyncio.wait_for(self.replies.get(), timeout)
        if isinstance(reply, Exception):
            raise reply
        return reply


class CountingSubscriber:
    """A subscriber whose peer connection is real but whose RTP is only counted.

    ICE, the DTLS handshake, SRTP keys and RTCP (sender reports, keyframe
    requests) all go through aiortc.  RTP datagrams are taken off the socket
    before aiortc sees them: they are never decrypted, parsed or put in a jitter
    buffer.  From the clear RTP header: a video frame is delivered when its
    marker packet arrives and no sequence number is missing since the previous
    frame's marker (a gap spoils the frame being received, which undercounts
    by at most one frame per gap); every audio packet is a frame.
    """

    def __init__(self, link: ServerLink, pid: str, kind: str, relay: bool, probe: bool) -> None:
        self.link, self.id, self.kind, self.relay, self.probe = link, pid, kind, relay, probe
        self.video = kind == "video"
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.payload_types: set[int] = set()
        self.frames = 0
        self.packets = 0
        self.lost_packets = 0
        self.late_packets = 0
        self._sequence: int | None = None
        self._timestamp = b""
        self._frame_intact = False
        self.protocols: list[Any] = []  # the UDP protocols whose RTP is counted

    def count(self, data: bytes) -> None:
        sequence = (data[2] << 8) | data[3]
        gap = 1 if self._sequence is None else (sequence - self._sequence) & 0xFFFF
        if gap == 0 or gap >= 0x8000:
            self.late_packets += 1  # duplicate or reordered: never on loopback so far
            return
        self._sequence = sequence
        self.packets += 1
        if gap > 1:
            self.lost_packets += gap - 1
        if not self.video:
            self.frames += 1
            return
        timestamp = data[4:8]
        if timestamp != self._timestamp:
            self._timestamp = timestamp
            self._frame_intact = True
        if gap > 1:
            self._frame_intact = False
        if data[1] & 0x80:
            if self._frame_intact:
                self.frames += 1
            self._frame_intact = False

    def _count_at_socket(self) -> None:
        """Take RTP off every UDP socket of the peer connection, before decryption."""
        payload_types = self.payload_types
        count = self.count
        for connection in ice_connections(self.pc):
            for protocol in connection._protocols:
                if getattr(protocol, "_bench_counting", False):
                    continue
                protocol._bench_counting = True
                original = protocol.datagram_received

                def datagram_received(data: bytes, addr: Any, original: Any = original) -> None:
                    if 127 < data[0] < 192:
                        second = data[1]
                        if second < 192 or second > 208:
                            if second & 0x7F in payload_types:
                                count(data)
                            return
                    original(data, addr)  # STUN, DTLS, SRTCP: aiortc as usual

                protocol.datagram_received = datagram_received
                self.protocols.append(protocol)

    async def join(self, publisher: str) -> None:
        if self.relay:
            self.pc.addTransceiver(self.kind, direction="recvonly")
        else:
            self.pc.createDataChannel("control")
        restrict_ice(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self._count_at_socket()
        if self.relay:
            answer = await self.link.call("relay_offer", self.id, self.pc.localDescription.sdp, False, self.probe)
        else:
            answer = await self.link.call("offer", self.id, self.pc.localDescription.sdp, False)
        self.payload_types.update(media_payload_types(answer))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        if not self.relay:
            await self.link.call("subscribe", self.id, publisher, [self.kind], self.probe)

    async def on_offer(self, sdp: str) -> None:
        self.payload_types.update(media_payload_types(sdp))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        restrict_ice(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self._count_at_socket()
        await self.link.call("answer", self.id, self.pc.localDescription.sdp)

    def counters(self) -> tuple[int, int, int, int]:
        return self.frames, self.packets, self.lost_packets, self.late_packets


class BatchReader:
    """Reads connected subscribers' sockets every few milliseconds, in batches.

    asyncio wakes up, dispatches a callback and reads once for every
    datagram; at tens of thousands of datagrams a second that alone cost the
    clients' core about as much CPU as the server spent sending them.  Once a
    subscriber receives media, its sockets leave asyncio's selector and are
    drained here from one epoll: each ready socket is read until empty, RTP is
    counted and anything else (STUN consent checks, SRTCP) still goes to
    aiortc, at most ``interval`` later.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self._epoll = select.epoll()
        self._sockets: dict[int, tuple[socket.socket, Callable[[bytes, Any], None]]] = {}
        self._task = asyncio.ensure_future(self._run())

    def adopt(self, protocol: Any) -> None:
        transport = protocol.transport
        sock = getattr(transport, "_sock", None)  # asyncio's private socket of the transport
        if sock is None or transport.is_closing():
            return
        fd = sock.fileno()
        if fd in self._sockets:
            return
        asyncio.get_running_loop()._remove_reader(fd)
        self._epoll.register(fd, select.EPOLLIN)
        self._sockets[fd] = (sock, protocol.datagram_received)

    def release_all(self) -> None:
        """Hand every socket back before the peer connections close them."""
        self._task.cancel()
        for fd in self._sockets:
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass
        self._sockets.clear()

    async def _run(self) -> None:
        sockets = self._sockets
        while True:
            await asyncio.sleep(self.interval)
            for fd, _ in self._epoll.poll(0):
                sock, handle = sockets[fd]
                receive = sock.recvfrom
                try:
                    while True:
                        data, addr = receive(2048)
                        handle(data, addr)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    self._epoll.unregister(fd)
                    del sockets[fd]


def client_process(server: Connection, control: Connection, kind: str, mode: str,
                   cpus: set[int] | None, niceness: int) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    os.nice(niceness)  # the publisher (main process) shares these cores and must keep its pace
    asyncio.run(_client_process(server, control, kind, mode))


async def _client_process(server: Connection, control: Connection, kind: str, mode: str) -> None:
    """Holds some of the subscribers; obeys the main process over ``control``."""
    loop = asyncio.get_running_loop()
    link = ServerLink(server)
    subscribers: dict[str, CountingSubscriber] = {}

    async def on_signal(pid: str, message: dict[str, Any]) -> None:
        if message["type"] == "media.offer" and pid in subscribers:
            try:
                await subscribers[pid].on_offer(message["sdp"])
            except Exception as exc:
                print(f"subscriber {pid}: answer failed: {exc!r}", file=sys.stderr, flush=True)

    async def join(subscriber: CountingSubscriber) -> None:
        try:
            await asyncio.wait_for(subscriber.join("pub"), 60)
        except Exception as exc:
            print(f"subscriber {subscriber.id}: join failed: {exc!r}", file=sys.stderr, flush=True)

    link.on_signal = on_signal
    batch = BatchReader()
    reader = ThreadPoolExecutor(1)
    while True:
        op, *args = await loop.run_in_executor(reader, control.recv)
        if op == "join":
            (wanted,) = args
            new = []
            for pid, is_probe in wanted:
                subscribers[pid] = CountingSubscriber(link, pid, kind, mode == "relay", is_probe)
                new.append(subscribers[pid])
            for start in range(0, len(new), 8):  # a few handshakes at a time
                await asyncio.gather(*(join(s) for s in new[start:start + 8]))
            deadline = time.monotonic() + 40
            while any(s.frames < 3 for s in new) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            for subscriber in new:
                if subscriber.frames >= 3:
                    for protocol in subscriber.protocols:
                        batch.adopt(protocol)
            control.send(sum(1 for s in new if s.frames >= 3))
        elif op == "counters":
            control.send({pid: s.counters() for pid, s in subscribers.items()})
        elif op == "total":
            control.send(sum(s.frames + s.packets for s in subscribers.values()))
        elif op == "stop":
            batch.release_all()
            await asyncio.gather(*(asyncio.wait_for(s.pc.close(), 10) for s in subscribers.values()),
                                 return_exceptions=True)
            control.send(None)
            return


# ------------------------------------------------------------------ one ramp


@dataclass
class Step:
    mode: str
    kind: str
    subscribers: int
    ready: int
    seconds: float
    frames_sent: int
    idle_cpu: float
    server_cpu: float
    per_stream: float
    delivered_min: float
    delivered_mean: float
    frames_lost: int
    frames_late: int
    lost_packets: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_samples: int
    server_core_busy: float
    client_core_busy: float
    client_cpu: float
    others_cpu: float
    load1: float
    join_seconds: float = 0.0
    verdict: str = ""


@dataclass
class Ramp:
    mode: str
    kind: str
    steps: list[Step] = field(default_factory=list)
    note: str = ""

    @property
    def passing(self) -> list[Step]:
        return [s for s in self.steps if s.verdict.startswith("pass")]

    @property
    def capacity(self) -> int:
        return max((s.subscribers for s in self.passing), default=0)

    def per_stream_fit(self) -> float | None:
        """Server CPU per added stream: least-squares slope through the idle point and passing steps."""
        points = [(0, self.steps[0].idle_cpu)] if self.steps else []
        points += [(s.subscribers, s.server_cpu) for s in self.passing]
        if len(points) < 2:
            return None
        mean_x = statistics.mean(x for x, _ in points)
        mean_y = statistics.mean(y for _, y in points)
        spread = sum((x - mean_x) ** 2 for x, _ in points)
        return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else None


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


async def run_ramp(mode: str, kind: str, steps: list[int], clip_data: list[bytes], args: argparse.Namespace,
                   deadline: float) -> Ramp:
    """Add subscribers step by step on a server with one core until it stops keeping up."""
    spawn = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    ramp = Ramp(mode, kind)
    server_cpus, client_cpus = args.server_cpus, args.client_cpus
    parent, child = spawn.Pipe()
    client_links = [spawn.Pipe() for _ in range(args.client_processes)]
    server = spawn.Process(target=serve, args=(child, mode, kind, tuple(c for _, c in client_links), server_cpus),
                           daemon=True)
    server.start()
    link = ServerLink(parent)
    clip = LoopedClip(kind, clip_data)
    publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    publisher.addTrack(clip.track)
    restrict_ice(publisher, LOOPBACK)
    await publisher.setLocalDescription(await publisher.createOffer())
    offer = ("relay_offer", "pub", publisher.localDescription.sdp, True, False) if mode == "relay" else (
        "offer", "pub", publisher.localDescription.sdp, True)
    answer = await link.call(*offer)
    await publisher.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await asyncio.sleep(2.0)
    cpu0, t0 = read_cpu_seconds(server.pid), time.monotonic()
    await asyncio.sleep(3.0)
    idle = 100 * (read_cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)

    controls: list[Connection] = []
    clients: list[Any] = []
    for server_end, _ in client_links:
        mine, theirs = spawn.Pipe()
        process = spawn.Process(target=client_process,
                                args=(server_end, theirs, kind, mode, client_cpus, args.client_nice), daemon=True)
        process.start()
        clients.append(process)
        controls.append(mine)

    async def ask(control: Connection, *message: Any) -> Any:
        control.send(message)
        return await asyncio.wait_for(loop.run_in_executor(None, control.recv), 300)

    async def counters() -> dict[str, tuple[int, int, int, int]]:
        merged: dict[str, tuple[int, int, int, int]] = {}
        for part in await asyncio.gather(*(ask(c, "counters") for c in controls)):
            merged.update(part)
        return merged

    async def drain() -> None:
        """Wait until no subscriber's counters move: every frame sent is in, or lost."""
        last, still, end = -1, 0, time.monotonic() + args.drain_seconds
        while time.monotonic() < end:
            total = sum(await asyncio.gather(*(ask(c, "total") for c in controls)))
            still = still + 1 if total == last else 0
            if still >= 3:
                return
            last = total
            await asyncio.sleep(0.15)

    def client_cpu_seconds() -> float:
        return sum(read_cpu_seconds(p.pid) for p in clients) + read_cpu_seconds(os.getpid())

    joined = 0
    try:
        for count in steps:
            if time.monotonic() > deadline:
                ramp.note = f"stopped before {count} subscribers: --max-minutes reached"
                break
            wanted = [(f"s{i}", i % args.probe_every == 0) for i in range(joined, count)]
            shares = [wanted[i::len(controls)] for i in range(len(controls))]
            join_started = time.monotonic()
            ready_new = sum(await asyncio.gather(*(ask(c, "join", share) for c, share in zip(controls, shares) if share)))
            join_seconds = time.monotonic() - join_started
            ready = (ramp.steps[-1].ready if ramp.steps else 0) + ready_new
            joined = count
            await asyncio.sleep(1.0)  # let the joins' keyframe waits and handshakes finish

            clip.pause()
            await drain()
            before = await counters()
            load = load_average()
            await link.call("latency", "start")
            cores0, cpu0, clients0 = read_core_jiffies(), read_cpu_seconds(server.pid), client_cpu_seconds()
            sent0, t0 = clip.sent, time.monotonic()
            clip.resume()
            await asyncio.sleep(args.seconds)
            clip.pause()
            elapsed = time.monotonic() - t0
            cpu1, cores1, clients1 = read_cpu_seconds(server.pid), read_core_jiffies(), client_cpu_seconds()
            sent = clip.sent - sent0
            await asyncio.sleep(args.grace)
            in_time = await counters()  # what arrived at most `grace` after the publisher stopped
            await drain()
            latencies = await link.call("latency", "take")
            after = await counters()
            clip.resume()

            server_cpu = 100 * (cpu1 - cpu0) / elapsed
            client_cpu = 100 * (clients1 - clients0) / elapsed
            all_cores = sorted(cores1)
            total_busy = core_busy_percent(cores0, cores1, all_cores) * len(all_cores)
            received = [in_time[p][0] - before.get(p, (0,))[0] for p in in_time]
            if any(r > sent for r in received):  # a counting bug, not a result: say so
                print(f"warning: a subscriber counted {max(received)} frames of {sent} sent", file=sys.stderr)
            delivered = [min(1.0, r / max(1, sent)) for r in received]
            frames_lost = sum(max(0, sent - (in_time[p][0] - before.get(p, (0,))[0])) for p in in_time)
            frames_late = sum(after[p][0] - in_time.get(p, (0,))[0] for p in after)
            lost_packets = sum(after[p][2] - before.get(p, (0, 0, 0))[2] for p in after)
            p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
            step = Step(
                mode=mode, kind=kind, subscribers=count, ready=ready, seconds=round(elapsed, 2), frames_sent=sent,
                idle_cpu=idle, server_cpu=server_cpu, per_stream=max(0.0, server_cpu - idle) / count,
                delivered_min=100 * min(delivered, default=0.0), delivered_mean=100 * statistics.mean(delivered or [0]),
                frames_lost=frames_lost, frames_late=frames_late, lost_packets=lost_packets,
                latency_p50_ms=None if p50 is None else p50 * 1000, latency_p95_ms=None if p95 is None else p95 * 1000,
                latency_samples=len(latencies),
                server_core_busy=core_busy_percent(cores0, cores1, server_cpus or all_cores),
                client_core_busy=core_busy_percent(cores0, cores1, client_cpus or all_cores),
                client_cpu=client_cpu, others_cpu=max(0.0, total_busy - server_cpu - client_cpu), load1=load,
                join_seconds=round(join_seconds, 1),
            )
            clients_full = bool(client_cpus) and step.client_core_busy >= CLIENTS_SATURATED
            if publisher.connectionState != "connected":
                step.verdict = f"invalid: the publisher's connection is {publisher.connectionState} (server overloaded?)"
            elif step.ready < count or len(after) < count:
                step.verdict = f"invalid: {count - step.ready} subscribers never got media"
            elif step.delivered_min < DELIVERY_AIM:
                step.verdict = "clients saturated" if clients_full else "fail: under 99% delivered"
            elif clients_full:
                step.verdict = "pass, but clients saturated: stop"
            elif server_cpu >= SATURATED_CPU:
                step.verdict = "pass, server core saturated"
            else:
                step.verdict = "pass"
            ramp.steps.append(step)
            print_step(step)
            if args.profile_at and mode == "sfu" and kind == "video" and count == args.profile_at:
                await profile_server(link, args)
            if not step.verdict == "pass":
                break
        else:
            if ramp.steps and ramp.steps[-1].verdict == "pass":
                ramp.note = "every step passed: the capacity is at least the last step"
    finally:
        for control in controls:
            try:
                await ask(control, "stop")
            except Exception:
                pass
        link.stopping = True
        try:
            await link.call("stop", timeout=30)
        except Exception:
            pass
        for process in (server, *clients):
            process.join(10)
            if process.is_alive():
                process.kill()
        await publisher.close()
        link.reader.cancel()
    return ramp


async def profile_server(link: ServerLink, args: argparse.Namespace) -> None:
    """cProfile the server's event loop for one window (after the step's measurement, which it would distort)."""
    await link.call("profile", "start", args.profile_out)
    await asyncio.sleep(args.seconds)
    text = await link.call("profile", "stop", args.profile_out)
    print(f"--- server profile ({args.seconds:.0f} s, stats in {args.profile_out})\n{text}", flush=True)


# ------------------------------------------------------------------ report

HEADER = ("mode  kind  subs ready  idle%  srv%  %/strm  minDel% avgDel% lostFr lateFr  "
          "add p50/p95 ms   core0% core1%  cli%  oth%  load  join s  verdict")


def print_step(step: Step) -> None:
    latency = (f"{step.latency_p50_ms:.1f}/{step.latency_p95_ms:.1f}" if step.latency_p50_ms is not None else "n/a")
    print(
        f"{step.mode:5} {step.kind:5} {step.subscribers:4d} {step.ready:5d} {step.idle_cpu:5.1f} {step.server_cpu:5.1f} "
        f"{step.per_stream:7.3f} {step.delivered_min:7.2f} {step.delivered_mean:7.2f} {step.frames_lost:6d} "
        f"{step.frames_late:6d}  "
        f"{latency:>14}  {step.server_core_busy:6.1f} {step.client_core_busy:6.1f} {step.client_cpu:5.1f} "
        f"{step.others_cpu:5.1f} {step.load1:5.2f} {step.join_seconds:6.1f}  {step.verdict}",
        flush=True,
    )


def summarise(ramps: dict[tuple[str, str], Ramp], pinned: bool) -> list[str]:
    lines = ["", "=== summary (server on one core)" if pinned else "=== summary (NOT pinned: not a per-core figure)"]
    per_stream: dict[tuple[str, str], float | None] = {}
    for key, ramp in ramps.items():
        fit = ramp.per_stream_fit()
        per_stream[key] = fit
        capacity = ramp.capacity
        at = next((s for s in ramp.steps if s.subscribers == capacity), None)
        latency = (f", server adds p50 {at.latency_p50_ms:.1f} / p95 {at.latency_p95_ms:.1f} ms there"
                   if at and at.latency_p50_ms is not None else "")
        last = ramp.steps[-1] if ramp.steps else None
        stop = f"; stopped at {last.subscribers}: {last.verdict}" if last and last.verdict != "pass" else ""
        lines.append(
            f"{key[0]:5} {key[1]:5}: capacity {capacity} subscribers at >= 99% delivered"
            + (f" (server {at.server_cpu:.0f}% of its core)" if at else "")
            + (f"; {fit:.3f}% of a core per stream (fit)" if fit else "")
            + latency + stop + (f"; {ramp.note}" if ramp.note else "")
        )
    lines.append("aims:")
    for kind, aim in (("video", AIMS["video_per_core"]), ("audio", AIMS["audio_per_core"])):
        ramp = ramps.get(("sfu", kind))
        if ramp:
            lines.append(f"  {kind}: >= {aim} streams per core: {'met' if ramp.capacity >= aim else 'NOT met'}"
                         f" ({ramp.capacity})")
    for kind in ("video", "audio"):
        sfu, relay = per_stream.get(("sfu", kind)), per_stream.get(("relay", kind))
        if sfu and relay:
            ratio = relay / sfu
            capacities = ramps[("sfu", kind)].capacity, ramps[("relay", kind)].capacity
            cap_ratio = f", capacity {capacities[0]} vs {capacities[1]}" if capacities[1] else ""
            lines.append(f"  {kind}: >= {AIMS['relay_ratio']:.0f}x MediaRelay per stream: "
                         f"{'met' if ratio >= AIMS['relay_ratio'] else 'NOT met'} ({ratio:.1f}x{cap_ratio})")
    for kind, aim in (("video", AIMS["video_per_core"]), ("audio", AIMS["audio_per_core"])):
        ramp = ramps.get(("sfu", kind))
        if not ramp or not ramp.capacity:
            continue
        # The aim's operating point (250 video, 300 audio) and the capacity, where they differ.
        points = [s for s in ramp.passing if s.subscribers in (aim, ramp.capacity) and s.latency_p50_ms is not None]
        for at in points:
            ok = at.latency_p50_ms < AIMS["latency_p50_ms"]
            lines.append(f"  {kind}: server adds < {AIMS['latency_p50_ms']:.0f} ms at p50 (at {at.subscribers} "
                         f"subscribers): {'met' if ok else 'NOT met'} ({at.latency_p50_ms:.1f} ms, "
                         f"p95 {at.latency_p95_ms:.1f} ms)")
    return lines


def parse_steps(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video-steps", default="50,100,150,200,250,300,350,400,450,500",
                        help="SFU video subscriber counts to ramp through")
    parser.add_argument("--audio-steps", default="100,200,300,350,400,450,500,600")
    parser.add_argument("--relay-video-steps", default="4,8,12,16,20,25,30,40")
    parser.add_argument("--relay-audio-steps", default="4,8,12,16,20,25,30,40,50")
    parser.add_argument("--only", default="sfu-video,sfu-audio,relay-video,relay-audio",
                        help="which ramps to run, in this order")
    parser.add_argument("--seconds", type=float, default=15.0, help="measuring window per step")
    parser.add_argument("--grace", type=float, default=0.5,
                        help="a frame that arrives later than this after the window counts as not delivered")
    parser.add_argument("--drain-seconds", type=float, default=4.0,
                        help="longest wait for late frames (counted apart) before the next window")
    parser.add_argument("--client-processes", type=int, default=3)
    parser.add_argument("--client-nice", type=int, default=5)
    parser.add_argument("--probe-every", type=int, default=25,
                        help="every n-th subscriber (by join order) is a latency probe")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server and clients to cores")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="no new step starts after this")
    parser.add_argument("--quick", action="store_true", help="small steps, short windows: does it work?")
    parser.add_argument("--profile-at", type=int, default=0,
                        help="after the SFU video step with this many subscribers, cProfile the server for a window")
    parser.add_argument("--profile-out", default="/tmp/media_fanout_server.prof")
    parser.add_argument("--json", default="", help="also write every step to this file")
    args = parser.parse_args()
    if args.quick:
        args.video_steps, args.audio_steps = "5,10", "5,10"
        args.relay_video_steps = args.relay_audio_steps = "2,4"
        args.seconds, args.probe_every = 4.0, 3

    cpus = sorted(os.sched_getaffinity(0))
    if args.no_pin or len(cpus) < 2:
        args.server_cpus = args.client_cpus = None
    else:
        args.server_cpus, args.client_cpus = {cpus[0]}, set(cpus[1:])
        os.sched_setaffinity(0, args.client_cpus)  # the publisher is a client too
    deadline = time.monotonic() + args.max_minutes * 60

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")
    print(f"machine: {os.cpu_count()} cores, {model}; load average before: "
          f"{Path('/proc/loadavg').read_text().strip()}")
    print(f"server on cores {sorted(args.server_cpus) if args.server_cpus else 'any'}, publisher and "
          f"{args.client_processes} subscriber processes on {sorted(args.client_cpus) if args.client_cpus else 'any'}; "
          f"window {args.seconds:.0f} s per step; a step passes when every subscriber got >= 99% of the frames, "
          f"arrived at most {args.grace:g} s after the window")
    clips = {"video": encode_clip("video", 4), "audio": encode_clip("audio", 2)}
    video_kbps = sum(len(f) for f in clips["video"]) * 8 / 4 / 1000
    print(f"clip: video {len(clips['video'])} frames ~{video_kbps:.0f} kbit/s, audio {len(clips['audio'])} packets")
    print(HEADER, flush=True)

    step_lists = {"sfu-video": args.video_steps, "sfu-audio": args.audio_steps,
                  "relay-video": args.relay_video_steps, "relay-audio": args.relay_audio_steps}
    ramps: dict[tuple[str, str], Ramp] = {}
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        mode, kind = name.split("-")
        ramps[(mode, kind)] = await run_ramp(mode, kind, parse_steps(step_lists[name]), clips[kind], args, deadline)
    lines = summarise(ramps, pinned=args.server_cpus is not None)
    print("\n".join(lines), flush=True)
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {f"{m}-{k}": {"steps": [asdict(s) for s in r.steps], "note": r.note, "capacity": r.capacity,
                          "per_stream_fit": r.per_stream_fit()} for (m, k), r in ramps.items()}, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
