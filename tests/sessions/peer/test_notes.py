"""The shared notes as services: versions, the splice each change sends, refusals, and two saves at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from server.people.errors import InvalidRequest, PermissionRefused
from sessions.models import Participant, PeerNotes, RoomEvent, RoomState
from sessions.peer import notes
from sessions.peer.selectors import peer_notes_read

from .conftest import make_peer_session


@pytest.fixture
def peer(people):
    """A live peer session with Amina (host), Lukas and Yui, all three admitted to its room."""
    session = make_peer_session(people)
    for user, role in ((people.amina, "host"), (people.lukas, "attendee"), (people.yui, "attendee")):
        Participant.objects.create(session=session, user=user, role=role)
    return session


def _apply(text: str, payload: dict) -> str:
    """Apply an event's splice the way a browser does: positions in UTF-16 code units."""
    units = text.encode("utf-16-le")
    before, after = units[: payload["start"] * 2], units[payload["end"] * 2:]
    return (before + payload["insert"].encode("utf-16-le") + after).decode("utf-16-le")


@pytest.mark.parametrize(("old", "new"), [
    ("", "Questions for Lagos"),
    ("Questions for Lagos", "Questions for Lagos and Heidelberg"),
    ("abc def ghi", "abc ghi"),
    ("aaaa", "aaaaa"),
    ("Fièvre 🦟 paludisme", "Fièvre 🦟🦟 paludisme grave"),
    ("🦟 a", "🦠 a"),
    ("same", "same"),
])
def test_each_change_is_one_splice_in_utf16_positions(old, new):
    splice = notes.text_splice(old, new)
    assert _apply(old, {"start": splice.start, "end": splice.end, "insert": splice.insert}) == new


def test_a_save_raises_the_version_and_stores_its_event_with_the_change(people, peer):
    seq = notes.peer_notes_save(by=people.amina, session=peer, text="Malaria: Lagos uses AL", base_version=0, save_id="a-1")
    stored = PeerNotes.objects.get(session=peer)
    assert (stored.text, stored.version, stored.updated_by, stored.last_save_id) == ("Malaria: Lagos uses AL", 1, people.amina, "a-1")
    event = RoomEvent.objects.get(session=peer, seq=seq)
    assert event.type == "notes.changed" and event.actor_id == people.amina.pk and event.client_id == "a-1"
    assert event.payload["version"] == 1 and event.payload["base_version"] == 0
    assert _apply("", event.payload) == "Malaria: Lagos uses AL"
    seq2 = notes.peer_notes_save(by=people.lukas, session=peer, text="Malaria: Lagos uses AL\nGermany: travellers", base_version=1)
    change = RoomEvent.objects.get(session=peer, seq=seq2).payload
    assert (change["start"], change["end"], change["insert"]) == (22, 22, "\nGermany: travellers")
    assert change["by"] == {"id": people.lukas.pk, "name": people.lukas.name}


def test_a_save_on_an_outdated_version_is_refused_with_the_current_notes(people, peer):
    notes.peer_notes_save(by=people.amina, session=peer, text="Amina's line", base_version=0)
    with pytest.raises(notes.NotesConflict) as refused:
        notes.peer_notes_save(by=people.lukas, session=peer, text="Lukas's line", base_version=0)
    assert refused.value.code == "notes_conflict"
    assert refused.value.current["version"] == 1 and refused.value.current["text"] == "Amina's line"
    assert refused.value.current["updated_by"]["name"] == people.amina.name
    assert PeerNotes.objects.get(session=peer).text == "Amina's line"
    assert RoomEvent.objects.filter(session=peer, type="notes.changed").count() == 1


def test_an_unchanged_text_stores_nothing_and_white_space_around_the_text_is_not_kept(people, peer):
    notes.peer_notes_save(by=people.amina, session=peer, text="\n  Plan\r\nsecond line  \n", base_version=0)
    assert PeerNotes.objects.get(session=peer).text == "Plan\nsecond line"
    assert notes.peer_notes_save(by=people.amina, session=peer, text="Plan\nsecond line\n\n", base_version=1) is None
    assert PeerNotes.objects.get(session=peer).version == 1


