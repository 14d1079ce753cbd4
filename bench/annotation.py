"""Annotation benchmark: bytes per stroke (encoded vs raw JSON points) and strokes/s a room of 1,000 sustains.

    .venv/bin/python bench/annotation.py [--clients 1000] [--strokes 300]

1. Bytes (offline, no servers): `--strokes` synthetic hand-drawn strokes (circles, arrows,
   underlines, ticks, scribbles sampled as a mouse at 60 Hz reports them on a 1280 px wide
   slide, with a pixel of jitter). For each: the stock way — the raw points as JSON
   (`[[x, y], …]` as fractions of the page, 4 decimals, as a canvas app sends them) — and
   OpenRounds' way (sessions/annotation/codec.py: simplified with Ramer–Douglas–Peucker
   and delta-encoded on a 0..10,000 grid), both as the payload and as the whole event
   frame each socket receives.
2. Live (the room_fanout.py set-up, design "hub": a private redis-server, two daphne
   processes, PostgreSQL `openrounds_bench`, `--clients` WebSocket clients half on each
   process, a deck on screen): the presenter draws at 5, 10 and 20 strokes/s for 5 s each
   (the page is cleared between steps), then saturation: the presenter keeps 8 strokes
   awaiting their ack for 5 s. Each stroke is one of the synthetic strokes. Every client
   records each stroke's latency (send → received) and which ones it got; "lost" is what
   had not arrived 2 s after deliveries stopped. "Sustains" = every stroke reached every
   client with p99 under a second. About 1.5-2.5 minutes, most of it the 1,000 joins.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import room_fanout as fanout_bench  # noqa: E402  (the shared set-up: servers, clients, database)

WIDTH_PX, HEIGHT_PX = 1280, 720
#: phase -> stroke number -> time sent; and the stored stroke string -> (phase, number).
SENT: dict[str, dict[int, float]] = {}
BY_D: dict[str, tuple[str, int]] = {}


# --- synthetic strokes -----------------------------------------------------------------


def _samples(path, seconds: float, rng: random.Random) -> list[tuple[float, float]]:
    """Points of `path(t)` (t in 0..1, pixels) as a 60 Hz mouse reports them, with jitter."""
    count = max(2, int(seconds * 60))
    return [(path(i / (count - 1))[0] + rng.uniform(-1, 1), path(i / (count - 1))[1] + rng.uniform(-1, 1)) for i in range(count)]


def synthetic_strokes(count: int, seed: int = 14) -> list[list[tuple[float, float]]]:
    """Hand-drawn-like strokes in pixels of a 1280×720 slide: circles, arrows, underlines, ticks, scribbles."""
    rng = random.Random(seed)
    strokes = []
    for index in range(count):
        cx, cy = rng.uniform(200, 1080), rng.uniform(150, 570)
        kind = index % 5
        if kind == 0:  # a circle around a finding
            r = rng.uniform(40, 120)
            strokes.append(_samples(lambda t, r=r, cx=cx, cy=cy: (cx + r * math.cos(2 * math.pi * t * 1.05), cy + 0.8 * r * math.sin(2 * math.pi * t * 1.05)), rng.uniform(0.8, 1.5), rng))
        elif kind == 1:  # an arrow shaft
            dx, dy = rng.uniform(-200, 200), rng.uniform(-150, 150)
            strokes.append(_samples(lambda t, dx=dx, dy=dy, cx=cx, cy=cy: (cx + dx * t, cy + dy * t + 6 * math.sin(3 * t)), rng.uniform(0.3, 0.7), rng))
        elif kind == 2:  # an underline
            length = rng.uniform(100, 400)
            strokes.append(_samples(lambda t, length=length, cx=cx, cy=cy: (cx - length / 2 + length * t, cy + 3 * math.sin(5 * t)), rng.uniform(0.3, 0.8), rng))
        elif kind == 3:  # a tick
            strokes.append(_samples(lambda t, cx=cx, cy=cy: (cx + 60 * t, cy + (30 * t / 0.3 if t < 0.3 else 30 - 80 * (t - 0.3) / 0.7)), 0.35, rng))
        else:  # a scribble (the wave of an ST segment)
            strokes.append(_samples(lambda t, cx=cx, cy=cy: (cx - 150 + 300 * t, cy + 25 * math.sin(12 * t)), rng.uniform(0.8, 1.6), rng))
    return [[(min(WIDTH_PX, max(0.0, x)), min(HEIGHT_PX, max(0.0, y))) for x, y in s] for s in strokes]


def to_grid(stroke: list[tuple[float, float]]) -> list[tuple[int, int]]:
    from sessions.annotation.codec import GRID

    return [(round(x / WIDTH_PX * GRID), round(y / HEIGHT_PX * GRID)) for x, y in stroke]


def stock_payload(stroke: list[tuple[float, float]]) -> dict:
    return {"deck_id": 12, "page": 3, "tool": "pen", "color": "red", "width": 2,
            "points": [[round(x / WIDTH_PX, 4), round(y / HEIGHT_PX, 4)] for x, y in stroke], "by": 1234}


def frame(payload: dict) -> str:
    """The event frame a socket receives (sessions/room/fanout.py envelope)."""
    return json.dumps({"type": "annotation.stroke", "seq": 123456, "at": "2026-12-05T17:00:00.000000+00:00", "actor": 1234,
                       "data": payload}, separators=(",", ":"))


def bytes_figures(strokes: list[list[tuple[float, float]]]) -> dict:
    from sessions.annotation import codec

    raw_points, kept_points, stock, ours, stock_frames, our_frames = [], [], [], [], [], []
    for stroke in strokes:
        d, kept = codec.clean(codec.encode(to_grid(stroke)))
        raw_points.append(len(stroke))
        kept_points.append(kept)
        stock.append(len(json.dumps(stock_payload(stroke)["points"], separators=(",", ":"))))
        ours.append(len(d))
        stock_frames.append(len(frame(stock_payload(stroke)).encode()))
        our_frames.append(len(frame({"deck_id": 12, "page": 3, "tool": "pen", "color": "red", "width": 2, "d": d, "by": 1234}).encode()))
    med = statistics.median
    return {
        "strokes": len(strokes), "points_raw_median": med(raw_points), "points_kept_median": med(kept_points),
        "stock_points_bytes_median": med(stock), "encoded_points_bytes_median": med(ours),
        "stock_frame_bytes_median": med(stock_frames), "our_frame_bytes_median": med(our_frames),
        "stock_frame_bytes_p90": sorted(stock_frames)[int(0.9 * len(stock_frames))],
        "our_frame_bytes_p90": sorted(our_frames)[int(0.9 * len(our_frames))],
    }


# --- live ------------------------------------------------------------------------------


class StrokeClient(fanout_bench.BenchClient):
    async def read(self) -> None:
        got, latencies, last_received = self.got, self.latencies, self.last_received
        clock = time.time
        try:
            async for message in self.ws:
                now = clock()
                if message.startswith('{"type":"annotation.stroke"'):
                    start = message.index('"d":"') + 5
                    phase, number = BY_D.get(message[start:message.index('"', start)], ("?", -1))
                    got.setdefault(phase, set()).add(number)
                    sent = SENT.get(phase, {}).get(number)
                    if sent is not None:
                        latencies.setdefault(phase, []).append(now - sent)
                    last_received[phase] = now
                elif '"type":"ack"' in message or '"type":"error"' in message:
                    answer = json.loads(message)
                    future = self.acks.pop(answer.get("id"), None)
                    if future is not None and not future.done():
                        future.set_result(answer)
        except Exception:
            pass


def put_deck_on_screen(session_id: int) -> tuple[int, int]:
    from django.utils import timezone

    from server.people.models import User
    from sessions.models import DeckStatus, SlideDeck, SlideShow

    host = User.objects.get(username="bench-host")
    deck = SlideDeck.objects.create(
        session_id=session_id, title="Bench deck", source="upload", source_name="x.pdf", source_sha256="0" * 64, source_size=1,
        folder="bench", profile="bench", created_by=host, status=DeckStatus.READY, page_count=10, pages_done=10,
        page_width=1280, page_height=720, shown_at=timezone.now(),
    )
    SlideShow.objects.update_or_create(session_id=session_id, defaults={"deck": deck, "page": 1, "seq": 0})
    return deck.pk, 1


async def run_live(session_id: int, deck_id: int, cookies: list[str], host_cookie: str, ports: list[int], pids: dict[str, int],
                   strokes: list[str]) -> dict:
    from sessions.annotation import codec

    clients = [StrokeClient(i, ports[i % 2], session_id, c) for i, c in enumerate(cookies)]
    presenter = StrokeClient(-1, ports[0], session_id, host_cookie)
    await presenter.connect()
    started = time.time()
    await fanout_bench.join_all(clients)
    result: dict = {"join_s": round(time.time() - started, 1), "steps": []}
    await asyncio.sleep(2)
    counter = 0

    def message_for(phase: str, number: int) -> dict:
        """A stroke whose stored string is unique (its first point is shifted by its number)."""
        nonlocal counter
        counter += 1
        points = codec.decode(strokes[number % len(strokes)])
        shift = (counter * 7) % 500
        points = [(min(codec.GRID, x + shift), y) for x, y in points]
        d = codec.encode(points)
        BY_D[codec.clean(d)[0]] = (phase, number)
        return {"type": "annotation.stroke", "id": f"{phase}-{number}", "deck_id": deck_id, "page": 1, "tool": "pen",
                "color": "red", "width": 2, "d": d}

    async def measure(phase: str, sent: int, seconds: float, cpu_before: dict, wall_before: float) -> dict:
        await fanout_bench.settle(clients, phase, sent * len(clients), 20)
        cpu_after, wall = fanout_bench.cpu_split(pids), time.time() - wall_before
        latencies = [x for c in clients for x in c.latencies.get(phase, [])]
        delivered = sum(len(c.got.get(phase, ())) for c in clients)
        return {
            "phase": phase, "strokes_sent": sent, "strokes_per_s": round(sent / seconds, 1), "deliveries_per_s": round(delivered / seconds),
            "lost": sent * len(clients) - delivered, "p50_ms": round(fanout_bench.percentile(latencies, 0.5) * 1000),
            "p99_ms": round(fanout_bench.percentile(latencies, 0.99) * 1000),
            "server_cpu_cores": round(sum(cpu_after[k] - cpu_before[k] for k in pids if k != "client") / wall, 2),
            "client_cpu_cores": round((cpu_after["client"] - cpu_before["client"]) / wall, 2),
            "load_avg_1min": round(os.getloadavg()[0], 1),
        }

    for rate in (5, 10, 20):
        phase = f"rate{rate}"
        SENT[phase] = {}
        cpu_before, wall_before = fanout_bench.cpu_split(pids), time.time()
        count = rate * 5
        for number in range(count):
            message = message_for(phase, number)
            SENT[phase][number] = time.time()
            await presenter.ws.send(json.dumps(message))
            await asyncio.sleep(max(0.0, wall_before + (number + 1) / rate - time.time()))
        result["steps"].append(await measure(phase, count, 5.0, cpu_before, wall_before))
        await presenter.call({"type": "annotation.clear", "id": f"clear-{rate}", "deck_id": deck_id, "page": 1})
        print(json.dumps(result["steps"][-1]), flush=True)

    # Saturation: 8 strokes awaiting their ack, for 5 s.
    phase = "sat"
    SENT[phase] = {}
    cpu_before, wall_before = fanout_bench.cpu_split(pids), time.time()
    number = 0
    in_flight: set[asyncio.Task] = set()

    async def one(n: int) -> None:
        message = message_for(phase, n)
        SENT[phase][n] = time.time()
        answer = await presenter.call(message, timeout=60)
        assert answer["type"] == "ack", answer

    while time.time() - wall_before < 5:
        while len(in_flight) < 8:
            in_flight.add(asyncio.ensure_future(one(number)))
            number += 1
        _done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
    if in_flight:
        await asyncio.wait(in_flight, timeout=60)
    seconds = time.time() - wall_before
    result["steps"].append(await measure(phase, number, seconds, cpu_before, wall_before))
    print(json.dumps(result["steps"][-1]), flush=True)
    for c in [presenter, *clients]:
        await c.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--strokes", type=int, default=300)
    parser.add_argument("--bytes-only", action="store_true", help="only the offline byte counts (no servers)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    if args.bytes_only:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings.test")
        import django

        django.setup()
    else:
        _, cookies, host_cookie = fanout_bench.prepare_database(args.clients)
    strokes = synthetic_strokes(args.strokes)
    figures = bytes_figures(strokes)
    print(json.dumps(figures), flush=True)
    live: dict = {}
    if not args.bytes_only:
        from sessions.annotation import codec

        session_id = fanout_bench.new_session_for_design()
        deck_id, _page = put_deck_on_screen(session_id)
        processes = fanout_bench.Processes(fanout_bench.DESIGNS["hub"])
        try:
            processes.start()
            pids = {"redis": processes.children[0].pid, "daphne1": processes.children[1].pid, "daphne2": processes.children[2].pid,
                    "client": os.getpid()}
            encoded = [codec.encode(to_grid(s)) for s in strokes]
            live = asyncio.run(run_live(session_id, deck_id, cookies, host_cookie, processes.ports, pids, encoded))
        finally:
            processes.stop()
    print()
    print(f"Annotation, {os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"1-min load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    print(f"| per stroke ({figures['strokes']} strokes, median) | raw JSON points (stock) | OpenRounds (RDP + delta) |")
    print("|---|---|---|")
    print(f"| points | {figures['points_raw_median']:.0f} | {figures['points_kept_median']:.0f} |")
    print(f"| points, bytes | {figures['stock_points_bytes_median']:.0f} | {figures['encoded_points_bytes_median']:.0f} |")
    print(f"| event frame, bytes (median / p90) | {figures['stock_frame_bytes_median']:.0f} / {figures['stock_frame_bytes_p90']} | "
          f"{figures['our_frame_bytes_median']:.0f} / {figures['our_frame_bytes_p90']} |")
    if live:
        print(f"\nLive, {args.clients} clients (joined in {live['join_s']} s)")
        print("| step | strokes/s | deliveries/s | p50 ms | p99 ms | lost | server CPU (cores) | client CPU (cores) | load |")
        print("|---|---|---|---|---|---|---|---|---|")
        for s in live["steps"]:
            print(f"| {s['phase']} | {s['strokes_per_s']} | {s['deliveries_per_s']} | {s['p50_ms']} | {s['p99_ms']} | {s['lost']} | "
                  f"{s['server_cpu_cores']} | {s['client_cpu_cores']} | {s['load_avg_1min']} |")


if __name__ == "__main__":
    main()
