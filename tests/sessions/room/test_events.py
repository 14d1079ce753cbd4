"""Room events have declared payloads (sessions/room/events.py).

The test settings make the check strict, so every event any test emits is checked
against its schema; these tests show what the check refuses and that every part declared
the events it emits.
"""

from __future__ import annotations

import pytest

from sessions.room.events import EventSchemaError, room_event_emit, room_event_problems, room_event_types


def test_a_payload_is_checked_against_its_schema():
    assert room_event_problems("hand.raised", {"user_id": 3, "at": "2026-12-05T10:00:00+00:00"}) == []
    assert room_event_problems("hand.raised", {"user_id": "3", "at": "x"}) == ["hand.raised: 'user_id' is a str, expected int"]
    assert room_event_problems("hand.raised", {"user_id": True, "at": "x"}) == ["hand.raised: 'user_id' is a bool, expected int"]
    assert room_event_problems("hand.raised", {"at": "x"}) == ["hand.raised: 'user_id' is missing"]
    assert room_event_problems("room.ended", {"why": 1}) == ["room.ended: 'why' is not in its schema"]
    assert room_event_problems("media.recording", {"active": False}) == []  # "discarded" is optional
    assert room_event_problems("no.such.event", {}) == ["event type 'no.such.event' is not declared (room_event_type)"]


def test_every_part_declares_its_events():
    declared = set(room_event_types())
    room = {"chat.message", "presence", "poll.opened", "participant.role", "lobby.waiting", "room.ended"}
    parts = {"media.moved", "media.recording", "slides.page", "notes.changed", "note.signed", "consult.guidance",
             "connection.mode", "consent.changed"}
    assert room | parts <= declared


@pytest.mark.django_db
def test_an_event_that_does_not_match_is_refused_and_nothing_is_stored(live):
    from sessions.models import RoomEvent

    with pytest.raises(EventSchemaError, match="'text' is missing"):
        room_event_emit(session_id=live.pk, type="chat.message", payload={"user_id": 1, "name": "A"})
    assert not RoomEvent.objects.filter(session_id=live.pk).exists()


@pytest.mark.django_db
def test_outside_the_tests_a_mismatch_is_logged_and_the_event_still_goes_out(live, settings, caplog):
    settings.ROOM_EVENT_SCHEMAS_STRICT = False
    seq = room_event_emit(session_id=live.pk, type="chat.message", payload={"user_id": 1, "name": "A"})
    assert seq == 1
    assert "'text' is missing" in caplog.text
