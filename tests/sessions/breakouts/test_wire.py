"""Breakout groups through the room's socket: the host splits and opens over the wire, a
member enters their group's room, a person of another group is refused (close 4403 with
`not_in_group`), an attendee cannot manage groups, and closing sends everyone back."""

from __future__ import annotations

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
