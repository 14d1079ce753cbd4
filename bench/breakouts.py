"""Breakout groups benchmark: open and close for 300 people in 50 groups, on PostgreSQL.

    .venv/bin/python bench/breakouts.py                  # PostgreSQL on 127.0.0.1
    .venv/bin/python bench/breakouts.py --people 300 --size 6 --rounds 3

A throw-away PostgreSQL database (`openrounds_bench_breakouts`, dropped afterwards) is
migrated and seeded with the demo people; a live case conference gets N people of 25
schools in 20 countries admitted to its room. Each round, through the services the room's
handlers call (sessions/breakouts/services.py, every write with its room events):

* split: mixed groups of `--size` (50 groups for 300 people), creating 50 group rooms;
* open: every group open for 10 minutes;
* move: one person moved while open (the plan event, plus `breakout.moved` to that person);
* close: notes kept as reports, 50 rooms ended (100 events), the plan event;
* the size of the `breakouts.changed` events every main-room socket receives: a move,
  the split and the close as changes (today), beside the whole plan that each of them
  carried before (the stock way: every change re-sent everyone's group, name, school
  and country), and the time to build that whole plan once;
* what a close costs the room in all: the close frame to every socket, plus what the
  pages then fetch. Before, every attendee's page asked for the whole plan at a close
  (`breakouts.get`: the split had come as ids, and it wanted every name), one 82 KB
  reply each at 1,000 people; now no attendee's page asks (plan.js `planNeedsWhole`,
  tests/sessions/breakouts/test_wire.py). And the plan each attendee's page gets when
  it comes back from its group (snapshot) or asks after a missed change: the groups and
  its own place now, the whole plan before.

    .venv/bin/python bench/breakouts.py --people 700 --size 10 --skip-stock
    .venv/bin/python bench/breakouts.py --people 1000 --size 10 --skip-stock

The stock way beside it: filling the groups one person at a time, as a host does by
hand (a manual split, then one `breakout_move` per person). The mixing quality is shown
too: the most people of one school in one group, mixed vs plain random (`mixing.py`).
Bounded (~1 minute on 2 cores); everything is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_BENCH_DB = "openrounds_bench_breakouts"


def fill(people: int) -> int:
    """The main session and its people (25 schools, 20 countries, uneven sizes). Returns its id."""
    import datetime as dt

    from django.utils import timezone

    from server.people.demo import seed_people
    from server.people.models import Institution, Membership, Role, User
    from sessions.models import LiveSession, Participant, SessionKind, SessionStatus

    seed_people()
    countries = ["NG", "DE", "MW", "GH", "JP", "IN", "BR", "GB", "SN", "MZ", "FR", "PT", "EG", "MA", "ZA", "CA", "US", "TZ", "UG", "RW"]
    schools = Institution.objects.bulk_create([
        Institution(name=f"Bench school {n}", country=countries[n % len(countries)], city="City", time_zone="UTC") for n in range(25)
    ])
    host = User.objects.create(username="bench-host", display_name="Bench host")
    Membership.objects.create(user=host, institution=schools[0], role=Role.FACULTY)
    users = User.objects.bulk_create([User(username=f"bench-{n}", display_name=f"Student {n}", password="!") for n in range(people)])
    # Uneven: the first schools are much larger (a big host school and small partners).
    weights = [max(1, 40 - 3 * n) for n in range(25)]
    picks = [school for school, weight in zip(schools, weights, strict=True) for _ in range(weight)]
    Membership.objects.bulk_create([Membership(user=u, institution=picks[n % len(picks)], role=Role.STUDENT) for n, u in enumerate(users)])
    now = timezone.now()
    session = LiveSession.objects.create(
        kind=SessionKind.CASE_CONFERENCE, title="Bench case conference", host=host, presenter=host, institution=schools[0],
        starts_at=now - dt.timedelta(minutes=5), ends_at=now + dt.timedelta(hours=2), capacity=1000, status=SessionStatus.LIVE,
    )
    Participant.objects.create(session=session, user=host, role="host")
    Participant.objects.bulk_create([Participant(session=session, user=u, role="attendee") for u in users])
    return session.pk


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, result


def measure(session_id: int, size: int, rounds: int, skip_stock: bool) -> None:
    from sessions.breakouts import mixing, services
    from sessions.breakouts.selectors import breakout_plan, breakout_plan_for, people_for_split
    from sessions.models import BreakoutGroup, BreakoutMember, LiveSession, RoomEvent
    from sessions.room.fanout import event_frame_dict

    def frame_bytes(seq: int | None) -> int:
        event = RoomEvent.objects.get(session=session, seq=seq)
        return len(json.dumps(event_frame_dict(event), separators=(",", ":")).encode())

    def whole_plan_bytes() -> tuple[int, float]:
        """The stock event: the whole plan (as `breakouts.changed` carried it before), and its build time."""
        started = time.perf_counter()
        plan = breakout_plan(session=session)
        built = (time.perf_counter() - started) * 1000
        payload = {key: plan[key] for key in ("split", "state", "opened_at", "closes_at", "groups", "unassigned")}
        frame = {"type": "breakouts.changed", "seq": 1, "at": "2026-12-05T20:00:00.000000+00:00", "actor": host.pk,
                 "data": {**payload, "at": "2026-12-05T20:00:00.000000+00:00"}}
        return len(json.dumps(frame, separators=(",", ":")).encode()), built

    def reply_bytes(plan: dict) -> int:
        """A `breakouts.state` reply (the same plan is an attendee's snapshot part)."""
        return len(json.dumps({"type": "breakouts.state", "id": "b-6", "plan": plan}, separators=(",", ":")).encode())

    session = LiveSession.objects.get(pk=session_id)
    host = session.host
    results: dict[str, list[float]] = {"split": [], "open": [], "move": [], "close": []}
    event_bytes = 0
    sizes: dict[str, int] = {}
    whole: dict[str, int] = {}
    build_ms: list[float] = []
    for round_ in range(rounds):
        ms, seq = timed(services.breakouts_split, by=host, session=session, group_size=size, seed=round_)
        results["split"].append(ms)
        sizes["split"] = frame_bytes(seq)
        whole["split"], _built = whole_plan_bytes()
        results["open"].append(timed(services.breakouts_open, by=host, session=session, minutes=10)[0])
        groups = list(BreakoutGroup.objects.filter(parent=session).order_by("-split", "number")[:2])
        who = BreakoutMember.objects.filter(group=groups[1]).values_list("user_id", flat=True).first()
        ms, seq = timed(services.breakout_move, by=host, session=session, user_id=who, group_id=groups[0].pk)
        results["move"].append(ms)
        sizes["move"] = frame_bytes(seq)
        whole["move"], built = whole_plan_bytes()
        build_ms.append(built)
        ms, seq = timed(services.breakouts_close, by=host, session=session)
        results["close"].append(ms)
        sizes["close"] = frame_bytes(seq)
        whole["close"], _built = whole_plan_bytes()
        attendee = BreakoutMember.objects.filter(group=groups[0]).select_related("user").first().user
        stock_plan = breakout_plan(session=session, with_candidates=False)  # what an attendee got before
        now_plan = breakout_plan_for(session=session, user=attendee)
        whole["attendee_plan"] = reply_bytes({**stock_plan, "now": now_plan["now"], "can_manage": False})
        sizes["attendee_plan"] = reply_bytes(now_plan)
        event_bytes = whole["move"]
    count = BreakoutGroup.objects.filter(parent=session).order_by("-split").values_list("split", flat=True).first()
    groups_last = BreakoutGroup.objects.filter(parent=session, split=count).count()
    people = BreakoutMember.objects.filter(parent=session, split=count).count()
    print(f"{people} people in {groups_last} groups, {rounds} rounds (median, max):")
    for name, values in results.items():
        print(f"  {name:6s} {statistics.median(values):8.0f} ms  {max(values):8.0f} ms")
    sockets = people + 1
    print(f"  breakouts.changed, bytes per frame (each goes to every main-room socket, {sockets} here):")
    for name in ("move", "split", "close"):
        print(f"    {name:6s} change {sizes[name]:7d} B   whole plan (stock) {whole[name]:7d} B  "
              f"({whole[name] / sizes[name]:.0f}x; per {name} to the room: {sizes[name] * sockets / 1e6:.2f} MB vs "
              f"{whole[name] * sockets / 1e6:.1f} MB)")
    print(f"  building the whole plan once (stock: at every change): median {statistics.median(build_ms):.0f} ms")
    attendees = people
    close_now = sizes["close"] * sockets
    close_before = close_now + attendees * whole["attendee_plan"]
    print(f"  close, to the whole room: now {close_now / 1e6:.2f} MB (the close frame to {sockets} sockets; no page "
          f"asks for the plan) vs before {close_before / 1e6:.1f} MB (+ {attendees} attendee pages asking "
          f"{whole['attendee_plan']} B each)")
    print(f"  an attendee page's plan (snapshot on coming back, or breakouts.get): now {sizes['attendee_plan']} B vs "
          f"before {whole['attendee_plan']} B; {attendees} coming back at a close: "
          f"{attendees * sizes['attendee_plan'] / 1e6:.1f} MB vs {attendees * whole['attendee_plan'] / 1e6:.1f} MB")

    # Mixing quality: the most classmates together in one group.
    persons = people_for_split(session=session)
    school = {p.id: p.school for p in persons}
    mixed = mixing.mixed_groups(persons, size, seed=1)
    plain = mixing.random_groups([p.id for p in persons], size, seed=1)

    def worst(groups: list[list[int]]) -> int:
        return max(Counter(school[i] for i in g).most_common(1)[0][1] for g in groups)

    def spread(groups: list[list[int]]) -> float:
        return statistics.mean(len({school[i] for i in g}) / len(g) for g in groups)

    print(f"  mixing: most of one school in a group {worst(mixed)} (random: {worst(plain)}); "
          f"distinct schools per person {spread(mixed):.2f} (random: {spread(plain):.2f})")

    if skip_stock:
        return
    # The stock way: empty groups, then one move per person (what a host does by hand).
    services.breakouts_split(by=host, session=session, group_size=size, mode="manual")
    groups = list(BreakoutGroup.objects.filter(parent=session).order_by("-split", "number")[:groups_last])
    started = time.perf_counter()
    for n, person in enumerate(persons):
        services.breakout_move(by=host, session=session, user_id=person.id, group_id=groups[n % len(groups)].pk)
    stock = (time.perf_counter() - started) * 1000
    print(f"  stock (one person at a time, {len(persons)} moves): {stock:.0f} ms, "
          f"{len(persons)} change events ({len(persons) * sizes['move'] / 1024 / 1024:.2f} MiB to each main-room socket; "
          f"{len(persons) * event_bytes / 1024 / 1024:.1f} MiB if each carried the whole plan)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--size", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-stock", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}; load {os.getloadavg()[0]:.2f}")
    from bench.scratch_db import scratch_postgres

    started = time.perf_counter()
    with scratch_postgres(PG_BENCH_DB):
        session_id = fill(args.people)
        print(f"setup: {time.perf_counter() - started:.0f} s")
        measure(session_id, args.size, args.rounds, args.skip_stock)

if __name__ == "__main__":
    main()
