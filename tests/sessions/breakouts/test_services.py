"""Breakout groups as services: the mixing spreads schools and countries, moves, open and
close (reports and the room ending), permissions, and bad input refused with nothing lost."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from server.people.errors import InvalidRequest, PermissionRefused
from sessions.breakouts import mixing, services
from sessions.breakouts.selectors import (
    breakout_plan,
    breakout_plan_for,
    breakout_refusal,
    breakout_room_role,
    breakout_stay_refusal,
)
from sessions.models import (
    BreakoutGroup,
    BreakoutMember,
    LiveSession,
    Participant,
    PeerNotes,
    RoomEvent,
    RoomState,
    SessionStatus,
)
from sessions.room.selectors import room_breakout_groups
from sessions.room.services import room_admission

from ..room.conftest import make_session
from .plan_js import run_pages, server_view

STUDENTS = ["amina", "tunde", "chiamaka", "lukas", "greta", "jonas", "yui", "ren", "priya", "arjun", "beatriz", "rafael"]


@pytest.fixture
def main(people):
    """A live case conference of Prof. Tanaka with twelve students of six schools in its room."""
    session = make_session(people, status=SessionStatus.LIVE)
    Participant.objects.create(session=session, user=people.tanaka, role="host")
    for name in STUDENTS:
        Participant.objects.create(session=session, user=getattr(people, name), role="attendee")
    return session


def _groups(session):
    return {g["name"]: {m["id"] for m in g["members"]} for g in breakout_plan(session=session)["groups"]}


def test_mixing_spreads_schools_and_countries_better_than_chance():
    # 30 people: 10 of one school, 5 each of four others; groups of 5.
    people = [mixing.Person(i, "big" if i < 10 else f"s{i % 4}", "NG" if i < 10 else f"C{i % 4}") for i in range(30)]
    groups = mixing.mixed_groups(people, 5, seed=7)
    school = {p.id: p.school for p in people}
    assert sorted(len(g) for g in groups) == [5] * 6
    assert sorted(i for g in groups for i in g) == list(range(30))  # everyone, once
    worst = max(Counter(school[i] for i in g).most_common(1)[0][1] for g in groups)
    assert worst == 2  # 10 people of one school over 6 groups: at most 2 together
    # Every group has at least 3 schools (the most possible here is 5 people of 5 schools).
    assert min(len({school[i] for i in g}) for g in groups) >= 3
    # Plain random groups usually do worse (the stock way).
    random_worst = [max(Counter(school[i] for i in g).most_common(1)[0][1] for g in mixing.random_groups(list(range(30)), 5, seed=s))
                    for s in range(20)]
    assert sum(w > 2 for w in random_worst) > 10


def test_sizes_differ_by_at_most_one():
    people = [mixing.Person(i, f"s{i % 3}", "X") for i in range(31)]
    sizes = [len(g) for g in mixing.mixed_groups(people, 4, seed=1)]
    assert len(sizes) == 8 and max(sizes) - min(sizes) <= 1 and sum(sizes) == 31


def test_split_open_and_close_with_reports_and_attendance(people, main):
    seq = services.breakouts_split(by=people.tanaka, session=main, group_size=3, seed=1)
    plan = breakout_plan(session=main)
    assert plan["state"] == "ready" and len(plan["groups"]) == 4 and plan["unassigned"] == []
    assert RoomEvent.objects.get(session=main, seq=seq).type == "breakouts.changed"
    for group in plan["groups"]:  # six schools, groups of three: nobody sits with a classmate
        schools = [m["school"] for m in group["members"]]
        assert len(schools) == 3 and len(set(schools)) == 3
    first = BreakoutGroup.objects.filter(parent=main).order_by("number").first()
    room = first.room
    member = BreakoutMember.objects.filter(group=first).first().user
    outsider = BreakoutMember.objects.exclude(group=first).first().user
    # Not open yet: nobody enters.
    assert breakout_refusal(room, member)[0] == "group_not_open"

    services.breakouts_open(by=people.tanaka, session=main, minutes=10)
    room.refresh_from_db()
    assert room.status == SessionStatus.LIVE
    assert breakout_room_role(room, member) == "attendee"
    assert breakout_room_role(room, people.tanaka) == "host"
    refused = room_admission(session=room, user=outsider)
    assert (refused.outcome, refused.code, refused.close_code) == ("refused", "not_in_group", 4403)
    assert "not in this breakout group" in refused.message

    Participant.objects.create(session=room, user=member, role="attendee")
    PeerNotes.objects.create(session=room, text="Group 1: ECG shows ST elevation", version=1)
    services.breakouts_broadcast(by=people.tanaka, session=main, text="Five minutes left")
    assert RoomEvent.objects.filter(session=room, type="breakout.message").count() == 1

    services.breakouts_close(by=people.tanaka, session=main)
    plan = breakout_plan(session=main)
    assert plan["state"] == "closed"
    assert plan["groups"][0]["report"] == "Group 1: ECG shows ST elevation"
    types = list(RoomEvent.objects.filter(session=room).order_by("seq").values_list("type", flat=True))
    assert types[-2:] == ["breakout.closed", "room.ended"]
    assert RoomState.objects.get(pk=room.pk).ended_at is not None
    assert room_admission(session=room, user=member).code == "room_ended"
    assert services.breakouts_close(by=people.tanaka, session=main) is None  # twice is harmless
    assert room_breakout_groups(session=main)[member.pk] == "Group 1"


def test_move_before_and_while_open(people, main):
    services.breakouts_split(by=people.tanaka, session=main, group_size=4, seed=2)
    groups = list(BreakoutGroup.objects.filter(parent=main).order_by("number"))
    who = BreakoutMember.objects.filter(group=groups[0]).first().user
    services.breakout_move(by=people.tanaka, session=main, user_id=who.pk, group_id=groups[1].pk)
    assert who.pk in _groups(main)["Group 2"]
    services.breakouts_open(by=people.tanaka, session=main, minutes=5)
    services.breakout_move(by=people.tanaka, session=main, user_id=who.pk, group_id=groups[2].pk)
    moved = RoomEvent.objects.get(session=groups[1].room, type="breakout.moved")
    assert moved.visible_to == [who.pk] and moved.payload["url"] == f"/rooms/{groups[2].room_id}/"
    assert breakout_refusal(groups[1].room, who)[0] == "not_in_group"
    assert breakout_refusal(groups[2].room, who) is None
    # The old room's sockets of the person moved must end; the new room's and the host's stay.
    assert breakout_stay_refusal(groups[1].room, who)[0] == "not_in_group"
    assert breakout_stay_refusal(groups[2].room, who) is None
    assert breakout_stay_refusal(groups[1].room, people.tanaka) is None
    services.breakout_move(by=people.tanaka, session=main, user_id=who.pk, group_id=None)
    assert who.pk in {m["id"] for m in breakout_plan(session=main)["unassigned"]}


def test_the_host_gets_the_whole_plan_an_attendee_the_groups_and_their_own_place(people, main):
    services.breakouts_split(by=people.tanaka, session=main, group_size=3, seed=1)
    hosts = breakout_plan_for(session=main, user=people.tanaka)
    assert hosts["can_manage"] is True and sum(len(g["members"]) for g in hosts["groups"]) == 12
    assert all(m["school"] for g in hosts["groups"] for m in g["members"])
    amina = breakout_plan_for(session=main, user=people.amina)
    mine = BreakoutMember.objects.get(parent=main, user=people.amina).group_id
    assert amina["can_manage"] is False and amina["version"] == hosts["version"] and "now" in amina
    assert [g["id"] for g in amina["groups"]] == [g["id"] for g in hosts["groups"]]
    assert {g["id"]: g["members"] for g in amina["groups"]} == {
        g["id"]: [{"id": people.amina.pk, "name": people.amina.name}] if g["id"] == mine else [] for g in hosts["groups"]
    }
    # Only main rooms have a plan: a group's room (or a consult) is refused with its reason.
    with pytest.raises(InvalidRequest) as refused:
        breakout_plan_for(session=BreakoutGroup.objects.get(pk=mine).room, user=people.tanaka)
    assert refused.value.code == "not_splittable"


def test_manual_split_makes_empty_groups(people, main):
    services.breakouts_split(by=people.tanaka, session=main, group_size=4, mode="manual", groups=2)
    plan = breakout_plan(session=main)
    assert [len(g["members"]) for g in plan["groups"]] == [0, 0] and len(plan["unassigned"]) == 12


def test_only_the_host_and_cohosts_manage(people, main):
    with pytest.raises(PermissionRefused):
        services.breakouts_split(by=people.amina, session=main, group_size=3)
    Participant.objects.filter(session=main, user=people.lukas).update(role="host")  # a co-host
    services.breakouts_split(by=people.lukas, session=main, group_size=3)
    with pytest.raises(PermissionRefused):
        services.breakouts_open(by=people.amina, session=main, minutes=5)
    with pytest.raises(PermissionRefused):
        services.breakouts_close(by=people.amina, session=main)


def test_bad_input_is_refused_and_nothing_is_lost(people, main):
    services.breakouts_split(by=people.tanaka, session=main, group_size=3, seed=3)
    before = _groups(main)
    for call, code in [
        (lambda: services.breakouts_split(by=people.tanaka, session=main, group_size=1), "wrong_field"),
        (lambda: services.breakouts_split(by=people.tanaka, session=main, group_size=3, mode="alphabetical"), "wrong_field"),
        (lambda: services.breakouts_open(by=people.tanaka, session=main, minutes=0), "wrong_field"),
        (lambda: services.breakouts_open(by=people.tanaka, session=main, minutes=100000), "wrong_field"),
        (lambda: services.breakout_move(by=people.tanaka, session=main, user_id=people.amina.pk, group_id=999999), "not_found"),
        (lambda: services.breakout_move(by=people.tanaka, session=main, user_id=people.okafor.pk, group_id=None), "not_found"),
        (lambda: services.breakouts_broadcast(by=people.tanaka, session=main, text="hello"), "no_groups"),
    ]:
        with pytest.raises(InvalidRequest) as refused:
            call()
        assert refused.value.code == code and refused.value.message
    assert _groups(main) == before
    services.breakouts_open(by=people.tanaka, session=main, minutes=5)
    with pytest.raises(InvalidRequest) as refused:
        services.breakouts_split(by=people.tanaka, session=main, group_size=3)
    assert refused.value.code == "groups_open" and _groups(main) == before
    with pytest.raises(InvalidRequest):
        services.breakouts_broadcast(by=people.tanaka, session=main, text="   ")


def test_groups_close_by_themselves_when_time_is_up(people, main):
    services.breakouts_split(by=people.tanaka, session=main, group_size=6, seed=4)
    services.breakouts_open(by=people.tanaka, session=main, minutes=1)
    assert services.breakouts_close_due(session_id=main.pk) is None
    assert services.breakouts_close_due(session_id=main.pk, now=timezone.now() + timedelta(minutes=2)) is not None
    assert breakout_plan(session=main)["state"] == "closed"
    assert set(LiveSession.objects.filter(breakout_group__parent=main).values_list("status", flat=True)) == {SessionStatus.ENDED}


def test_a_new_split_replaces_unopened_groups(people, main):
    services.breakouts_split(by=people.tanaka, session=main, group_size=3, seed=5)
    services.breakouts_split(by=people.tanaka, session=main, group_size=6, seed=5)
    assert BreakoutGroup.objects.filter(parent=main).count() == 2
    assert BreakoutMember.objects.filter(parent=main).count() == 12


def test_the_hosts_attendance_export_names_each_persons_group(people, main, client):
    from sessions.models import Attendance

    services.breakouts_split(by=people.tanaka, session=main, group_size=6, seed=6)
    services.breakouts_open(by=people.tanaka, session=main, minutes=5)
    Attendance.objects.create(session=main, user=people.amina)
    group = BreakoutMember.objects.get(parent=main, user=people.amina).group.name
    client.force_login(people.tanaka)
    response = client.get(f"/rooms/{main.pk}/attendance.csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].endswith(",breakout_groups")
    assert lines[1].startswith("Amina") and lines[1].endswith("," + group)


def test_the_ended_sessions_record_keeps_the_groups_notes(people, main, client):
    from sessions.room.services import room_end

    services.breakouts_split(by=people.tanaka, session=main, group_size=12, seed=7)
    services.breakouts_open(by=people.tanaka, session=main, minutes=5)
    group = BreakoutGroup.objects.get(parent=main)
    PeerNotes.objects.create(session=group.room, text="Differential: <PE> & aortic dissection", version=1)
    services.breakouts_close(by=people.tanaka, session=main)
    room_end(session_id=main.pk, user=people.tanaka)
    client.force_login(people.amina)
    page = client.get(f"/rooms/{main.pk}/").content.decode()
    assert "Breakout groups: report-back" in page
    assert "Differential: &lt;PE&gt; &amp; aortic dissection" in page


def test_group_rooms_stay_out_of_the_hosts_schedule_and_calendar(people, main):
    from sessions.scheduling.selectors import user_calendar_sessions, user_schedule

    services.breakouts_split(by=people.tanaka, session=main, group_size=3, seed=8)
    assert list(user_schedule(user=people.tanaka)) == [main]
    assert list(user_calendar_sessions(user=people.tanaka)) == [main]


def test_the_changes_applied_in_order_by_the_real_plan_js_are_the_whole_plan_and_a_missed_one_is_seen(people, main):
    """The stored `breakouts.changed` events, applied by the page's own plan.js (node), give
    the plan the server has, checkpoint after checkpoint; a page that missed one sees the gap."""
    first = breakout_plan(session=main)
    assert first["version"] == 0 and first["state"] == "none"
    steps: list[dict] = []
    expected: list[dict] = []
    done = 0

    def catch_up() -> None:
        """The events since the last checkpoint, then a checkpoint (the server's plan now)."""
        nonlocal done
        events = list(RoomEvent.objects.filter(session=main, type="breakouts.changed", seq__gt=done).order_by("seq"))
        done = events[-1].seq if events else done
        steps.extend({"change": event.payload} for event in events)
        steps.append({"view": True})
        expected.append(server_view(breakout_plan(session=main)))

    services.breakouts_split(by=people.tanaka, session=main, group_size=4, mode="manual", groups=3)
    catch_up()
    groups = list(BreakoutGroup.objects.filter(parent=main).order_by("number"))
    for n, name in enumerate(STUDENTS):
        services.breakout_move(by=people.tanaka, session=main, user_id=getattr(people, name).pk, group_id=groups[n % 3].pk)
    catch_up()
    services.breakouts_open(by=people.tanaka, session=main, minutes=5)
    services.breakout_move(by=people.tanaka, session=main, user_id=people.amina.pk, group_id=None)
    PeerNotes.objects.create(session=groups[1].room, text="Dengue: warning signs first", version=1)
    services.breakouts_close(by=people.tanaka, session=main)
    catch_up()

    changes = list(RoomEvent.objects.filter(session=main, type="breakouts.changed").order_by("seq"))
    last = [{"change": changes[-1].payload}]
    stale = {"can_manage": True, "full": {**breakout_plan(session=main), "version": 1}, "steps": last}
    current = {"can_manage": True, "full": breakout_plan(session=main), "steps": last}
    hosts = {"can_manage": True, "full": first, "steps": [{"change": changes[0].payload}]}
    # The first page is an attendee's (it never asks for names; the host's asks once, below).
    held, missed, again, host = run_pages([{"can_manage": False, "full": first, "steps": steps}, stale, current, hosts])
    views = [answer for answer in held if "groups" in answer]
    applied = [answer for answer in held if "outcome" in answer]
    assert len(applied) == len(changes) == 1 + 12 + 3
    assert all(answer == {"outcome": "applied", "needs_whole": False} for answer in applied)
    assert views == expected  # after the split, after the 12 moves, after open, a move and close
    assert views[-1]["state"] == "closed" and views[-1]["unassigned"] == []  # closed: nobody "in no group"
    assert next(g for g in views[-1]["groups"] if g["id"] == groups[1].pk)["report"] == "Dengue: warning signs first"

    # Every change is small: a move carries one person, not the plan.
    move = changes[3]
    assert move.payload["moves"] and len(move.payload["people"]) == 1 and move.payload["groups"] == []
    # A page that missed a change sees the gap (and asks for the whole plan); one that has it, ignores it.
    assert missed == [{"outcome": "gap", "needs_whole": True}]
    # The host's page lists everyone: a split of people it has no card of makes it ask (once).
    assert host == [{"outcome": "applied", "needs_whole": True}]
    assert again == [{"outcome": "old", "needs_whole": False}]


def test_every_process_finds_the_deadline_and_only_one_closes(people, main):
    services.breakouts_split(by=people.tanaka, session=main, group_size=6, seed=4)
    services.breakouts_open(by=people.tanaka, session=main, minutes=3)
    closes_at = BreakoutGroup.objects.filter(parent=main).first().closes_at
    assert services.breakouts_deadlines(before=timezone.now()) == []
    assert services.breakouts_deadlines(before=timezone.now() + timedelta(minutes=4)) == [(str(main.pk), closes_at)]
    BreakoutGroup.objects.filter(parent=main).update(closes_at=timezone.now() - timedelta(seconds=1))
    assert services.breakouts_deadline_run(key=str(main.pk)) is not None  # the first timer closes
    assert services.breakouts_deadline_run(key=str(main.pk)) is None  # any other finds them closed
    assert services.breakouts_deadlines(before=timezone.now() + timedelta(minutes=4)) == []
    assert RoomEvent.objects.filter(session=main, type="breakouts.changed", payload__state="closed").count() == 1


@pytest.mark.realservices
@pytest.mark.django_db(transaction=True)
def test_timers_of_many_processes_at_once_close_the_groups_once(people, main):
    """PostgreSQL: eight threads (as eight processes' timers) at the deadline; the plan's row
    lock lets one close, the others wait and find the groups closed."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    from tests.conftest import need_component

    need_component("PostgreSQL test database", connection.vendor == "postgresql")
    services.breakouts_split(by=people.tanaka, session=main, group_size=6, seed=4)
    services.breakouts_open(by=people.tanaka, session=main, minutes=3)
    BreakoutGroup.objects.filter(parent=main).update(closes_at=timezone.now())

    def timer() -> int | None:
        try:
            return services.breakouts_deadline_run(key=str(main.pk))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _n: timer(), range(8)))
    assert sum(seq is not None for seq in outcomes) == 1
    assert RoomEvent.objects.filter(session=main, type="breakouts.changed", payload__state="closed").count() == 1
    rooms = list(BreakoutGroup.objects.filter(parent=main).values_list("room_id", flat=True))
    assert RoomEvent.objects.filter(session_id__in=rooms, type="breakout.closed").count() == len(rooms)
