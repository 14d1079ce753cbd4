"""Breakout groups through the room's socket: the host splits and opens over the wire, a
member enters their group's room, a person of another group is refused (close 4403 with
`not_in_group`), an attendee cannot manage groups, and closing sends everyone back."""

from __future__ import annotations

import json

import pytest

from sessions.models import BreakoutGroup, BreakoutMember, Participant, SessionStatus

from ..room.conftest import db, make_session, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_a_person_not_in_a_group_is_refused_by_its_room(people, room_node):
    main = await db(make_session, people, status=SessionStatus.LIVE)
    host = await open_socket(people.tanaka, main.pk)
    students = [people.amina, people.lukas, people.yui, people.priya]
    sockets = [await open_socket(user, main.pk) for user in students]
    assert "breakouts" in host.snapshot and host.snapshot["breakouts"]["can_manage"] is True
    assert sockets[0].snapshot["breakouts"]["can_manage"] is False

    refused = await sockets[0].call("breakouts.split", mode="mixed", group_size=2)
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    ack = await host.call("breakouts.split", mode="mixed", group_size=2)
    assert ack["type"] == "ack"
    changed = await sockets[0].expect_type("breakouts.changed")
    assert changed["data"]["state"] == "ready" and len(changed["data"]["groups"]) == 2
    assert (await host.call("breakouts.open", minutes=5))["type"] == "ack"

    groups = await db(lambda: list(BreakoutGroup.objects.filter(parent=main).order_by("number")))
    first = groups[0]
    members = await db(lambda: set(BreakoutMember.objects.filter(group=first).values_list("user_id", flat=True)))
    inside = next(user for user in students if user.pk in members)
    outside = next(user for user in students if user.pk not in members)

    member = await open_socket(inside, first.room_id)
    assert member.snapshot["breakout"]["group"]["name"] == "Group 1"
    assert member.snapshot["breakout"]["parent"]["url"] == f"/rooms/{main.pk}/"
    assert member.snapshot["peer"]["notes"]["version"] == 0  # the group's shared notes

    stranger = await open_socket(outside, first.room_id, expect_snapshot=False)
    error = await stranger.expect_type("error")
    assert error["code"] == "not_in_group" and "not in this breakout group" in error["message"]
    assert await stranger.closed_with() == 4403

    chat = await member.call("chat.send", text="Hello group")
    assert chat["type"] == "ack"
    saved = await member.call("notes.save", text="We think it is an inferior STEMI", base_version=0)
    assert saved["type"] == "ack"

    assert (await host.call("breakouts.close"))["type"] == "ack"
    closed = await member.expect_type("breakout.closed")
    assert closed["data"]["return_url"] == f"/rooms/{main.pk}/"
    assert await member.closed_with() == 4410
    report = await db(lambda: BreakoutGroup.objects.get(pk=first.pk).report)
    assert report == "We think it is an inferior STEMI"
    assert await db(lambda: Participant.objects.filter(session_id=first.room_id, user=inside).exists())
    for sock in [host, *sockets]:
        await sock.close()


async def test_groups_close_at_their_deadline_after_the_opening_process_is_gone(people, room_node, settings):
    """The deadline is in the database, not in the process that opened the groups: that
    process's node stops (as if it died), a fresh node (no timer of the opener's) keeps
    the deadline, and everyone is told on time: the group's member (`breakout.closed`,
    close 4410) and the main room (`breakouts.changed`, state closed, next version)."""
    import time
    from datetime import timedelta

    from django.utils import timezone

    from sessions.room import fanout

    settings.ROOM_SWEEP_SECONDS = 0.5
    main = await db(make_session, people, status=SessionStatus.LIVE)
    host = await open_socket(people.tanaka, main.pk)
    students = [await open_socket(user, main.pk) for user in (people.amina, people.lukas)]
    assert (await host.call("breakouts.split", mode="mixed", group_size=2))["type"] == "ack"
    assert (await host.call("breakouts.open", minutes=1))["type"] == "ack"
    for sock in [host, *students]:
        await sock.close()
    await fanout.node_shutdown()  # the opening process is gone, with anything it kept in memory

    group = await db(lambda: BreakoutGroup.objects.get(parent=main))
    deadline = timezone.now() + timedelta(seconds=1.5)  # the minute is nearly over
    await db(lambda: BreakoutGroup.objects.filter(pk=group.pk).update(closes_at=deadline))
    member = await open_socket(people.amina, group.room_id)  # a fresh node starts with this socket
    watcher = await open_socket(people.tanaka, main.pk)
    version = watcher.snapshot["breakouts"]["version"]
    assert watcher.snapshot["breakouts"]["state"] == "open"

    closed = await member.expect_type("breakout.closed", timeout=5)
    late = time.time() - deadline.timestamp()
    assert closed["data"]["return_url"] == f"/rooms/{main.pk}/"
    assert late < 1.5, f"closed {late:.2f} s after the deadline"  # typically ~0.1 s; CI machines are loaded
    assert await member.closed_with() == 4410
    changed = await watcher.expect_type("breakouts.changed")
    assert changed["data"]["state"] == "closed" and changed["actor"] is None
    assert changed["data"]["base_version"] == version and changed["data"]["version"] == version + 1
    assert await db(lambda: BreakoutGroup.objects.get(pk=group.pk).closed_at) is not None
    await watcher.close()


async def test_a_move_sends_only_the_change_and_a_client_that_missed_one_gets_the_whole_plan(people, room_node):
    main = await db(make_session, people, status=SessionStatus.LIVE)
    host = await open_socket(people.tanaka, main.pk)
    students = [await open_socket(user, main.pk) for user in (people.amina, people.lukas, people.yui, people.priya)]
    assert (await host.call("breakouts.split", mode="mixed", group_size=2))["type"] == "ack"
    split = (await students[0].expect_type("breakouts.changed"))["data"]
    assert split["replace"] is True and split["base_version"] == 0 and split["version"] == 1
    assert sorted(uid for g in split["groups"] for uid in g["members"]) == sorted(s.user.pk for s in students)
    assert "school" not in json.dumps(split["groups"])  # ids, not cards

    first, second = split["groups"]
    who = first["members"][0]
    assert (await host.call("breakouts.move", user_id=who, group_id=second["id"]))["type"] == "ack"
    moved = await students[1].expect(lambda m: m["type"] == "breakouts.changed" and m["data"]["version"] == 2)
    data = moved["data"]
    assert (data["base_version"], data["version"], data["replace"]) == (1, 2, False)
    assert data["moves"] == [[who, second["id"]]] and [p["id"] for p in data["people"]] == [who]
    assert data["groups"] == [] and len(json.dumps(moved)) < 600
    # Moving someone where they already are stores nothing.
    again = await host.call("breakouts.move", user_id=who, group_id=second["id"])
    assert again["type"] == "ack" and again["seq"] is None

    # A client that missed version 2 asks for the whole plan, which is at version 2.
    reply_id = "get-1"
    await students[2].send({"type": "breakouts.get", "id": reply_id})
    state = await students[2].expect(lambda m: m.get("type") == "breakouts.state")
    assert state["id"] == reply_id and state["plan"]["version"] == 2
    groups = {g["id"]: {m["id"] for m in g["members"]} for g in state["plan"]["groups"]}
    assert who in groups[second["id"]] and who not in groups[first["id"]]
    assert state["plan"]["can_manage"] is False
    for sock in [host, *students]:
        await sock.close()
