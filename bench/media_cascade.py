"""The cascade's cost: what relaying a publication between two media workers takes.

Run: ``.venv/bin/python bench/media_cascade.py`` (loopback and the local Redis only,
about two minutes, never more than ``--max-minutes``).

Two worker processes, each pinned to its own core, each with its own `SFU` and
`Cascade` (sessions/media/cascade.py) announced in the real Redis registry, carry one
session. Worker A publishes K video publications (a pre-encoded 640x480 VP8 clip,
1 Mbit/s, 15 fps, fed straight into the publications' forwarders as the receiver tap
would); worker B relays them and feeds S subscriber queues per publication (the
forwarder's own queues, drained at once: no peer connections). Measured, per step K:

* CPU of each process (all threads, from /proc) above the same process with nothing
  relayed, divided by K: the link's cost per relayed stream on the sending and on the
  receiving worker;
* latency the link adds: from the frame's push into A's forwarder to its push into B's
  relayed forwarder (both `time.perf_counter`, CLOCK_MONOTONIC on Linux: one clock for
  both processes), p50/p95;
* frames lost on the link (should be 0).

Failover (``--failover``, on by default): with S=100 subscriber queues on B, worker A is
killed with SIGKILL; measured is the time until B has noticed (link reset), and until its
subscribers' relayed publication is gone (they are then re-attached when the publisher's
browser republishes — that part, a browser's renegotiation, is measured end to end in
tests/sessions/media/test_cascade.py and test_browser_failover.py, not here).

What this does not measure, said plainly: the cost of sending to real subscribers (SRTP
and a socket send per packet, about 0.19% of a core per video subscriber, measured by
bench/media_fanout.py). The capacity of one session on two workers is *derived* from the
two: each worker's core, less the link's share, divided by the per-subscriber cost.
"""

from __future__ import annotations

import argparse
import fractions
import json
import multiprocessing
import os
import signal
import statistics
import sys
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PER_SUBSCRIBER_CORE_PERCENT = 0.189  # bench/media_fanout.py, docs/benchmarks.md (2026-12-05)


