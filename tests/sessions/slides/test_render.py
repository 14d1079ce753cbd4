"""A PDF becomes light page images at two widths, stored, once; bad PDFs fail with a reason."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from sessions.models import DeckStatus, SlideDeck, SlidePage
from sessions.slides import services
from sessions.slides.render import RenderFailed, RenderLimits, render_in_child

from .conftest import PAGE_COLOURS, image_colour, image_size, pdf_upload, slides_pdf

pytestmark = pytest.mark.django_db


def _close(colour: tuple[int, int, int], expected: tuple[float, float, float], slack: int = 30) -> bool:
    return all(abs(c - round(e * 255)) <= slack for c, e in zip(colour, expected, strict=True))


def test_each_page_becomes_a_large_and_a_small_image_on_storage(people, live, library_storage):
    deck = services.deck_create_from_upload(user=people.tanaka, session=live, upload=pdf_upload(slides_pdf(3)),
                                            file_name="ECG in ten steps.pdf")
    assert deck.status == DeckStatus.PENDING and deck.title == "ECG in ten steps"

    assert services.deck_render(deck_id=deck.pk) is True

    deck.refresh_from_db()
    assert (deck.status, deck.page_count, deck.pages_done) == (DeckStatus.READY, 3, 3)
    assert (deck.page_width, deck.page_height) == (1280, 720)
    pages = list(SlidePage.objects.filter(deck=deck).order_by("number"))
    assert [p.number for p in pages] == [1, 2, 3]
    for page, colour in zip(pages, PAGE_COLOURS, strict=False):
        assert page.content_type == "image/webp"
        with default_storage.open(page.large_name, "rb") as handle:
            large = handle.read()
        with default_storage.open(page.small_name, "rb") as handle:
            small = handle.read()
        assert image_size(large) == (1280, 720) == (page.large_width, page.large_height)
        assert image_size(small) == (480, 270) == (page.small_width, page.small_height)
        assert len(large) == page.large_bytes and len(small) == page.small_bytes
        assert len(small) < 15_000, "a phone on 3G gets a page in a few KB"
        assert _close(image_colour(small), colour), "page N shows slide N"
        assert page.large_name.startswith(f"slides/{live.pk}/{deck.folder}/")


def test_a_portrait_page_is_fitted_and_a_very_tall_page_is_capped(people, live, local_storage):
    deck = services.deck_create_from_upload(user=people.tanaka, session=live,
                                            upload=pdf_upload(slides_pdf(1, width=300, height=3000)))
    services.deck_render(deck_id=deck.pk)
    page = SlidePage.objects.get(deck=deck)
    assert page.large_height == 1920 and page.large_width == 192  # width × 1.5 at most
    assert page.small_height == 720


def test_the_same_pdf_is_rendered_once_and_its_pages_shared(people, live, local_storage):
    first = services.deck_create_from_upload(user=people.tanaka, session=live, upload=pdf_upload(slides_pdf(2)))
    services.deck_render(deck_id=first.pk)
    second = services.deck_create_from_upload(user=people.tanaka, session=live, upload=pdf_upload(slides_pdf(2)))
    assert second.status == DeckStatus.READY and second.page_count == 2
    assert list(second.pages.values_list("large_name", flat=True)) == list(first.pages.values_list("large_name", flat=True))


def test_a_deck_over_the_page_limit_fails_with_too_many_pages(people, live, local_storage, settings):
    settings.SLIDES_MAX_PAGES = 2
    deck = services.deck_create_from_upload(user=people.tanaka, session=live, upload=pdf_upload(slides_pdf(3)))
    assert services.deck_render(deck_id=deck.pk) is False
    deck.refresh_from_db()
    assert (deck.status, deck.error_code, deck.pages.count()) == (DeckStatus.FAILED, "too_many_pages", 0)


def test_a_damaged_pdf_is_refused_as_unreadable_at_upload(people, live, local_storage):
    """The upload's inspection parses the PDF (courses/library/pdf_inspection.py) and says so at once."""
    from server.people.errors import InvalidRequest

    broken = b"%PDF-1.4\n" + b"\x00garbage" * 200
    with pytest.raises(InvalidRequest) as refusal:
        services.deck_create_from_upload(user=people.tanaka, session=live, upload=pdf_upload(broken))
    assert refusal.value.code == "pdf_unreadable"


def test_a_render_past_its_time_is_killed(tmp_path):
    (tmp_path / "out").mkdir()
    pdf = tmp_path / "deck.pdf"
    pdf.write_bytes(slides_pdf(40))
    with pytest.raises(RenderFailed) as failure:
        list(render_in_child(pdf, tmp_path / "out", widths=(1280, 480), image_format="webp",
                             limits=RenderLimits(timeout_seconds=0.05)))
    assert failure.value.code == "render_timeout"


def test_a_deck_whose_renderer_stopped_is_taken_over_and_finished(people, live, local_storage, settings):
    deck = services.deck_create_from_upload(user=people.tanaka, session=live, upload=pdf_upload(slides_pdf(2)))
    # A process claimed it and died: the deck says "rendering" but makes no progress.
    SlideDeck.objects.filter(pk=deck.pk).update(status=DeckStatus.RENDERING, render_token="dead", pages_done=1,
                                                progress_at=timezone.now())
    assert services.deck_render(deck_id=deck.pk) is False, "a deck that progresses recently is left alone"

    settings.SLIDES_RENDER_STALL_SECONDS = 0
    settings.SLIDES_RENDER_INLINE = True
    deck.refresh_from_db()
    assert services.deck_render_resume(deck=deck) is True
    deck.refresh_from_db()
    assert (deck.status, deck.pages_done, deck.render_token) == (DeckStatus.READY, 2, "")
