"""Undo and redo of strokes, erasing and clearing (services.stroke_undo / action_redo):
what comes back, for whom, and what the room record and the export then show."""

from __future__ import annotations

import pytest

from server.people.errors import InvalidRequest, PermissionRefused
from sessions.annotation import codec, selectors, services
from sessions.models import Participant, RoomEvent

pytestmark = pytest.mark.django_db

LINE = codec.encode([(1000, 1000), (1500, 1200), (2000, 1000)])


def draw(live, deck, user, color="red"):
    return services.stroke_add(session=live, user=user, deck_id=deck.pk, page=1, tool="pen", color=color, width=2, d=LINE)


def on_page(live, deck):
    return [s["id"] for s in selectors.page_strokes(session_id=live.pk, deck_id=deck.pk, page=1)]


def undo(live, deck, user, role="attendee", action=None):
    """Undo as the page's button sends it (the page on screen), or of a named action."""
    where = {"action_id": action} if action else {"deck_id": deck.pk, "page": 1}
    return services.stroke_undo(session=live, user=user, role=role, **where)


def redo(live, deck, user, role="attendee", action=None):
    where = {"action_id": action} if action else {"deck_id": deck.pk, "page": 1}
    return services.action_redo(session=live, user=user, role=role, **where)


@pytest.fixture
def amina_has_the_pen(people, live):
    Participant.objects.get_or_create(session=live, user=people.amina)
    services.pen_set(session=live, user=people.tanaka, role="host", target_id=people.amina.pk, pen=True)


def test_redo_brings_back_undone_strokes_newest_undo_first_until_the_drawer_draws_again(people, live, deck):
    tanaka = people.tanaka
    first, second = draw(live, deck, tanaka), draw(live, deck, tanaka, "blue")
    assert redo(live, deck, tanaka, "host") is None  # nothing undone yet
    undo(live, deck, tanaka, "host")
    undo(live, deck, tanaka, "host")
    assert on_page(live, deck) == []

    back = redo(live, deck, tanaka, "host")
    event = RoomEvent.objects.get(session=live, seq=back)
    assert event.type == "annotation.redone"
    assert event.payload == {"deck_id": deck.pk, "page": 1, "stroke": first, "by": tanaka.pk}
    assert on_page(live, deck) == [first]
    redo(live, deck, tanaka, "host")
    assert on_page(live, deck) == [first, second]  # each in its place
    assert redo(live, deck, tanaka, "host") is None  # the redo stack is empty

    # Undo after redo takes the redone stroke back again; a new stroke empties the redo stack.
    undo(live, deck, tanaka, "host")
    assert on_page(live, deck) == [first]
    third = draw(live, deck, tanaka, "green")
    assert redo(live, deck, tanaka, "host") is None
    assert on_page(live, deck) == [first, third]
    assert selectors.annotation_current(session_id=live.pk)["strokes"][1]["id"] == third


def test_undoing_an_erase_or_a_clear_restores_exactly_the_strokes_it_removed(people, live, deck, amina_has_the_pen):
    tanaka, amina = people.tanaka, people.amina
    hosts = draw(live, deck, tanaka)
    a1, a2 = draw(live, deck, amina, "blue"), draw(live, deck, amina, "green")
    erased = services.stroke_erase(session=live, user=amina, stroke_id=hosts)  # she erases the host's stroke
    cleared = services.page_clear(session=live, user=tanaka, deck_id=deck.pk, page=1)
    a3 = draw(live, deck, amina, "black")  # drawn after the clear
    assert on_page(live, deck) == [a3]

    # The host's Undo takes back his clear: the two strokes it removed, not the one erased before it.
    restored = undo(live, deck, tanaka, "host")
    event = RoomEvent.objects.get(session=live, seq=restored)
    assert event.type == "annotation.restored"
    assert event.payload == {"deck_id": deck.pk, "page": 1, "strokes": [a1, a2], "undoes": cleared, "by": tanaka.pk}
    assert on_page(live, deck) == [a1, a2, a3]
    assert undo(live, deck, tanaka, "host") is None  # his stroke is erased: nothing of his left to undo

    # Amina's Undo: first her newest stroke, then her erase (the host's stroke comes back).
    undo(live, deck, amina)
    assert on_page(live, deck) == [a1, a2]
    back = undo(live, deck, amina)
    assert RoomEvent.objects.get(session=live, seq=back).payload["strokes"] == [hosts]
    assert RoomEvent.objects.get(session=live, seq=back).payload["undoes"] == erased
    assert on_page(live, deck) == [hosts, a1, a2]

    # The room record and the export read the same.
    pages = selectors.annotated_pages(session=live, user=tanaka)
    assert [p["count"] for p in pages] == [3]

    # Redo of the clear takes away only the strokes its undo brought back.
    again = redo(live, deck, tanaka, "host")
    event = RoomEvent.objects.get(session=live, seq=again)
    assert event.type == "annotation.removed"
    assert event.payload == {"deck_id": deck.pk, "page": 1, "strokes": [a1, a2], "redoes": cleared, "by": tanaka.pk}
    assert on_page(live, deck) == [hosts]
    undo(live, deck, tanaka, "host")  # and Undo takes the clear back once more
    assert on_page(live, deck) == [hosts, a1, a2]
    redo(live, deck, amina)  # her erase again
    assert on_page(live, deck) == [a1, a2]