def _django(namespace: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings.test")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["REDIS_NAMESPACE"] = namespace
    import django

    django.setup()


def _cpu_seconds() -> float:
    with open(f"/proc/{os.getpid()}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_process(name: str, core: int, namespace: str, conn: Connection, subscribers: int) -> None:
    """One media worker: A publishes, B relays to subscriber queues; answers the driver's commands."""
    os.sched_setaffinity(0, {core})
    _django(namespace)
    import asyncio

    asyncio.run(_worker(name, conn, subscribers))


async def _worker(name: str, conn: Connection, subscribers: int) -> None:
    import asyncio

    import av

    from bench.media_fanout import encode_clip
    from sessions.media.cascade import Cascade
    from sessions.media.forwarding import TrackForwarder
    from sessions.media.placement import WorkerInfo, WorkerRegistry
    from sessions.media.sfu import SFU, MediaConfig, Publication
    from sessions.media.tap import TappedFrame

    registry = WorkerRegistry()
    sfu = SFU(MediaConfig(), lambda *args: None)
    room = sfu.room("7")
    cascade = Cascade(worker_id=name, sfu=sfu, registry=registry, secret=b"bench")
    address = await cascade.start()
    await registry.announce(WorkerInfo(id=name, channel=f"media-worker-{name}", link=address))
    publications: list[Publication] = []
    room.local_publications = lambda: [p for p in publications if not p.forwarder.closed]
    sent: dict[tuple[str, int], float] = {}
    received: dict[tuple[str, int], float] = {}
    queues: list[Any] = []
    clip = encode_clip("video", 4) if name == "a" else []
    time_base = fractions.Fraction(1, 90000)
    loop = asyncio.get_running_loop()
    running = True
    lost_at: list[float] = []

    async def heartbeat() -> None:
        while running:
            await registry.announce(WorkerInfo(id=name, channel=f"media-worker-{name}", link=address))
            await asyncio.sleep(0.5)

    async def publish() -> None:
        index = 0
        next_at = time.perf_counter()
        while running:
            data = clip[index % len(clip)]
            for pub in list(publications):
                packet = av.Packet(data)
                packet.pts = packet.dts = index * 6000
                packet.time_base = time_base
                now = time.perf_counter()
                sent[(pub.track_id, index * 6000)] = now
                pub.forwarder.push(TappedFrame(packet=packet, mime_type="video/vp8", ssrc=1, audio_level=None, arrival=now))
            index += 1
            next_at += 1 / 15
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    async def drain(queue: Any) -> None:
        while (frame := await queue.get()) is not None:
            pass

    def watch_relayed() -> None:
        for pub in room.publications():
            if pub.origin and not getattr(pub.forwarder, "_bench_watched", False):
                pub.forwarder._bench_watched = True  # type: ignore[attr-defined]
                track = pub.track_id
                pub.forwarder.observers.append(
                    lambda frame, track=track: received.setdefault((track, int(frame.packet.pts)), time.perf_counter()))
                for n in range(subscribers):
                    queue = pub.forwarder.add_subscriber(f"s{n}")
                    queues.append(asyncio.ensure_future(drain(queue)))

    async def on_peer_lost(peer: str, sessions: list[int]) -> None:
        lost_at.append(time.perf_counter())

    cascade._on_peer_lost = on_peer_lost
    tasks = [asyncio.ensure_future(heartbeat())]
    if name == "a":
        tasks.append(asyncio.ensure_future(publish()))
    conn.send(("ready", address))
    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        if command == "join":
            await cascade.join(7)
            conn.send(("ok",))
        elif command == "publish":  # A: have K publications
            wanted = int(args[0])
            while len(publications) < wanted:
                track = f"12:{len(publications)}"
                publications.append(Publication(
                    publisher_id="12", track_id=track, kind="video", source="camera", mid=str(len(publications)),
                    forwarder=TrackForwarder(kind="video", request_keyframe=lambda: None, label=track)))
            cascade.publications_changed(7)
            conn.send(("ok",))
        elif command == "watch":  # B: attach subscribers and the latency probe to what is relayed
            watch_relayed()
            conn.send(("ok", len([p for p in room.publications() if p.origin])))
        elif command == "cpu":
            conn.send(("ok", _cpu_seconds(), time.perf_counter()))
        elif command == "clear":
            sent.clear()
            received.clear()
            conn.send(("ok",))
        elif command == "times":
            conn.send(("ok", dict(sent) if name == "a" else dict(received)))
        elif command == "relayed":
            conn.send(("ok", len([p for p in room.publications() if p.origin]), list(lost_at)))
        elif command == "stop":
            running = False
            for task in tasks + queues:
                task.cancel()
            await cascade.close()
            await registry.close()
            conn.send(("ok",))
            return


class Worker:
    def __init__(self, name: str, core: int, namespace: str, subscribers: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_process, args=(name, core, namespace, child, subscribers), daemon=True)
        self.process.start()
        assert self.ask()[0] == "ready"

    def ask(self, *command: Any, timeout: float = 60.0) -> Any:
        if command:
            self.conn.send(command)
        if not self.conn.poll(timeout):
            raise TimeoutError(f"worker did not answer {command}")
        return self.conn.recv()


def measure(a: Worker, b: Worker, seconds: float) -> tuple[float, float]:
    """Percent of a core used by A and by B over `seconds`."""
    _, a0, t0 = a.ask("cpu")
    _, b0, _ = b.ask("cpu")
    time.sleep(seconds)
    _, a1, t1 = a.ask("cpu")
    _, b1, _ = b.ask("cpu")
    return 100 * (a1 - a0) / (t1 - t0), 100 * (b1 - b0) / (t1 - t0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="1,8,32", help="relayed video publications per step")
    parser.add_argument("--subscribers", type=int, default=100, help="subscriber queues per relayed publication on B")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per step")
    parser.add_argument("--max-minutes", type=float, default=5.0)
    parser.add_argument("--no-failover", action="store_true")
    parser.add_argument("--json", default="", help="write the results here too")
    args = parser.parse_args()
    deadline = time.monotonic() + args.max_minutes * 60
    namespace = f"bench-cascade-{uuid.uuid4().hex[:6]}"
    with open("/proc/loadavg") as handle:
        load_before = handle.read().split()[0]
    a = Worker("a", 0, namespace, 0)
    b = Worker("b", 1 % os.cpu_count(), namespace, args.subscribers)
    a.ask("join")
    b.ask("join")
    idle_a, idle_b = measure(a, b, args.window)
    results: dict[str, Any] = {"idle": {"a": round(idle_a, 2), "b": round(idle_b, 2)}, "steps": []}
    print(f"idle: A {idle_a:.2f}% B {idle_b:.2f}% of a core")
    for k in [int(x) for x in args.steps.split(",")]:
        if time.monotonic() > deadline:
            print("stopping: --max-minutes reached")
            break
        a.ask("publish", k)
        for _ in range(50):
            _, relayed = b.ask("watch")
            if relayed >= k:
                break
            time.sleep(0.1)
        time.sleep(1.0)
        a.ask("clear")
        b.ask("clear")
        cpu_a, cpu_b = measure(a, b, args.window)
        _, sent = a.ask("times")
        _, received = b.ask("times")
        latencies = [1000 * (received[key] - at) for key, at in sent.items() if key in received]
        window_sent = [key for key, at in sent.items() if at < max(sent.values()) - 0.5]
        lost = sum(1 for key in window_sent if key not in received)
        step = {
            "relayed": k, "subscribers_on_b": k * args.subscribers,
            "cpu_a": round(cpu_a, 2), "cpu_b": round(cpu_b, 2),
            "per_stream_a": round((cpu_a - idle_a) / k, 3), "per_stream_b": round((cpu_b - idle_b) / k, 3),
            "latency_p50_ms": round(percentile(latencies, 0.5), 2), "latency_p95_ms": round(percentile(latencies, 0.95), 2),
            "frames": len(window_sent), "lost": lost,
        }
        results["steps"].append(step)
        print(json.dumps(step))
    if not args.no_failover:
        kill_at = time.perf_counter()
        os.kill(a.process.pid, signal.SIGKILL)
        noticed = gone = None
        while time.perf_counter() - kill_at < 15:
            _, relayed, lost_at = b.ask("relayed")
            if lost_at and noticed is None:
                noticed = lost_at[0] - kill_at
            if relayed == 0 and gone is None:
                gone = time.perf_counter() - kill_at
            if noticed is not None and gone is not None:
                break
            time.sleep(0.01)
        results["failover"] = {"noticed_ms": round(1000 * noticed, 1) if noticed is not None else None,
                               "relayed_gone_ms": round(1000 * gone, 1) if gone is not None else None}
        print(json.dumps(results["failover"]))
    b.ask("stop")
    with open("/proc/loadavg") as handle:
        results["load"] = {"before": load_before, "after": handle.read().split()[0]}
    last = results["steps"][-1] if results["steps"] else None
    if last:
        share_a, share_b = last["per_stream_a"], last["per_stream_b"]
        one = 100 / PER_SUBSCRIBER_CORE_PERCENT
        # One publication relayed once: each worker gives its core, less the link's share, to subscribers.
        two = (100 - share_a - idle_a) / PER_SUBSCRIBER_CORE_PERCENT + (100 - share_b - idle_b) / PER_SUBSCRIBER_CORE_PERCENT
        results["derived_capacity"] = {"one_worker": round(one), "two_workers": round(two), "ratio": round(two / one, 3)}
        print(json.dumps(results["derived_capacity"]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
