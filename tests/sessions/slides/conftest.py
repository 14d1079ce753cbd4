"""Fixtures of slides tests: slide-shaped PDFs made here, a live session, decks, storage.

`library_storage` (from the library tests) runs a test once on local files and once on
the S3 server; the room helpers come from the room tests.
"""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from courses.library.minimal_pdf import pdf_file
from sessions.models import DeckStatus, SlideDeck
from sessions.slides import services
from tests.courses.library.conftest import library_storage, local_storage  # noqa: F401
from tests.sessions.room.conftest import make_session

#: Colours of the pages of `slides_pdf`, so a test can tell page 2 from page 1 by its pixels.
PAGE_COLOURS = [(0.85, 0.1, 0.1), (0.1, 0.55, 0.15), (0.1, 0.2, 0.8), (0.9, 0.6, 0.0)]


def slides_pdf(pages: int = 3, *, width: int = 960, height: int = 540, extra: bytes = b"") -> bytes:
    """A landscape deck: page N is filled with colour N and says "Slide N" in large type."""
    objects: list[bytes] = [b"", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>"]
    page_ids = []
    for number in range(1, pages + 1):
        red, green, blue = PAGE_COLOURS[(number - 1) % len(PAGE_COLOURS)]
        stream = (
            f"{red} {green} {blue} rg 0 0 {width} {height} re f "
            f"1 1 1 rg BT /F1 72 Tf 1 0 0 1 80 {height // 2} Tm (Slide {number}) Tj ET"
        ).encode() + extra
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
            % (width, height, content)
        )
        page_ids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    return pdf_file(objects, root=1)


def pdf_upload(data: bytes | None = None, name: str = "cardiology-grand-rounds.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data if data is not None else slides_pdf(), content_type="application/pdf")


def wait_for_deck(deck_id: int, *, timeout: float = 60) -> SlideDeck:
    """Poll until the deck is ready or failed (the background renderer runs meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deck = SlideDeck.objects.get(pk=deck_id)
        if deck.status in (DeckStatus.READY, DeckStatus.FAILED):
            return deck
        time.sleep(0.1)
    raise AssertionError(f"deck {deck_id} was not prepared within {timeout} s")


@pytest.fixture
def live(people):
    """A case conference hosted by Prof. Tanaka, open to everyone, started 5 minutes ago.

    Afterwards, decks the test queued finish rendering before its database goes away.
    """
    yield make_session(people)
    deadline = time.monotonic() + 60
    while services.deck_render_pending() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def render_inline(settings):
    """Decks render in the creating thread after commit (tests that need no background)."""
    settings.SLIDES_RENDER_INLINE = True


def make_ready_deck(session: Any, user: Any, *, pages: int = 3, data: bytes | None = None) -> SlideDeck:
    """Upload a deck and render it now (no background thread), then return it ready."""
    deck = services.deck_create_from_upload(user=user, session=session, upload=pdf_upload(data or slides_pdf(pages)),
                                            file_name="deck.pdf")
    if deck.status != DeckStatus.READY:
        services.deck_render(deck_id=deck.pk)  # or the background thread has it already
    deck = wait_for_deck(deck.pk)
    assert deck.status == DeckStatus.READY, deck.error_code
    return deck


def image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


def image_colour(data: bytes) -> tuple[int, int, int]:
    """The colour near the top-left corner of an image (a page's background)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").getpixel((5, 5))
