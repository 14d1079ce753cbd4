"""Annotation over the room's socket: who may draw, what everyone sees, what a late joiner reads."""

from __future__ import annotations

import pytest

from sessions.annotation import codec, selectors, services
from sessions.models import RoomEvent, SessionKind
from sessions.room.events import room_event_problems
from tests.sessions.room.conftest import db, open_socket

from .conftest import deck_on_screen, make_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]

LINE = codec.encode([(1000, 1000), (1500, 1200), (2000, 1000)])


def stroke(deck, page=1, **changes):
    return {"deck_id": deck.pk, "page": page, "tool": "pen", "color": "red", "width": 2, "d": LINE, **changes}


async def test_the_presenter_draws_and_everyone_sees_it_and_a_late_joiner_reads_it(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    assert amina.snapshot["annotation"]["strokes"] == [] and amina.snapshot["annotation"]["deck_id"] == deck.pk

    ack = await host.call("annotation.stroke", **stroke(deck))
    assert ack["type"] == "ack" and ack["seq"]
    seen = await amina.expect_type("annotation.stroke")
    assert seen["seq"] == ack["seq"]
    assert seen["data"] == {"deck_id": deck.pk, "page": 1, "tool": "pen", "color": "red", "width": 2, "d": LINE,
                            "by": people.tanaka.pk}
    await host.call("annotation.stroke", **stroke(deck, tool="highlighter", color="yellow", width=3))

    late = await open_socket(people.lukas, live.pk)
    part = late.snapshot["annotation"]
    assert [s["id"] for s in part["strokes"]][0] == ack["seq"] and len(part["strokes"]) == 2
    assert part["strokes"][1]["tool"] == "highlighter"

    # Erase one, then clear the page: everyone is told, the snapshot follows.
    assert (await host.call("annotation.erase", stroke=ack["seq"]))["seq"]
    assert (await amina.expect_type("annotation.erased"))["data"]["stroke"] == ack["seq"]
    assert (await host.call("annotation.erase", stroke=ack["seq"]))["seq"] is None  # already gone
    assert (await host.call("annotation.clear", deck_id=deck.pk, page=1))["seq"]
    await amina.expect_type("annotation.cleared")
    again = await open_socket(people.chikondi, live.pk)
    assert again.snapshot["annotation"]["strokes"] == []
    for sock in (host, amina, late, again):
        await sock.close()


async def test_only_presenters_and_pen_holders_draw_and_the_host_takes_the_pen_back(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)

    refused = await amina.call("annotation.stroke", **stroke(deck))
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert (await amina.call("annotation.pen", user_id=people.amina.pk, pen=True))["code"] == "forbidden"

    assert (await host.call("annotation.pen", user_id=people.amina.pk, pen=True))["seq"]
    given = await amina.expect_type("annotation.pen")
    assert given["data"] == {"user_id": people.amina.pk, "pen": True, "by": people.tanaka.pk}
    drawn = await amina.call("annotation.stroke", **stroke(deck, color="blue"))
    assert drawn["type"] == "ack"
    assert (await host.expect_type("annotation.stroke"))["data"]["by"] == people.amina.pk
    late = await open_socket(people.lukas, live.pk)
    assert late.snapshot["annotation"]["pens"] == [people.amina.pk]

    assert (await host.call("annotation.pen", user_id=people.amina.pk, pen=False))["seq"]
    assert (await amina.call("annotation.stroke", **stroke(deck)))["code"] == "forbidden"
    assert (await amina.call("annotation.pointer", deck_id=deck.pk, page=1, x=10, y=10))["code"] == "forbidden"
    for sock in (host, amina, late):
        await sock.close()


async def test_a_drawer_undoes_their_own_strokes_for_everyone_and_late_joiners_never_see_them(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    lukas = await open_socket(people.lukas, live.pk)
    await host.call("annotation.pen", user_id=people.amina.pk, pen=True)
    mine = (await amina.call("annotation.stroke", **stroke(deck, color="blue")))["seq"]
    hosts = (await host.call("annotation.stroke", **stroke(deck)))["seq"]

    # Someone else's stroke is not hers to undo; without a pen, nothing is.
    refused = await amina.call("annotation.undo", stroke=hosts)
    assert refused["type"] == "error" and refused["code"] == "not_your_stroke" and refused["message"]
    assert (await lukas.call("annotation.undo", stroke=hosts))["code"] == "forbidden"
    assert (await amina.call("annotation.undo", stroke=999999))["code"] == "unknown_stroke"

    assert (await amina.call("annotation.undo"))["code"] == "wrong_field"  # neither a stroke nor a page
    assert (await amina.call("annotation.undo", deck_id=deck.pk, page=2))["code"] == "not_on_screen"

    # Her Undo names the page: the server takes back her newest stroke there (not the host's, newer).
    ack = await amina.call("annotation.undo", deck_id=deck.pk, page=1)
    assert ack["type"] == "ack" and ack["seq"]
    seen = await lukas.expect_type("annotation.undone")
    assert seen["seq"] == ack["seq"]
    assert seen["data"] == {"deck_id": deck.pk, "page": 1, "stroke": mine, "by": people.amina.pk}
    assert room_event_problems("annotation.undone", seen["data"]) == []
    assert (await amina.call("annotation.undo", stroke=mine))["seq"] is None  # already gone
    assert (await amina.call("annotation.undo", deck_id=deck.pk, page=1))["seq"] is None  # nothing of hers left

    # A stroke and its Undo sent back to back, without waiting: the Undo takes that stroke.
    await amina.send({"type": "annotation.stroke", "id": "quick-1", **stroke(deck, color="black")})
    await amina.send({"type": "annotation.undo", "id": "quick-2", "deck_id": deck.pk, "page": 1})
    drawn = await lukas.expect(lambda m: m.get("type") == "annotation.stroke" and m["data"]["color"] == "black")
    undone = await lukas.expect_type("annotation.undone")
    assert undone["data"] == {"deck_id": deck.pk, "page": 1, "stroke": drawn["seq"], "by": people.amina.pk}

    # The host may take back anyone's stroke.
    again = (await amina.call("annotation.stroke", **stroke(deck, color="green")))["seq"]
    assert (await host.call("annotation.undo", stroke=again))["seq"]

    late = await open_socket(people.chikondi, live.pk)
    assert [s["id"] for s in late.snapshot["annotation"]["strokes"]] == [hosts]
    await late.send({"type": "annotation.load", "id": "load-1", "deck_id": deck.pk, "page": 1})
    assert [s["id"] for s in (await late.expect_type("annotation.strokes"))["data"]["strokes"]] == [hosts]
    pages = await db(lambda: selectors.annotated_pages(session=live, user=people.tanaka))
    assert [p["count"] for p in pages] == [1]
    for sock in (host, amina, lukas, late):
        await sock.close()


async def test_redo_and_undoing_a_clear_reach_everyone_and_late_joiners_and_refusals_say_why(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    lukas = await open_socket(people.lukas, live.pk)
    await host.call("annotation.pen", user_id=people.amina.pk, pen=True)
    mine = (await amina.call("annotation.stroke", **stroke(deck, color="blue")))["seq"]
    hosts = (await host.call("annotation.stroke", **stroke(deck)))["seq"]

    # Undo, then Redo (Ctrl+Shift+Z): her stroke comes back for everyone.
    await amina.call("annotation.undo", deck_id=deck.pk, page=1)
    ack = await amina.call("annotation.redo", deck_id=deck.pk, page=1)
    assert ack["type"] == "ack" and ack["seq"]
    seen = await lukas.expect_type("annotation.redone")
    assert seen["seq"] == ack["seq"]
    assert seen["data"] == {"deck_id": deck.pk, "page": 1, "stroke": mine, "by": people.amina.pk}
    assert (await amina.call("annotation.redo", deck_id=deck.pk, page=1))["seq"] is None  # nothing left to redo
    assert (await lukas.call("annotation.redo", deck_id=deck.pk, page=1))["code"] == "forbidden"  # no pen

    # The host clears the page; his Undo brings both strokes back, named by id.
    cleared = (await host.call("annotation.clear", deck_id=deck.pk, page=1))["seq"]
    refused = await amina.call("annotation.undo", action=cleared)
    assert refused["type"] == "error" and refused["code"] == "not_yours" and refused["message"]
    assert (await amina.call("annotation.undo", action=999999))["code"] == "unknown_action"
    ack = await host.call("annotation.undo", deck_id=deck.pk, page=1)
    seen = await lukas.expect_type("annotation.restored")
    assert seen["seq"] == ack["seq"]
    assert seen["data"] == {"deck_id": deck.pk, "page": 1, "strokes": [mine, hosts], "undoes": cleared, "by": people.tanaka.pk}
    assert room_event_problems("annotation.restored", seen["data"]) == []
    late = await open_socket(people.chikondi, live.pk)
    assert [s["id"] for s in late.snapshot["annotation"]["strokes"]] == [mine, hosts]

    # Redo of the clear takes them away again, for everyone.
    ack = await host.call("annotation.redo", deck_id=deck.pk, page=1)
    seen = await late.expect_type("annotation.removed")
    assert seen["data"] == {"deck_id": deck.pk, "page": 1, "strokes": [mine, hosts], "redoes": cleared, "by": people.tanaka.pk}
    await late.send({"type": "annotation.load", "id": "load-1", "deck_id": deck.pk, "page": 1})
    assert (await late.expect_type("annotation.strokes"))["data"]["strokes"] == []
    for sock in (host, amina, lukas, late):
        await sock.close()


async def test_bad_strokes_are_refused_with_a_clear_error_and_nothing_is_stored(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    before = await db(lambda: RoomEvent.objects.filter(session=live, type__startswith="annotation").count())
    for fields, code in (
        (stroke(deck, d="AA*"), "bad_stroke"),
        (stroke(deck, d="BA"), "bad_stroke"),
        (stroke(deck, width=9), "bad_stroke"),
        (stroke(deck, color="purple"), "wrong_field"),
        (stroke(deck, page=2), "not_on_screen"),
        (stroke(deck, d=1), "wrong_field"),
    ):
        refused = await host.call("annotation.stroke", **fields)
        assert refused["type"] == "error" and refused["code"] == code, (fields, refused)
        assert refused["message"]
    assert (await host.call("annotation.erase", stroke=999999))["code"] == "unknown_stroke"
    assert await db(lambda: RoomEvent.objects.filter(session=live, type__startswith="annotation").count()) == before
    # A good stroke after the refusals is kept, and simplified on the way in.
    wobbly = codec.encode([(1000, 1000), (1500, 1001), (2000, 1000)])
    ack = await host.call("annotation.stroke", **stroke(deck, d=wobbly))
    payload = await db(lambda: RoomEvent.objects.get(session=live, seq=ack["seq"]).payload)
    assert codec.decode(payload["d"]) == [(1000, 1000), (2000, 1000)]
    assert room_event_problems("annotation.stroke", payload) == []
    await host.close()


async def test_the_pointer_reaches_everyone_and_is_not_stored(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    assert (await host.call("annotation.pointer", deck_id=deck.pk, page=1, x=5000, y=2500))["type"] == "ack"
    dot = await amina.expect_type("annotation.pointer")
    assert "seq" not in dot and dot["data"] == {"user_id": people.tanaka.pk, "deck_id": deck.pk, "page": 1, "x": 5000, "y": 2500}
    assert (await host.call("annotation.pointer", deck_id=deck.pk, page=1, x=10001, y=0))["code"] == "bad_pointer"
    assert not await db(lambda: RoomEvent.objects.filter(session=live, type__startswith="annotation").exists())
    await host.close()
    await amina.close()


async def test_turning_back_to_an_annotated_page_loads_its_strokes(people, live, deck):
    from sessions.models import SlideShow

    host = await open_socket(people.tanaka, live.pk)
    first = await host.call("annotation.stroke", **stroke(deck))
    await db(lambda: SlideShow.objects.filter(pk=live.pk).update(page=2))
    await host.call("annotation.stroke", **stroke(deck, page=2, color="green"))
    amina = await open_socket(people.amina, live.pk)
    assert [s["color"] for s in amina.snapshot["annotation"]["strokes"]] == ["green"]
    await amina.send({"type": "annotation.load", "id": "load-1", "deck_id": deck.pk, "page": 1})
    reply = await amina.expect_type("annotation.strokes")
    assert [s["id"] for s in reply["data"]["strokes"]] == [first["seq"]] and reply["data"]["page"] == 1
    assert reply["data"]["seq"] >= first["seq"]
    await host.close()
    await amina.close()


@pytest.mark.django_db
def test_consults_are_never_annotated(people):
    consult = make_session(people, kind=SessionKind.CONSULT)
    deck = deck_on_screen(consult, people.tanaka)
    assert not selectors.annotation_may_draw(session=consult, user=people.tanaka)
    with pytest.raises(Exception, match="not annotated"):
        services.stroke_add(session=consult, user=people.tanaka, deck_id=deck.pk, page=1, tool="pen", color="red", width=1, d=LINE)
    with pytest.raises(Exception, match="not annotated"):
        services.pen_set(session=consult, user=people.tanaka, role="host", target_id=people.amina.pk, pen=True)
    assert selectors.annotated_pages(session=consult, user=people.tanaka) == []
    from sessions.annotation.export import annotation_export_to_library

    with pytest.raises(Exception, match="not annotated"):
        annotation_export_to_library(session=consult, user=people.tanaka)


@pytest.mark.django_db
def test_a_full_page_is_refused_until_cleared(people, live, deck, monkeypatch):
    monkeypatch.setattr(services, "MAX_STROKES_PER_PAGE", 2)
    for _ in range(2):
        services.stroke_add(session=live, user=people.tanaka, deck_id=deck.pk, page=1, tool="pen", color="red", width=1, d=LINE)
    with pytest.raises(Exception, match="clear it first") as full:
        services.stroke_add(session=live, user=people.tanaka, deck_id=deck.pk, page=1, tool="pen", color="red", width=1, d=LINE)
    assert full.value.code == "page_full"
    services.page_clear(session=live, user=people.tanaka, deck_id=deck.pk, page=1)
    services.stroke_add(session=live, user=people.tanaka, deck_id=deck.pk, page=1, tool="pen", color="red", width=1, d=LINE)


@pytest.mark.django_db
def test_the_record_page_shows_each_annotated_page_with_its_strokes(people, live, deck, client):
    from django.urls import reverse

    from sessions.models import Participant, SessionStatus

    kept = services.stroke_add(session=live, user=people.tanaka, deck_id=deck.pk, page=1, tool="highlighter", color="yellow",
                               width=2, d=LINE)
    gone = services.stroke_add(session=live, user=people.tanaka, deck_id=deck.pk, page=1, tool="pen", color="red", width=1, d=LINE)
    services.stroke_erase(session=live, user=people.tanaka, stroke_id=gone)
    pages = selectors.annotated_pages(session=live, user=people.tanaka)
    assert len(pages) == 1 and pages[0]["page"] == 1 and pages[0]["count"] == 1
    assert pages[0]["strokes"][0]["points"] == "1000,562 1500,675 2000,562" and pages[0]["view_box"] == "0 0 10000 5625"
    assert kept

    Participant.objects.get_or_create(session=live, user=people.amina)
    live.status = SessionStatus.ENDED
    live.save(update_fields=["status"])
    client.force_login(people.amina)
    html = client.get(reverse("room:room", args=[live.pk])).content.decode()
    assert "Annotated slides" in html
    assert f'src="/slides/decks/{deck.pk}/1/large/"' in html
    assert 'points="1000,562 1500,675 2000,562"' in html and 'stroke="#f2c200"' in html
    assert "1 annotation on this page" in html


@pytest.mark.django_db
def test_an_image_on_screen_is_annotated_and_its_record_says_image(people, live, client):
    from django.urls import reverse

    from sessions.models import Participant, SessionStatus

    ecg = deck_on_screen(live, people.tanaka, pages=1, kind="image")
    drawn = services.stroke_add(session=live, user=people.tanaka, deck_id=ecg.pk, page=1, tool="pen", color="red", width=2, d=LINE)
    assert selectors.annotation_current(session_id=live.pk)["strokes"][0]["id"] == drawn
    Participant.objects.get_or_create(session=live, user=people.amina)
    live.status = SessionStatus.ENDED
    live.save(update_fields=["status"])
    client.force_login(people.amina)
    html = client.get(reverse("room:room", args=[live.pk])).content.decode()
    assert f'src="/slides/decks/{ecg.pk}/1/large/"' in html and 'alt="ECG teaching"' in html
    assert "ECG teaching · image · 1 annotation on this page" in html
