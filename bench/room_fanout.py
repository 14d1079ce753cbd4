"""Room fan-out benchmark: 1,000 clients in one room across 2 daphne processes on Redis.

    .venv/bin/python bench/room_fanout.py [--clients 1000] [--designs hub,pubsub-group,core-group]

For each layer design, in one run:
  1. starts a private redis-server and two daphne processes on loopback ports, against a
     PostgreSQL database of its own (`openrounds_bench`, created and migrated if missing);
  2. connects the clients (half on each process, 12 joining at a time) and one presenter;
  3. steady load: the presenter sends 10 chat messages a second for 10 s; every client
     records each message's latency (send → receive) and which ones it got; server and
     client CPU are read from /proc over the phase;
  4. a poll: every client votes once, spread over 10 s; measures when the last vote was
     acknowledged and how long after it every client shows the final count;
  5. saturation: four senders, each keeping 8 messages awaiting their ack, for 8 s;
     measures the delivered rate and its latency.
"Lost" is what had not arrived when deliveries stopped (2 s without any, or a deadline).
Prints delivered messages/s, p50/p99/max latency and lost messages per design. Loopback
only; every phase has a deadline, so the run ends by itself (about 10-15 minutes).
The clients run in this one asyncio process and parse only what they measure (chat
frames by string search), so they cost far less CPU than the servers (printed).

Designs:
  core-group    stock channels_redis core layer, `group_send` to a group of every socket
  pubsub-group  channels_redis pub/sub layer, `group_send`
  hub-plain     OpenRounds' fan-out (below) with the ordinary per-socket consumer `send`
  hub           OpenRounds' fan-out: one Redis PUBLISH per event, each process fans out
                to its own sockets, framing each event once and writing it to each
                socket's transport (sessions/room/fanout.py, consumers.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "openrounds_bench"
#: phase -> message number -> seconds from send to the server storing it (the event's "at").
STORED: dict[str, dict[str, float]] = {}
DB_URL = os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}")
DESIGNS = {
    # The stock baselines send each copy through channels' consumer `send` (ROOM_FAST_SEND=0).
    "core-group": {"ROOM_FANOUT": "group", "ROOM_FAST_SEND": "0", "CHANNEL_LAYER_BACKEND": "channels_redis.core.RedisChannelLayer"},
    "pubsub-group": {"ROOM_FANOUT": "group", "ROOM_FAST_SEND": "0", "CHANNEL_LAYER_BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"},
    # The hub with the ordinary per-socket send, to show what the prepared-frame write adds.
    "hub-plain": {"ROOM_FANOUT": "hub", "ROOM_FAST_SEND": "0", "CHANNEL_LAYER_BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"},
    "hub": {"ROOM_FANOUT": "hub", "ROOM_FAST_SEND": "1", "CHANNEL_LAYER_BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- set-up (synchronous Django) -------------------------------------------------------


def prepare_database(clients: int) -> tuple[int, list[str], str]:
    """Create/migrate the bench database; return (session id, attendee cookies, host cookie)."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (DB_NAME,)).fetchone():
            conn.execute(f'create database "{DB_NAME}"')
    env = {**os.environ, "DATABASE_URL": DB_URL, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "server.settings.test"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update({"DATABASE_URL": DB_URL, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "server.settings.test"})
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from server.people.models import Institution, User
    from sessions.models import LiveSession

    school, _ = Institution.objects.get_or_create(
        name="Bench Medical School", defaults={"country": "NG", "city": "Lagos", "time_zone": "Africa/Lagos"}
    )
    host, _ = User.objects.get_or_create(username="bench-host", defaults={"display_name": "Bench Host"})
    existing = set(User.objects.filter(username__startswith="bench-u").values_list("username", flat=True))
    User.objects.bulk_create(
        [User(username=f"bench-u{i:05d}", display_name=f"Student {i}", password="!") for i in range(clients) if f"bench-u{i:05d}" not in existing]
    )
    now = timezone.now()
    session = LiveSession.objects.create(
        kind="lecture", title="Fan-out benchmark", host=host, presenter=host, institution=school,
        starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=2), capacity=clients * 2,
        audience="everyone", status="live",
    )

    def cookie(user: User) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return store.session_key

    users = list(User.objects.filter(username__startswith="bench-u").order_by("username")[:clients])
    return session.pk, [cookie(u) for u in users], cookie(host)


def new_session_for_design() -> int:
    from datetime import timedelta

    from django.utils import timezone

    from sessions.models import LiveSession

    template = LiveSession.objects.filter(title="Fan-out benchmark").order_by("-pk").first()
    now = timezone.now()
    template.pk = None
    template.starts_at = now - timedelta(minutes=1)
    template.ends_at = now + timedelta(hours=2)
    template.save()
    return template.pk


