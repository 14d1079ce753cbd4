"""Breakout groups close on time when the process that opened them dies: two real daphne
processes on one Redis and PostgreSQL, the host opens the groups through one, that one is
killed (-9), and the other closes the groups at their deadline and tells everyone. Before
that, a member moved out of the open group through the host's process is closed out of
the group's room by the other process (error `not_in_group`, close 4403 read off the
real socket)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.utils import timezone

from sessions.models import BreakoutGroup, SessionStatus
from tests.conftest import need_component

from ..room.conftest import make_session
from ..room.test_multiprocess import FAST_PRESENCE, Client, _cookies, own_redis  # noqa: F401  (own_redis is a fixture)

pytestmark = [pytest.mark.realservices, pytest.mark.django_db(transaction=True)]


async def test_groups_close_at_the_deadline_when_the_opening_process_was_killed(people, server_process_factory, own_redis):  # noqa: F811
    from websockets.exceptions import ConnectionClosed

    need_component("PostgreSQL test database", connection.vendor == "postgresql")
    env = {"REDIS_URL": own_redis.url, "ROOM_FANOUT_CHANNEL": f"test-room-{uuid.uuid4().hex[:8]}", **FAST_PRESENCE}
    main = await database_sync_to_async(make_session)(people, status=SessionStatus.LIVE)
    host_cookie, amina_cookie, lukas_cookie = await database_sync_to_async(_cookies)(people.tanaka, people.amina, people.lukas)
    a, b = await asyncio.gather(asyncio.to_thread(server_process_factory, **env), asyncio.to_thread(server_process_factory, **env))

    host = Client(a.port, main.pk, host_cookie)
    await host.open()
    for cookie in (amina_cookie, lukas_cookie):  # both students are in the main room (through B)
        student = Client(b.port, main.pk, cookie)
        await student.open()
        await student.ws.close()
    await host.ws.send('{"type": "breakouts.split", "id": "s", "mode": "mixed", "group_size": 2}')
    await host.next(lambda m: m.get("id") == "s" and m["type"] == "ack")
    await host.ws.send('{"type": "breakouts.open", "id": "o", "minutes": 1}')
    await host.next(lambda m: m.get("id") == "o" and m["type"] == "ack")
    group = await database_sync_to_async(lambda: BreakoutGroup.objects.get(parent=main))()
    members = [Client(b.port, group.room_id, cookie) for cookie in (amina_cookie, lukas_cookie)]
    for member in members:
        await member.open()

    # Moved out while open (the host on A, Amina's socket on B): B closes her socket.
    moved, members = members[0], members[1:]
    await host.ws.send(json.dumps({"type": "breakouts.move", "id": "m", "user_id": people.amina.pk, "group_id": 0}))
    await host.next(lambda m: m.get("id") == "m" and m["type"] == "ack")
    told = await moved.next(lambda m: m["type"] == "breakout.moved")
    assert told["data"]["url"] == f"/rooms/{main.pk}/"
    error = await moved.next(lambda m: m["type"] == "error")
    assert error["code"] == "not_in_group"
    with pytest.raises(ConnectionClosed) as refused:
        await moved.next(lambda m: False, timeout=5)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4403

    # The opening process dies; the minute is nearly over (the deadline is in the database).
    await asyncio.to_thread(a.kill)
    deadline = timezone.now() + timedelta(seconds=3)
    await database_sync_to_async(lambda: BreakoutGroup.objects.filter(pk=group.pk).update(closes_at=deadline))()

    for member in members:
        closed = await member.next(lambda m: m["type"] == "breakout.closed", timeout=10)
        late = time.time() - deadline.timestamp()
        assert closed["data"]["return_url"] == f"/rooms/{main.pk}/"
        assert -0.01 < late < 1.5, f"closed {late:.2f} s after the deadline"
        with pytest.raises(ConnectionClosed) as ended:
            await member.next(lambda m: False, timeout=5)
        assert ended.value.rcvd is not None and ended.value.rcvd.code == 4410
    assert await database_sync_to_async(lambda: BreakoutGroup.objects.get(pk=group.pk).report)() == ""

    # The host, back through the surviving process, is told the groups closed (no actor: the time).
    last = host.last_seq
    host.port = b.port
    await host.open(since=last)
    assert host.snapshot["breakouts"]["state"] == "closed"
    closing = [m for m in host.snapshot["events"] if m["type"] == "breakouts.changed" and m["data"]["state"] == "closed"]
    assert len(closing) == 1 and closing[0]["actor"] is None
    await host.ws.close()
