"""Slides over the room's socket: presenters turn pages, everyone follows, late joiners catch up."""

from __future__ import annotations

import pytest
from django.utils import timezone

from sessions.models import Participant, SlideDeck, SlideShow
from sessions.slides import services
from tests.sessions.room.conftest import db, open_socket, quick_room_timers, room_node  # noqa: F401

from .conftest import make_ready_deck, pdf_upload, slides_pdf

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("room_node")]


@pytest.fixture
def deck(people, live, library_storage):
    """A 3-page deck of the live session, rendered (on local files, then on S3)."""
    return make_ready_deck(live, people.tanaka, pages=3)


async def test_the_host_opens_a_deck_and_turns_to_page_two_and_everyone_follows(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    assert amina.snapshot["slides"] == {"deck": None, "page": 0, "seq": 0}

    ack = await host.call("slides.open", deck_id=deck.pk)
    assert ack["type"] == "ack" and ack["seq"]
    opened = await amina.expect_type("slides.opened")
    assert opened["seq"] == ack["seq"]
    assert opened["data"]["page"] == 1
    assert opened["data"]["deck"]["id"] == deck.pk and opened["data"]["deck"]["pages"] == 3
    assert opened["data"]["deck"]["image_url"] == f"/slides/decks/{deck.pk}/{{page}}/{{size}}/"
    assert opened["data"]["deck"]["widths"] == {"large": 1280, "small": 480}

    ack = await host.call("slides.goto", page=2, deck_id=deck.pk)
    turned = await amina.expect_type("slides.page")
    assert turned["data"] == {"deck_id": deck.pk, "page": 2, "by": people.tanaka.pk}
    assert turned["seq"] == ack["seq"]

    # The same page again changes nothing: acknowledged without an event.
    assert (await host.call("slides.goto", page=2))["seq"] is None
    for _ in range(10):  # presence may still arrive; no second slides.page does
        if await amina.nothing(0.3):
            break
        assert not (await amina.receive())["type"].startswith("slides.")
    await host.close()
    await amina.close()


async def test_a_late_joiner_gets_the_current_page_in_the_snapshot(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    await host.call("slides.open", deck_id=deck.pk)
    last = await host.call("slides.goto", page=3)
    late = await open_socket(people.lukas, live.pk)
    slides = late.snapshot["slides"]
    assert slides["deck"]["id"] == deck.pk and slides["page"] == 3 and slides["seq"] == last["seq"]
    await late.close()
    await host.close()


async def test_a_reconnecting_viewer_replays_the_pages_it_missed(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    await host.call("slides.open", deck_id=deck.pk)
    seen = (await amina.expect_type("slides.opened"))["seq"]
    await amina.close()
    await host.call("slides.goto", page=2)
    await host.call("slides.goto", page=3)
    back = await open_socket(people.amina, live.pk, query=f"since={seen}")
    pages = [e["data"]["page"] for e in back.snapshot["events"] if e["type"] == "slides.page"]
    assert pages == [2, 3]
    assert back.snapshot["slides"]["page"] == 3
    await back.close()
    await host.close()


async def test_a_viewer_cannot_open_turn_or_close_slides(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    for message in (("slides.open", {"deck_id": deck.pk}), ("slides.goto", {"page": 2}), ("slides.close", {})):
        error = await amina.call(message[0], **message[1])
        assert error["type"] == "error" and error["code"] == "not_presenter", message
    assert await db(lambda: SlideShow.objects.filter(deck__isnull=False).exists()) is False
    await host.call("slides.open", deck_id=deck.pk)
    assert (await amina.call("slides.goto", page=2))["code"] == "not_presenter"
    assert await db(lambda: SlideShow.objects.get(pk=live.pk).page) == 1
    await host.close()
    await amina.close()


async def test_the_floor_lets_an_attendee_turn_pages_until_it_is_taken_back(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    await host.call("slides.open", deck_id=deck.pk)
    await host.call("floor.grant", user_id=people.amina.pk)
    assert (await amina.call("slides.goto", page=2))["type"] == "ack"
    await host.call("floor.revoke", user_id=people.amina.pk)
    assert (await amina.call("slides.goto", page=3))["code"] == "not_presenter"
    await host.close()
    await amina.close()


async def test_pages_out_of_range_unknown_decks_and_unready_decks_are_refused(people, live, deck):
    other_session = await db(lambda: live.__class__.objects.create(
        kind=live.kind, title="Another", host=people.tanaka, presenter=people.tanaka, institution=live.institution,
        starts_at=live.starts_at, ends_at=live.ends_at,
    ))
    foreign = await db(make_ready_deck, other_session, people.tanaka, pages=2, data=slides_pdf(2))
    pending = await db(lambda: services.deck_create_from_upload(
        user=people.tanaka, session=live, upload=pdf_upload(slides_pdf(4)), file_name="new.pdf"))
    # Still being prepared (by a run of another process: this one's renderer must not finish it).
    await db(lambda: SlideDeck.objects.filter(pk=pending.pk).update(
        status="rendering", render_token="elsewhere", progress_at=timezone.now()))
    host = await open_socket(people.tanaka, live.pk)

    assert (await host.call("slides.goto", page=1))["code"] == "slides_not_open"
    assert (await host.call("slides.open", deck_id=foreign.pk))["code"] == "unknown_deck"
    assert (await host.call("slides.open", deck_id=987654))["code"] == "unknown_deck"
    assert (await host.call("slides.open", deck_id=pending.pk))["code"] == "deck_not_ready"
    assert (await host.call("slides.open", deck_id=deck.pk, page=4))["code"] == "page_out_of_range"
    assert (await host.call("slides.open", deck_id=deck.pk))["type"] == "ack"
    assert (await host.call("slides.goto", page=4))["code"] == "page_out_of_range"
    assert (await host.call("slides.goto", page=0))["code"] == "page_out_of_range"
    assert (await host.call("slides.goto", page=2, deck_id=foreign.pk))["code"] == "unknown_deck"
    error = await host.call("slides.goto", page="two")
    assert error["code"] == "wrong_field" and error["field"] == "page"
    await host.close()


async def test_closing_takes_the_slides_off_everyones_screen(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    amina = await open_socket(people.amina, live.pk)
    await host.call("slides.open", deck_id=deck.pk)
    ack = await host.call("slides.close")
    closed = await amina.expect_type("slides.closed")
    assert closed["data"]["deck_id"] == deck.pk and closed["seq"] == ack["seq"]
    assert (await host.call("slides.close"))["seq"] is None, "nothing left to close"
    late = await open_socket(people.lukas, live.pk)
    assert late.snapshot["slides"]["deck"] is None
    await late.close()
    await host.close()
    await amina.close()


async def test_a_resent_message_is_stored_once(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    first = await host.call("slides.open", id="open-1", deck_id=deck.pk)
    await host.call("slides.goto", page=3)
    again = await host.call("slides.open", id="open-1", deck_id=deck.pk)
    assert again["seq"] == first["seq"]
    assert await db(lambda: SlideShow.objects.get(pk=live.pk).page) == 3, "the resend did not turn back to page 1"
    await host.close()


async def test_a_presenter_given_the_role_in_the_room_may_present(people, live, deck):
    host = await open_socket(people.tanaka, live.pk)
    lukas = await open_socket(people.lukas, live.pk)
    await host.call("role.set", user_id=people.lukas.pk, role="presenter")
    await lukas.expect_type("participant.role")
    assert (await lukas.call("slides.open", deck_id=deck.pk))["type"] == "ack"
    assert await db(lambda: Participant.objects.get(session=live, user=people.lukas).role) == "presenter"
    await host.close()
    await lukas.close()