# --- processes -------------------------------------------------------------------------


class Processes:
    def __init__(self, design_env: dict[str, str]) -> None:
        self.redis_port = free_port()
        self.ports = [free_port(), free_port()]
        self.children: list[subprocess.Popen[bytes]] = []
        self.design_env = design_env

    def start(self) -> None:
        self.children.append(subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        env = {
            **os.environ, "DATABASE_URL": DB_URL, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "server.settings.test",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0", "ROOM_RATE_LIMIT_FACTOR": "100",
            "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1", "DATABASE_CONN_MAX_AGE": "60", **self.design_env,
        }
        for port in self.ports:
            self.children.append(subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                 "--websocket-max-message-size", "65536", "--websocket-max-frame-size", "65536",
                 "--websocket_connect_timeout", "60", "server.asgi:application"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(f"/tmp/bench-daphne-{port}.log", "wb"),
            ))
        deadline = time.time() + 40
        for port in self.ports:
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except Exception:
                    if time.time() > deadline:
                        raise RuntimeError(f"daphne on {port} did not start; see /tmp/bench-daphne-{port}.log") from None
                    time.sleep(0.3)

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()


# --- clients ---------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    received: dict[int, set[int]] = field(default_factory=dict)  # phase -> message numbers, per client merged separately
    poll_final_at: float | None = None