def test_a_resent_save_changes_nothing_twice(people, peer):
    first = notes.peer_notes_save(by=people.amina, session=peer, text="One", base_version=0, save_id="a-7")
    assert notes.peer_notes_save(by=people.amina, session=peer, text="One", base_version=0, save_id="a-7") == first
    assert PeerNotes.objects.get(session=peer).version == 1


@pytest.mark.parametrize(("text", "code"), [
    ("x" * 20_001, "too_long"),
    ("語" * 20_000 + "語", "too_long"),
    ("🦟" * 15_001, "too_long"),  # 15,001 characters but 60,004 bytes: over one socket message
    ("nul\x00byte", "wrong_field"),
])
def test_notes_that_cannot_be_stored_are_refused(people, peer, text, code):
    with pytest.raises(InvalidRequest) as refused:
        notes.peer_notes_save(by=people.amina, session=peer, text=text, base_version=0)
    assert refused.value.code == code
    notes.peer_notes_save(by=people.amina, session=peer, text="語" * 20_000, base_version=0)  # the limit itself is fine


def test_only_people_in_the_room_write_and_not_when_muted_removed_or_ended(people, peer, make_lecture):
    with pytest.raises(PermissionRefused) as refused:
        notes.peer_notes_save(by=people.tunde, session=peer, text="hi", base_version=0)
    assert refused.value.code == "forbidden"
    Participant.objects.filter(session=peer, user=people.lukas).update(muted=True)
    with pytest.raises(PermissionRefused) as refused:
        notes.peer_notes_save(by=people.lukas, session=peer, text="hi", base_version=0)
    assert refused.value.code == "muted"
    Participant.objects.filter(session=peer, user=people.yui).update(removed_at=peer.starts_at)
    with pytest.raises(PermissionRefused):
        notes.peer_notes_save(by=people.yui, session=peer, text="hi", base_version=0)
    with pytest.raises(InvalidRequest) as refused:
        notes.peer_notes_save(by=people.tanaka, session=make_lecture, text="hi", base_version=0)
    assert refused.value.code == "not_peer_session"
    RoomState.objects.update_or_create(session=peer, defaults={"ended_at": peer.starts_at})
    with pytest.raises(InvalidRequest) as refused:
        notes.peer_notes_save(by=people.amina, session=peer, text="hi", base_version=0)
    assert refused.value.code == "room_ended"


def test_participants_read_the_notes_and_nobody_else(people, peer):
    notes.peer_notes_save(by=people.amina, session=peer, text="Plan", base_version=0)
    assert peer_notes_read(session=peer, user=people.yui).text == "Plan"
    for outsider in (people.tunde, people.tanaka):
        with pytest.raises(PermissionRefused):
            peer_notes_read(session=peer, user=outsider)


@pytest.fixture
def make_lecture(people):
    from tests.sessions.room.conftest import make_session

    return make_session(people)


@pytest.mark.django_db(transaction=True)
def test_two_saves_on_the_same_version_at_once_keep_one_and_refuse_the_other(people):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers itself; the row lock is exercised on PostgreSQL (make test pass 2).")
    session = make_peer_session(people)
    for user in (people.amina, people.lukas):
        Participant.objects.create(session=session, user=user)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def save(user, text: str) -> None:
        try:
            barrier.wait(timeout=10)
            notes.peer_notes_save(by=user, session=session, text=text, base_version=0)
            outcomes[user.username] = "saved"
        except notes.NotesConflict:
            outcomes[user.username] = "conflict"
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(people.amina, "Amina's plan")), threading.Thread(target=save, args=(people.lukas, "Lukas's plan"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["conflict", "saved"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "saved")
    stored = PeerNotes.objects.get(session=session)
    assert stored.version == 1 and stored.updated_by.username == winner
    assert RoomEvent.objects.filter(session=session, type="notes.changed").count() == 1
