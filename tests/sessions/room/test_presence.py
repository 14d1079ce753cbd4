"""Presence survives this process being swept as dead by another one while it was alive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import RoomConnection, RoomProcess
from sessions.room import fanout
from sessions.room.presence import room_connections_sweep

from .conftest import db, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]


async def test_a_process_swept_while_alive_puts_its_people_back_at_its_next_beat(people, live):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    await host.expect(lambda m: m["type"] == "presence" and any(c["user_id"] == people.amina.pk for c in m["data"]["joined"]))
    node = fanout.get_node()

    # Our beats were late past the TTL (a busy database thread, a paused VM): another
    # process sweeps us, deleting our connection rows.
    await db(lambda: RoomProcess.objects.filter(pk=node.process_id).update(last_seen=timezone.now() - timedelta(minutes=5)))
    swept = await db(room_connections_sweep, ttl_seconds=20)
    assert swept == {live.pk: {people.tanaka.pk, people.amina.pk}}
    assert await db(lambda: RoomConnection.objects.filter(process_id=node.process_id).count()) == 0

    # Our next beat notices and restores both sockets' rows.
    await node._beat()
    assert node._restoring is not None
    await node._restoring
    rows = await db(lambda: sorted(RoomConnection.objects.filter(process_id=node.process_id).values_list("user_id", flat=True)))
    assert rows == sorted([people.tanaka.pk, people.amina.pk])

    # So a presence check (any process's sweep looks for attendance without sockets)
    # does not show amina leaving while she is here...
    await node._sweep()
    assert await host.nothing(timeout=0.3)
    # ...and she is shown leaving when she does.
    await amina.close()
    await host.expect(lambda m: m["type"] == "presence" and people.amina.pk in m["data"]["left"])
    await host.close()


async def test_a_socket_closed_while_its_row_was_being_restored_leaves_no_row_behind(people, live):
    amina = await open_socket(people.amina, live.pk)
    node = fanout.get_node()
    await db(lambda: RoomProcess.objects.filter(pk=node.process_id).update(last_seen=timezone.now() - timedelta(minutes=5)))
    await db(room_connections_sweep, ttl_seconds=20)
    node.restore_soon()  # reads the live sockets now
    await amina.close()  # and amina's socket closes before the restore is written
    await node._restoring
    assert await db(lambda: RoomConnection.objects.filter(user=people.amina).count()) == 0


async def test_someone_whose_process_died_before_recording_their_join_is_shown_leaving(people, live):
    """Joins are recorded a moment after the socket opens; a process can die in that moment."""
    from sessions.models import Attendance

    host = await open_socket(people.tanaka, live.pk)
    await host.expect(lambda m: m["type"] == "presence")
    node = fanout.get_node()

    def dead_process_with_amina() -> None:
        dead = RoomProcess.objects.create(pk="dead-process", last_seen=timezone.now() - timedelta(minutes=5))
        RoomConnection.objects.create(channel_name="dead!amina", process=dead, session=live, user=people.amina)

    await db(dead_process_with_amina)
    await node._sweep()
    await host.expect(lambda m: m["type"] == "presence" and people.amina.pk in m["data"]["left"])
    visits = await db(lambda: list(Attendance.objects.filter(session=live, user=people.amina).values_list("left_at", flat=True)))
    assert len(visits) == 1 and visits[0] is not None, "her visit is on the record, and closed"
    await host.close()
