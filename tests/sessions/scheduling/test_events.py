"""Scheduling writes tell an open room through the channel layer, after commit only."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from sessions.scheduling import services
from sessions.scheduling.events import session_group_name

pytestmark = pytest.mark.django_db


def test_registration_sends_one_event_to_the_session_group_after_commit(people, make_session, django_capture_on_commit_callbacks):
    session = make_session(people.tanaka)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.session_register(user=people.amina, session=session)
    assert len(callbacks) == 1  # queued for after commit, not sent yet

    async def listen_then_commit() -> dict:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(session_group_name(session.pk), channel)
        await sync_to_async(callbacks[0])()  # the commit happens
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    message = async_to_sync(listen_then_commit)()
    assert message == {"type": "schedule.event", "event": "registration.changed", "session_id": session.pk,
                       "user_id": people.amina.pk, "state": "registered"}
