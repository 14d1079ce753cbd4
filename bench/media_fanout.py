"""Server CPU per forwarded stream: the OpenRounds SFU against aiortc's MediaRelay.

Run: ``.venv/bin/python bench/media_fanout.py`` (about two minutes; loopback
only).  The server runs in its own process so its CPU time (all threads, from
/proc) is not mixed with the clients'.  One publisher sends pre-encoded media
(VP8 640x480 15 fps about 1 Mbit/s, or Opus 20 ms), so the client process
does not encode either; subscribers tap their receivers and never decode.

For each mode, media kind and subscriber count it prints: server CPU (% of
one core) above the idle publisher-only level, that divided per forwarded
stream, the share of frames every subscriber got, and for the SFU the
end-to-end latency of video frames (publisher hands a frame to its sender ->
the frame is complete at a subscriber, through the server, loopback).
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av  # noqa: E402
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402

from sessions.media import MediaConfig, MediaRoom  # noqa: E402
from sessions.media.tap import (  # noqa: E402
    EncodedPacketTrack,
    IceRestriction,
    TappedFrame,
    restrict_ice,
    tap_receiver,
)

LOOPBACK = IceRestriction(("127.0.0.1",))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ media


def encode_clip(kind: str, seconds: int) -> list[bytes]:
    """A clip encoded once, looped by the publisher (keyframe every 2 s)."""
    if kind == "video":
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height, codec.pix_fmt = 640, 480, "yuv420p"
        codec.time_base = fractions.Fraction(1, 15)
        codec.bit_rate = 1_000_000
        codec.gop_size = 30
        codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "minrate": "1000000", "maxrate": "1000000", "bufsize": "1000000"}
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
    import math

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
    """Paces a pre-encoded clip in real time and notes when each frame left."""

    def __init__(self, kind: str, data: list[bytes]) -> None:
        self.kind = kind
        self.data = data
        self.step, self.rate = (6000, 90000) if kind == "video" else (960, 48000)
        self.index = 0
        self.sent = 0
        self.sent_at: dict[int, float] = {}
        self.start: float | None = None
        self.track = EncodedPacketTrack(kind, self.next_packet)

    async def next_packet(self) -> av.Packet:
        if self.start is None:
            self.start = time.perf_counter()
        due = self.start + self.index * self.step / self.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        payload = self.data[self.index % len(self.data)]
        packet = av.Packet(payload)
        packet.pts = self.index * self.step
        packet.time_base = fractions.Fraction(1, self.rate)
        self.index += 1
        self.sent += 1
        self.sent_at[hash(payload)] = time.perf_counter()
        return packet


# ------------------------------------------------------------------ server process


def read_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def serve(conn: Connection, mode: str, extra: tuple[Connection, ...] = (), cpu: int | None = None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # the server gets exactly one core
    asyncio.run(_serve(conn, mode, extra))


async def _serve(conn: Connection, mode: str, extra: tuple[Connection, ...] = ()) -> None:
    """Serve requests from the main pipe and from client-process pipes (capacity mode)."""
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

    async def handle(conn: Connection, op: str, *args: Any) -> None:
        try:
            if op == "offer":
                pid, sdp, publish = args
                conn.send(("reply", await room.handle_offer(pid, sdp, may_publish=publish)))
            elif op == "answer":
                await room.handle_answer(*args)
                conn.send(("reply", None))
            elif op == "subscribe":
                await room.subscribe(*args)
                conn.send(("reply", None))
            elif op == "relay_offer":
                pid, sdp, publish = args
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                relay_pcs.append(pc)
                pc.on("track", published.append)
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                if not publish:
                    for track in published:
                        pc.addTrack(relay.subscribe(track))
                restrict_ice(pc, LOOPBACK)
                await pc.setLocalDescription(await pc.createAnswer())
                conn.send(("reply", pc.localDescription.sdp))
            elif op == "stop":
                await room.close()
                for pc in relay_pcs:
                    await pc.close()
                conn.send(("reply", None))
                stop.set()
        except Exception as exc:  # the bench must report, not hang (and MediaError does not unpickle)
            conn.send(("reply", RuntimeError(repr(exc))))

    pumps = [asyncio.ensure_future(pump(link)) for link in (conn, *extra)]
    await stop.wait()
    for task in pumps:
        task.cancel()


# ------------------------------------------------------------------ client side


class ServerLink:
    """Request/reply over the pipe, with server signals handled on the side."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()
        self.replies: asyncio.Queue[Any] = asyncio.Queue()
        self.on_signal: Callable[[str, dict[str, Any]], Any] = self._ignore
        self.reader = asyncio.ensure_future(self._read())

    @staticmethod
    async def _ignore(pid: str, message: dict[str, Any]) -> None:
        return None

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            kind, *rest = await loop.run_in_executor(None, self.conn.recv)
            if kind == "signal":
                asyncio.ensure_future(self.on_signal(*rest))
            else:
                await self.replies.put(rest[0])
                if rest[0] is None and getattr(self, "stopping", False):
                    return

    async def call(self, *request: Any) -> Any:
        async with self.lock:
            self.conn.send(request)
            reply = await self.replies.get()
        if isinstance(reply, Exception):
            raise reply
        return reply


