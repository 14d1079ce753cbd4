"""Page images go to participants only, cached as the immutable files they are."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client

from sessions.models import Participant
from sessions.slides import services

from .conftest import image_colour, image_size, make_ready_deck

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _fetch(client: Client, url: str, storage: str) -> tuple[int, bytes, Any]:
    """GET an image as a browser would, following an S3 redirect to the signed URL."""
    response = client.get(url)
    if storage == "s3" and response.status_code == 302:
        signed = response["Location"]
        assert urlsplit(signed).hostname == "127.0.0.1" and "Signature" in signed
        assert response["Cache-Control"].startswith("private")
        answer = requests.get(signed, timeout=10)
        return answer.status_code, answer.content, answer.headers
    return response.status_code, response.content if response.status_code == 200 else b"", response.headers


@pytest.fixture
def shown(people, live):
    """A 2-page deck the host put on screen; Amina is in the room (on the test's storage)."""
    deck = make_ready_deck(live, people.tanaka, pages=2)
    Participant.objects.create(session=live, user=people.amina, role="attendee")
    services.slides_open(session=live, user=people.tanaka, deck_id=deck.pk)
    return deck


def test_a_participant_gets_each_page_small_or_large(people, live, library_storage, shown):
    amina = _client(people.amina)
    status, body, headers = _fetch(amina, f"/slides/decks/{shown.pk}/2/small/", library_storage)
    assert status == 200
    assert image_size(body) == (480, 270)
    red, green, blue = image_colour(body)
    assert green > red and green > blue, "page 2 is the green slide"
    assert headers["Content-Type"] == "image/webp"
    assert "max-age=31536000" in headers["Cache-Control"] and "private" in headers["Cache-Control"]
    status, body, _headers = _fetch(amina, f"/slides/decks/{shown.pk}/1/large/", library_storage)
    assert status == 200 and image_size(body) == (1280, 720)
    red, green, blue = image_colour(body)
    assert red > green and red > blue, "page 1 is the red slide"


def test_someone_not_in_the_session_gets_no_image(people, live, shown):
    lukas = _client(people.lukas)  # may join (open audience) but never did
    assert lukas.get(f"/slides/decks/{shown.pk}/1/small/").status_code == 403
    anonymous = Client().get(f"/slides/decks/{shown.pk}/1/small/")
    assert anonymous.status_code == 302 and "/login" in anonymous["Location"]


def test_a_removed_participant_loses_the_images(people, live, shown):
    Participant.objects.filter(session=live, user=people.amina).update(removed_at=live.starts_at)
    assert _client(people.amina).get(f"/slides/decks/{shown.pk}/1/small/").status_code == 403


def test_a_deck_not_yet_shown_is_seen_by_presenters_only(people, live, shown):
    prepared = make_ready_deck(live, people.tanaka, pages=3)
    assert _client(people.amina).get(f"/slides/decks/{prepared.pk}/1/small/").status_code == 403
    assert _client(people.tanaka).get(f"/slides/decks/{prepared.pk}/1/small/").status_code in (200, 302)


def test_unknown_pages_and_sizes_are_refused(people, live, shown):
    amina = _client(people.amina)
    assert amina.get(f"/slides/decks/{shown.pk}/3/small/").status_code == 403
    assert amina.get(f"/slides/decks/{shown.pk}/1/huge/").status_code == 404
    assert amina.get("/slides/decks/98765/1/small/").status_code == 403


def test_a_cached_page_is_revalidated_without_sending_it_again(people, live, local_storage, shown):
    amina = _client(people.amina)
    first = amina.get(f"/slides/decks/{shown.pk}/1/small/")
    again = amina.get(f"/slides/decks/{shown.pk}/1/small/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and not again.content
    assert first["X-Content-Type-Options"] == "nosniff"