def test_only_the_doer_or_a_moderator_undoes_or_redoes_an_erase_or_a_clear(people, live, deck, amina_has_the_pen):
    tanaka, amina = people.tanaka, people.amina
    draw(live, deck, amina)
    cleared = services.page_clear(session=live, user=tanaka, deck_id=deck.pk, page=1)
    with pytest.raises(PermissionRefused) as refused:
        undo(live, deck, amina, action=cleared)
    assert refused.value.code == "not_yours"
    assert undo(live, deck, amina) is None  # her own stroke is cleared: nothing of hers to undo
    with pytest.raises(InvalidRequest) as unknown:
        undo(live, deck, amina, action=999999)
    assert unknown.value.code == "unknown_action"

    mine = draw(live, deck, amina, "blue")
    erased = services.stroke_erase(session=live, user=amina, stroke_id=mine)
    assert undo(live, deck, tanaka, "host", action=erased)  # the host may take back anyone's
    assert on_page(live, deck) == [mine]
    with pytest.raises(PermissionRefused) as refused:
        redo(live, deck, amina, action=cleared)  # not undone, and not hers anyway
    assert refused.value.code == "not_yours"
    assert redo(live, deck, tanaka, "host", action=erased)
    assert on_page(live, deck) == []


def test_undoing_a_clear_stores_stroke_ids_and_never_overfills_a_page(people, live, deck, monkeypatch):
    monkeypatch.setattr(services, "MAX_STROKES_PER_PAGE", 3)
    tanaka = people.tanaka
    drawn = [draw(live, deck, tanaka) for _ in range(3)]
    cleared = services.page_clear(session=live, user=tanaka, deck_id=deck.pk, page=1)
    refill = draw(live, deck, tanaka)
    with pytest.raises(InvalidRequest) as full:
        undo(live, deck, tanaka, "host", action=cleared)  # 3 back beside the new one: over the limit
    assert full.value.code == "page_full"
    services.stroke_erase(session=live, user=tanaka, stroke_id=refill)
    restored = undo(live, deck, tanaka, "host", action=cleared)
    payload = RoomEvent.objects.get(session=live, seq=restored).payload
    assert set(payload) == {"deck_id", "page", "strokes", "undoes", "by"}  # numbers, never copies of the strokes
    assert payload["strokes"] == drawn
    assert on_page(live, deck) == drawn


def test_what_the_host_took_back_its_author_cannot_put_back(people, live, deck, amina_has_the_pen):
    """The host removes a student's stroke with Undo: she may not redo it; the host may."""
    stroke = draw(live, deck, people.amina)
    undo(live, deck, people.tanaka, "host", action=stroke)
    assert on_page(live, deck) == []
    with pytest.raises(PermissionRefused) as refusal:
        redo(live, deck, people.amina, action=stroke)
    assert refusal.value.code == "not_yours"
    assert redo(live, deck, people.amina) is None  # nor through her own redo stack
    assert on_page(live, deck) == []
    redo(live, deck, people.tanaka, "host", action=stroke)
    assert on_page(live, deck) == [stroke]
