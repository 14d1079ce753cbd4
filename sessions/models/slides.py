"""Slides in the room: a PDF deck rendered once to page images, and what the room shows now.

A library image (kind `image`) is shown as a deck of one page, rendered the same way.

A `SlideDeck` belongs to one session and comes from a library material or an upload. Its
pages are rendered once, in the background, to two light images each (`SlidePage`),
stored through `default_storage`; a deck whose PDF was already rendered elsewhere (same
bytes, same rendering profile) reuses those images. `SlideShow` is the one row per
session that says which deck and page are on screen, written together with the room
event that announces the change (sessions/slides/services.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = ["DeckKind", "DeckSource", "DeckStatus", "SlideDeck", "SlidePage", "SlideShow"]


class DeckSource(models.TextChoices):
    MATERIAL = "material", _("Library material")
    UPLOAD = "upload", _("Uploaded PDF")


class DeckKind(models.TextChoices):
    """What was shown: a PDF's pages, or one image from the library (an ECG, a radiograph)."""

    PDF = "pdf", _("PDF slides")
    IMAGE = "image", _("Image")


class DeckStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be prepared")
    RENDERING = "rendering", _("Being prepared")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Could not be prepared")


class SlideDeck(models.Model):
    """A PDF a presenter may show in one session's room, page by page."""

    session = models.ForeignKey("live.LiveSession", on_delete=models.CASCADE, related_name="slide_decks")
    title = models.CharField(_("title"), max_length=200)
    source = models.CharField(max_length=10, choices=DeckSource.choices)
    # An image is a deck of one page, so showing, annotating and the record work alike.
    kind = models.CharField(max_length=10, choices=DeckKind.choices, default=DeckKind.PDF)
    material = models.ForeignKey(
        "courses.Material", on_delete=models.SET_NULL, null=True, blank=True, related_name="slide_decks",
    )
    # The PDF on default_storage (a library file, or the uploaded copy under slides/).
    source_name = models.CharField(max_length=400)
    source_sha256 = models.CharField(max_length=64)
    source_size = models.BigIntegerField()
    # Random folder of this deck's files on storage (names are never built from user input).
    folder = models.CharField(max_length=32)
    # Widths and format the pages were rendered with; only equal profiles share images.
    profile = models.CharField(max_length=60)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=10, choices=DeckStatus.choices, default=DeckStatus.PENDING)
    page_count = models.PositiveIntegerField(default=0)
    pages_done = models.PositiveIntegerField(default=0)
    # Size in pixels of the first page's large image: a layout hint for clients.
    page_width = models.PositiveIntegerField(default=0)
    page_height = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    # Which render run owns the deck now, and when it last made progress: a run whose
    # process died stops making progress, and another process may take the deck over.
    render_token = models.CharField(max_length=32, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    # Set when a presenter first puts the deck on screen: from then on every participant
    # may fetch its pages (before, only presenters may: a deck can be prepared privately).
    shown_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["session", "-created_at"], name="slidedeck_session_recent"),
            models.Index(fields=["source_sha256", "profile", "status"], name="slidedeck_rendered_source"),
        ]

    def __str__(self) -> str:
        return self.title


class SlidePage(models.Model):
    """One rendered page: a large and a small image on storage (immutable once written)."""

    deck = models.ForeignKey(SlideDeck, on_delete=models.CASCADE, related_name="pages")
    number = models.PositiveIntegerField()
    content_type = models.CharField(max_length=40)
    large_name = models.CharField(max_length=400)
    large_width = models.PositiveIntegerField()
    large_height = models.PositiveIntegerField()
    large_bytes = models.PositiveIntegerField()
    small_name = models.CharField(max_length=400)
    small_width = models.PositiveIntegerField()
    small_height = models.PositiveIntegerField()
    small_bytes = models.PositiveIntegerField()

    class Meta:
        ordering = ["deck", "number"]
        constraints = [models.UniqueConstraint(fields=["deck", "number"], name="one_slide_page_per_number")]

    def __str__(self) -> str:
        return f"{self.deck_id} p{self.number}"


class SlideShow(models.Model):
    """What a session's room shows now: a deck and a page, or nothing (deck is null)."""

    session = models.OneToOneField(
        "live.LiveSession", on_delete=models.CASCADE, primary_key=True, related_name="slide_show",
    )
    deck = models.ForeignKey(SlideDeck, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    page = models.PositiveIntegerField(default=0)
    # The room event that made this the state (clients compare it with events they replay).
    seq = models.PositiveBigIntegerField(default=0)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.session_id}: deck {self.deck_id} p{self.page}"