class BenchClient:
    def __init__(self, index: int, port: int, session_id: int, cookie: str) -> None:
        self.index, self.port, self.session_id, self.cookie = index, port, session_id, cookie
        self.ws = None
        self.got: dict[str, set[int]] = {}
        self.latencies: dict[str, list[float]] = {}
        self.poll_voters = 0
        self.poll_done_at: float | None = None
        self.poll_target = 0
        self.poll: dict | None = None
        self.last_received: dict[str, float] = {}
        self.snapshot: dict = {}
        self.acks: dict[str, asyncio.Future] = {}
        self.task: asyncio.Task | None = None

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            f"ws://127.0.0.1:{self.port}/ws/sessions/{self.session_id}/",
            additional_headers={"Cookie": f"sessionid={self.cookie}", "Origin": f"http://127.0.0.1:{self.port}"},
            open_timeout=60, max_size=2**24, ping_interval=None,
        )
        self.snapshot = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
        self.task = asyncio.get_running_loop().create_task(self.read())

    async def read(self) -> None:
        # Minimal parsing: the client shares the 2 cores with the servers, so chat frames
        # (the bulk) are read with two string searches instead of a JSON decode.
        got, latencies, last_received = self.got, self.latencies, self.last_received
        clock = time.time  # wall clock: comparable with the server's "at" (same machine)
        try:
            async for frame in self.ws:
                now = clock()
                if frame.startswith('{"type":"chat.message"'):
                    start = frame.rindex('"text":"') + 8
                    phase, number, sent = frame[start:frame.index('"', start)].split(":")
                    got.setdefault(phase, set()).add(int(number))
                    latencies.setdefault(phase, []).append(now - float(sent))
                    stored = STORED.setdefault(phase, {})
                    if number not in stored:  # once per message: when the server stored it
                        at = frame.index('"at":"') + 6
                        stored[number] = datetime.fromisoformat(frame[at:frame.index('"', at)]).timestamp() - float(sent)
                    last_received[phase] = now
                elif frame.startswith('{"type":"presence"'):
                    continue
                elif '"poll.opened"' in frame:
                    self.poll = json.loads(frame)["data"]["poll"]
                elif '"poll.counts"' in frame:
                    voters = json.loads(frame)["data"]["voters"]
                    self.poll_voters = max(self.poll_voters, voters)
                    if self.poll_target and voters >= self.poll_target and self.poll_done_at is None:
                        self.poll_done_at = now
                elif '"type":"ack"' in frame or '"type":"error"' in frame:
                    message = json.loads(frame)
                    future = self.acks.pop(message.get("id"), None)
                    if future is not None and not future.done():
                        future.set_result(message)
        except Exception:
            pass

    async def call(self, message: dict, timeout: float = 30) -> dict:
        future = asyncio.get_running_loop().create_future()
        self.acks[message["id"]] = future
        await self.ws.send(json.dumps(message))
        return await asyncio.wait_for(future, timeout)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def cpu_split(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


async def settle(clients: list["BenchClient"], phase: str, expected: int, limit: float) -> None:
    """Wait until every expected delivery arrived, or nothing arrived for 2 s, or `limit` s."""
    deadline = time.time() + limit
    last, quiet_since = -1, time.time()
    while time.time() < deadline:
        count = sum(len(c.got.get(phase, ())) for c in clients)
        if count >= expected:
            return
        if count != last:
            last, quiet_since = count, time.time()
        elif time.time() - quiet_since > 2:
            return
        await asyncio.sleep(0.1)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def join_all(clients: list, *, at_once: int = 12, attempts: int = 4, timeout: float = 300) -> None:
    """Connect every client, `at_once` at a time, each retried with a growing pause.

    Bounded so that the join phase measures the servers rather than a connection storm
    from this one process; retried because a join can time out while two daphnes on two
    cores are busy with the others.
    """
    gate = asyncio.Semaphore(at_once)

    async def join(client) -> None:
        async with gate:
            for attempt in range(attempts):
                try:
                    await client.connect()
                    return
                except Exception:
                    await asyncio.sleep(1 + attempt)
            raise RuntimeError(f"a client could not join after {attempts} attempts")

    await asyncio.wait_for(asyncio.gather(*(join(client) for client in clients)), timeout)


async def run_design(name: str, session_id: int, cookies: list[str], host_cookie: str, ports: list[int], pids: dict[str, int], progress: dict) -> dict:
    """Run every phase; `progress` says which phase runs and holds the figures so far."""
    STORED.clear()
    clients = [BenchClient(i, ports[i % 2], session_id, cookie) for i, cookie in enumerate(cookies)]
    presenter = BenchClient(-1, ports[0], session_id, host_cookie)
    await presenter.connect()
    progress["phase"] = "join"
    started = time.time()
    await join_all(clients)
    join_seconds = time.time() - started
    progress.update(phase="steady", join_s=round(join_seconds, 1))
    await asyncio.sleep(2)  # let presence settle

    # Steady load: 10 messages/s for 10 s.
    steady = 100
    pids = {**pids, "client": os.getpid()}
    cpu_before, wall_before = cpu_split(pids), time.time()
    for number in range(steady):
        await presenter.ws.send(json.dumps({"type": "chat.send", "id": f"s{number}", "text": f"steady:{number}:{time.time()}"}))
        await asyncio.sleep(0.1)
    await settle(clients, "steady", steady * len(clients), 10)
    cpu_after, wall = cpu_split(pids), time.time() - wall_before
    steady_cpu = {k: round((cpu_after[k] - cpu_before[k]) / wall, 2) for k in pids}  # cores busy on average
    lat = [x for c in clients for x in c.latencies.get("steady", [])]
    delivered = sum(len(c.got.get("steady", ())) for c in clients)
    lost = steady * len(clients) - delivered

    progress.update(phase="poll", steady_delivered_per_s=delivered / 10.0, p50_ms=percentile(lat, 0.5) * 1000,
                    p99_ms=percentile(lat, 0.99) * 1000, lost=lost, steady_cpu_cores=steady_cpu)
    # Poll: everyone votes within 10 s.
    await presenter.call({"type": "poll.create", "id": "poll", "question": "Diagnosis?", "options": ["A", "B", "C"]})
    for _ in range(200):
        if clients[0].poll is not None:
            break
        await asyncio.sleep(0.05)
    poll = clients[0].poll
    option_ids = [o["id"] for o in poll["options"]]
    for c in clients:
        c.poll_target = len(clients)
    vote_gap = 10.0 / len(clients)

    async def vote(i: int, c: BenchClient) -> float:
        await asyncio.sleep(i * vote_gap)
        answer = await c.call({"type": "poll.vote", "id": f"v{i}", "poll_id": poll["id"], "option_ids": [option_ids[i % 3]]}, timeout=60)
        assert answer["type"] == "ack", answer
        return time.time()

    vote_started = time.time()
    acked = await asyncio.wait_for(asyncio.gather(*(vote(i, c) for i, c in enumerate(clients))), 120)
    last_vote = max(acked)
    deadline = time.time() + 10
    while time.time() < deadline and any(c.poll_done_at is None for c in clients):
        await asyncio.sleep(0.05)
    converged = [c.poll_done_at for c in clients if c.poll_done_at is not None]
    poll_lag = (max(converged) - last_vote) if len(converged) == len(clients) else float("inf")
    votes_seconds = last_vote - vote_started

    progress.update(phase="saturation", poll_votes_s=votes_seconds, poll_final_after_last_vote_s=poll_lag)
    # Saturation: four senders, each keeping WINDOW messages awaiting their ack, for 8 s.
    senders = [presenter] + clients[:3]
    sat_started = time.time()
    sent = 0
    window = 8

    async def blast(sender: BenchClient, k: int) -> None:
        nonlocal sent
        number = 0

        async def one(n: int) -> None:
            await sender.call({"type": "chat.send", "id": f"x{k}-{n}", "text": f"sat:{k * 100000 + n}:{time.time()}"}, timeout=60)

        in_flight: set[asyncio.Task] = set()
        while time.time() - sat_started < 8:
            while len(in_flight) < window:
                in_flight.add(asyncio.ensure_future(one(number)))
                number += 1
            done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            sent += sum(1 for task in done if task.exception() is None)
        if in_flight:
            done, _pending = await asyncio.wait(in_flight, timeout=60)
            sent += sum(1 for task in done if task.exception() is None)

    await asyncio.gather(*(blast(s, k) for k, s in enumerate(senders)))
    sat_sent_seconds = time.time() - sat_started
    await settle(clients, "sat", sent * len(clients), 20)
    sat_delivered = sum(len(c.got.get("sat", ())) for c in clients)
    sat_lat = [x for c in clients for x in c.latencies.get("sat", [])]
    sat_end = max((c.last_received.get("sat", 0) for c in clients), default=0)
    sat_seconds = max(sat_sent_seconds, sat_end - sat_started)
    for c in [presenter, *clients]:
        await c.close()
    return {
        "design": name, "clients": len(clients), "join_s": round(join_seconds, 1), "steady_cpu_cores": steady_cpu,
        "load_avg_1min_at_end": os.getloadavg()[0],
        "steady_offered_per_s": 10 * len(clients), "steady_delivered_per_s": delivered / 10.0,
        "p50_ms": percentile(lat, 0.5) * 1000, "p99_ms": percentile(lat, 0.99) * 1000, "max_ms": max(lat, default=float("nan")) * 1000,
        "lost": lost, "steady_sent_to_stored_p50_ms": percentile(list(STORED.get("steady", {}).values()), 0.5) * 1000,
        "steady_sent_to_stored_p99_ms": percentile(list(STORED.get("steady", {}).values()), 0.99) * 1000, "poll_votes_s": votes_seconds, "poll_final_after_last_vote_s": poll_lag,
        "sat_sent": sent, "sat_delivered_per_s": sat_delivered / sat_seconds,
        "sat_lost": sent * len(clients) - sat_delivered, "sat_p99_ms": percentile(sat_lat, 0.99) * 1000,
        "sat_events_per_s": sent / sat_sent_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--designs", default="core-group,pubsub-group,hub-plain,hub")
    args = parser.parse_args()
    _, cookies, host_cookie = prepare_database(args.clients)
    results = []
    failures: list[str] = []
    for name in args.designs.split(","):
        session_id = new_session_for_design()
        processes = Processes(DESIGNS[name])
        progress: dict = {}
        try:
            processes.start()
            print(f"[{name}] 2 daphne processes on :{processes.ports[0]} and :{processes.ports[1]}, redis on :{processes.redis_port}", flush=True)
            pids = {"redis": processes.children[0].pid, "daphne1": processes.children[1].pid, "daphne2": processes.children[2].pid}
            result = asyncio.run(run_design(name, session_id, cookies, host_cookie, processes.ports, pids, progress))
            results.append(result)
            print(json.dumps(result), flush=True)
        except Exception as exc:  # a design that falls over still lets the others run
            print(f"[{name}] failed in phase {progress.get('phase')}: {type(exc).__name__}: {exc}; figures so far: {json.dumps(progress)}", flush=True)
            failures.append(name)
        finally:
            processes.stop()
    print()
    print(f"Room fan-out, {args.clients} clients, 2 daphne processes, Redis, PostgreSQL; {os.cpu_count()} cores, {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}; 1-min load average at the end of each design: "
          + ", ".join(f"{r['design']} {r['load_avg_1min_at_end']:.1f}" for r in results))
    header = (
        "| design | join 1,000 (s) | steady delivered/s (offered) | p50 ms | p99 ms | max ms | of which send→stored p50/p99 ms | lost | server CPU (cores) | "
        "poll: votes acked over | final counts on every client after last vote | saturation delivered/s | saturation p99 ms | saturation lost |"
    )
    print(header)
    print("|" + "---|" * 14)
    for r in results:
        cpu = r["steady_cpu_cores"]
        print(
            f"| {r['design']} | {r['join_s']:.0f} | {r['steady_delivered_per_s']:.0f} ({r['steady_offered_per_s']}) | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['max_ms']:.0f} | "
            f"{r['steady_sent_to_stored_p50_ms']:.0f}/{r['steady_sent_to_stored_p99_ms']:.0f} | {r['lost']} | "
            f"{cpu['daphne1'] + cpu['daphne2'] + cpu['redis']:.2f} (client {cpu['client']:.2f}) | {r['poll_votes_s']:.1f} s | {r['poll_final_after_last_vote_s']:.2f} s | "
            f"{r['sat_delivered_per_s']:.0f} | {r['sat_p99_ms']:.0f} | {r['sat_lost']} |"
        )
    for failed in failures:
        print(f"| {failed} | did not finish (see above) |")


if __name__ == "__main__":
    main()
