"""Fixtures of annotation tests: a live session with a deck on screen (no rendering needed)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from sessions.models import DeckStatus, SlideDeck, SlideShow
from tests.sessions.room.conftest import make_session, quick_room_timers, room_node  # noqa: F401


def deck_on_screen(session: Any, user: Any, *, pages: int = 3, page: int = 1, kind: str = "pdf") -> SlideDeck:
    """A ready deck record put on screen at `page` (its images are not needed by these tests)."""
    deck = SlideDeck.objects.create(
        session=session, title="ECG teaching", source="upload", kind=kind, source_name="x.pdf", source_sha256="0" * 64,
        source_size=1, folder="f", profile="p", created_by=user, status=DeckStatus.READY, page_count=pages,
        pages_done=pages, page_width=960, page_height=540, shown_at=timezone.now(),
    )
    SlideShow.objects.update_or_create(session=session, defaults={"deck": deck, "page": page, "seq": 0})
    return deck


@pytest.fixture
def live(people):
    return make_session(people)


@pytest.fixture
def deck(people, live):
    return deck_on_screen(live, people.tanaka)