class Subscriber:
    def __init__(self, link: ServerLink, pid: str, kind: str, clip: LoopedClip, relay: bool) -> None:
        self.link, self.id, self.kind, self.clip, self.relay = link, pid, kind, clip, relay
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frames = 0
        self.latencies: list[float] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: Any) -> None:
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
        tap_receiver(receiver, kind=track.kind, on_frame=self._on_frame, on_end=lambda: None)

    def _on_frame(self, frame: TappedFrame) -> None:
        self.frames += 1
        sent = self.clip.sent_at.get(hash(bytes(frame.packet)))
        if sent is not None and not self.relay:
            self.latencies.append(time.perf_counter() - sent)

    async def join(self, publisher: str) -> None:
        if self.relay:
            self.pc.addTransceiver(self.kind, direction="recvonly")
        else:
            self.pc.createDataChannel("control")
        restrict_ice(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        op = "relay_offer" if self.relay else "offer"
        answer = await self.link.call(op, self.id, self.pc.localDescription.sdp, False)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        if not self.relay:
            await self.link.call("subscribe", self.id, publisher, [self.kind])

    async def on_offer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        restrict_ice(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.link.call("answer", self.id, self.pc.localDescription.sdp)


async def run_case(mode: str, kind: str, count: int, clip_data: list[bytes], seconds: float) -> dict[str, Any]:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=serve, args=(child, mode), daemon=True)
    process.start()
    link = ServerLink(parent)
    relay = mode == "relay"
    clip = LoopedClip(kind, clip_data)
    subscribers: dict[str, Subscriber] = {}

    async def on_signal(pid: str, message: dict[str, Any]) -> None:
        if message["type"] == "media.offer" and pid in subscribers:
            await subscribers[pid].on_offer(message["sdp"])

    link.on_signal = on_signal
    publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    publisher.addTrack(clip.track)
    restrict_ice(publisher, LOOPBACK)
    await publisher.setLocalDescription(await publisher.createOffer())
    answer = await link.call("relay_offer" if relay else "offer", "pub", publisher.localDescription.sdp, True)
    await publisher.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await asyncio.sleep(2.0)

    # Idle level: publisher only.
    cpu0, t0 = read_cpu_seconds(process.pid), time.perf_counter()
    await asyncio.sleep(seconds / 2)
    idle = (read_cpu_seconds(process.pid) - cpu0) / (time.perf_counter() - t0)

    for i in range(count):
        subscriber = subscribers[f"s{i}"] = Subscriber(link, f"s{i}", kind, clip, relay)
        await subscriber.join("pub")
    deadline = time.perf_counter() + 30
    while any(s.frames < 3 for s in subscribers.values()) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # let keyframe waits and encoders settle

    frames0 = {pid: s.frames for pid, s in subscribers.items()}
    for s in subscribers.values():
        s.latencies.clear()
    sent0 = clip.sent
    cpu0, t0 = read_cpu_seconds(process.pid), time.perf_counter()
    await asyncio.sleep(seconds)
    busy = (read_cpu_seconds(process.pid) - cpu0) / (time.perf_counter() - t0)
    await asyncio.sleep(0.3)  # frames in flight at the end of the window
    sent = clip.sent - sent0
    delivered = [min(1.0, (s.frames - frames0[pid]) / max(1, sent)) for pid, s in subscribers.items()]
    latencies = sorted(x for s in subscribers.values() for x in s.latencies)

    link.stopping = True  # type: ignore[attr-defined]
    await link.call("stop")
    process.join(10)
    if process.is_alive():
        process.kill()
    for s in subscribers.values():
        await s.pc.close()
    await publisher.close()
    link.reader.cancel()

    extra = max(0.0, busy - idle)
    return {
        "mode": mode,
        "kind": kind,
        "subscribers": count,
        "idle_cpu": idle * 100,
        "cpu": busy * 100,
        "per_stream": extra * 100 / count,
        "delivered_min": min(delivered) * 100,
        "delivered_mean": statistics.mean(delivered) * 100,
        "latency_p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
        "latency_p95_ms": latencies[int(len(latencies) * 0.95)] * 1000 if latencies else None,
    }


# ------------------------------------------------------------------ capacity on one core


class _NoClip:
    """Subscribers in client processes do not measure latency (the basic cases do)."""

    sent_at: dict[int, float] = {}


def client_process(server: Connection, control: Connection, kind: str, mode: str) -> None:
    os.nice(10)  # clients yield to the server when they share its core
    asyncio.run(_client_process(server, control, kind, mode))


async def _client_process(server: Connection, control: Connection, kind: str, mode: str) -> None:
    """Holds some of the subscribers; obeys the main process over `control`."""
    loop = asyncio.get_running_loop()
    link = ServerLink(server)
    subscribers: dict[str, Subscriber] = {}

    async def on_signal(pid: str, message: dict[str, Any]) -> None:
        if message["type"] == "media.offer" and pid in subscribers:
            await subscribers[pid].on_offer(message["sdp"])

    link.on_signal = on_signal
    reader = ThreadPoolExecutor(1)
    while True:
        op, *args = await loop.run_in_executor(reader, control.recv)
        if op == "join":
            prefix, count = args
            new = []
            for i in range(count):
                pid = f"{prefix}{len(subscribers)}"
                subscriber = subscribers[pid] = Subscriber(link, pid, kind, _NoClip(), mode == "relay")  # type: ignore[arg-type]
                await subscriber.join("pub")
                new.append(subscriber)
            deadline = time.perf_counter() + 30
            while any(s.frames < 3 for s in new) and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
            control.send(len(subscribers))
        elif op == "frames":
            control.send({pid: s.frames for pid, s in subscribers.items()})
        elif op == "stop":
            for subscriber in subscribers.values():
                await subscriber.pc.close()
            control.send(None)
            return


async def run_capacity(mode: str, kind: str, steps: list[int], clip_data: list[bytes], seconds: float,
                       processes: int, pin: int | None = 0) -> list[dict[str, Any]]:
    """Ramp subscribers on a server pinned to one core until delivery drops below 99%."""
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    client_links = [spawn.Pipe() for _ in range(processes)]
    server = spawn.Process(target=serve, args=(child, mode, tuple(c for _, c in client_links), pin), daemon=True)
    server.start()
    link = ServerLink(parent)
    clip = LoopedClip(kind, clip_data)
    publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    publisher.addTrack(clip.track)
    restrict_ice(publisher, LOOPBACK)
    await publisher.setLocalDescription(await publisher.createOffer())
    answer = await link.call("relay_offer" if mode == "relay" else "offer", "pub", publisher.localDescription.sdp, True)
    await publisher.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await asyncio.sleep(2.0)
    cpu0, t0 = read_cpu_seconds(server.pid), time.perf_counter()
    await asyncio.sleep(2.0)
    idle = (read_cpu_seconds(server.pid) - cpu0) / (time.perf_counter() - t0)

    controls = []
    clients = []
    for index, (server_end, _) in enumerate(client_links):
        mine, theirs = spawn.Pipe()
        process = spawn.Process(target=client_process, args=(server_end, theirs, kind, mode), daemon=True)
        process.start()
        clients.append(process)
        controls.append(mine)
    loop = asyncio.get_running_loop()

    async def ask(control: Connection, *message: Any) -> Any:
        control.send(message)
        return await loop.run_in_executor(None, control.recv)

    rows: list[dict[str, Any]] = []
    total = 0
    for step in steps:
        add = step - total
        shares = [add // processes + (1 if i < add % processes else 0) for i in range(processes)]
        await asyncio.gather(*(ask(c, "join", f"c{i}s", n) for i, (c, n) in enumerate(zip(controls, shares)) if n))
        total = step
        await asyncio.sleep(1.5)
        frames0 = {}
        for c in controls:
            frames0.update(await ask(c, "frames"))
        sent0 = clip.sent
        cpu0, t0 = read_cpu_seconds(server.pid), time.perf_counter()
        await asyncio.sleep(seconds)
        busy = (read_cpu_seconds(server.pid) - cpu0) / (time.perf_counter() - t0)
        sent = clip.sent - sent0
        await asyncio.sleep(0.3)
        frames1 = {}
        for c in controls:
            frames1.update(await ask(c, "frames"))
        delivered = sorted(min(1.0, (frames1[p] - frames0.get(p, 0)) / max(1, sent)) for p in frames1)
        row = {
            "mode": mode, "kind": kind, "subscribers": step, "idle_cpu": idle * 100, "cpu": busy * 100,
            "per_stream": max(0.0, busy - idle) * 100 / step,
            "delivered_min": delivered[0] * 100, "delivered_mean": statistics.mean(delivered) * 100,
            "delivered_p1": delivered[len(delivered) // 100] * 100,
            "latency_p50_ms": None, "latency_p95_ms": None,
        }
        rows.append(row)
        print_row(row)
        if row["delivered_min"] < 99.0 or busy >= 0.99:
            break
    for c in controls:
        await ask(c, "stop")
    link.stopping = True  # type: ignore[attr-defined]
    await link.call("stop")
    for process in (server, *clients):
        process.join(10)
        if process.is_alive():
            process.kill()
    await publisher.close()
    link.reader.cancel()
    return rows


def print_row(row: dict[str, Any]) -> None:
    per_core = 100 / row["per_stream"] if row["per_stream"] > 0 else float("inf")
    latency = (
        f"{row['latency_p50_ms']:.1f}/{row['latency_p95_ms']:.1f}"
        if row["latency_p50_ms"] is not None
        else "n/a"
    )
    print(
        f"{row['mode']:5} {row['kind']:5} {row['subscribers']:4d} "
        f"{row['idle_cpu']:6.1f} {row['cpu']:6.1f} {row['per_stream']:9.2f} {per_core:9.0f} "
        f"{row['delivered_min']:7.1f} {row['delivered_mean']:7.1f} {latency:>12}",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sfu-video", default="1,10,40")
    parser.add_argument("--sfu-audio", default="1,10,40")
    parser.add_argument("--relay-video", default="1,4")
    parser.add_argument("--relay-audio", default="1,4")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--capacity", action="store_true",
                        help="ramp subscribers on a server pinned to one core (clients in other processes)")
    parser.add_argument("--capacity-video", default="50,100,150,200,250,300")
    parser.add_argument("--capacity-audio", default="100,200,300,400")
    parser.add_argument("--capacity-relay", default="5,10,15,20,25")
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server to core 0")
    args = parser.parse_args()
    clips = {"video": encode_clip("video", 4), "audio": encode_clip("audio", 2)}
    video_kbps = sum(len(f) for f in clips["video"]) * 8 / 4 / 1000
    print(f"clip: video {len(clips['video'])} frames ~{video_kbps:.0f} kbit/s, audio {len(clips['audio'])} packets")
    print("mode  kind  subs  idle%   cpu%  %/stream  est/core  minDel%  avgDel%  e2e p50/p95ms")
    cases = [
        ("sfu", "video", args.sfu_video),
        ("sfu", "audio", args.sfu_audio),
        ("relay", "video", args.relay_video),
        ("relay", "audio", args.relay_audio),
    ]
    if args.capacity:
        print(("capacity: server unpinned" if args.no_pin else "capacity: server pinned to core 0") + "; subscribers in "
              + f"{args.client_processes} client processes (nice 10); stops below 99% delivered")
        for mode, kind, counts in (("sfu", "video", args.capacity_video), ("sfu", "audio", args.capacity_audio),
                                   ("relay", "video", args.capacity_relay), ("relay", "audio", args.capacity_relay)):
            steps = [int(c) for c in counts.split(",") if c]
            await run_capacity(mode, kind, steps, clips[kind], args.seconds, args.client_processes,
                               None if args.no_pin else 0)
        return
    for mode, kind, counts in cases:
        for count in [int(c) for c in counts.split(",") if c]:
            print_row(await run_case(mode, kind, count, clips[kind], args.seconds))


if __name__ == "__main__":
    asyncio.run(main())
