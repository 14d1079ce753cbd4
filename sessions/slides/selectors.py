"""Permission-checked reads of slides: who presents, who sees, which decks, which PDFs and images.

Who presents: the session's host, anyone whose room role has the `present` permission
(presenter; a consult's supervisor and trainee), and whoever the host gave the floor; in
a peer session everyone admitted (as for audio and video). Who sees the pages: the
participants of the session (admitted to its room at least once and not removed), and
only of decks a presenter has put on screen; presenters also see decks they prepare.

Refusals are `PermissionRefused` / `InvalidRequest` with the codes of docs/slides.md.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from courses.models import FileRole, Material, MaterialFile
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import User
from sessions.models import DeckKind, DeckStatus, LiveSession, Participant, SessionKind, SlideDeck, SlidePage, SlideShow
from sessions.room.registry import role_permissions

from . import config

logger = logging.getLogger(__name__)

#: Library materials offered to a presenter at once (the select stays light; `q` narrows).
MATERIAL_CHOICES = 50
#: What each failure code of a deck means, for the presenter.
DECK_ERRORS: dict[str, Any] = {
    "too_many_pages": gettext_lazy("The PDF has more pages than a deck may have."),
    "pdf_unreadable": gettext_lazy("The PDF could not be read: it is damaged or protected by a password."),
    "pdf_empty": gettext_lazy("The PDF has no pages."),
    "render_timeout": gettext_lazy("Preparing the pages took too long."),
    "render_crashed": gettext_lazy("The PDF could not be rendered."),
    "render_failed": gettext_lazy("The pages could not be prepared; try again."),
    "source_missing": gettext_lazy("The PDF is no longer in storage."),
    "image_unreadable": gettext_lazy("The image could not be read: it is damaged, too large or of a kind that cannot be shown."),
}
#: Library images that can be shown (what the library keeps of an upload; not SVG, which
#: is a document with its own scripts and links rather than pixels).
SHOWABLE_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
#: Image sizes a client may ask for.
SIZES = ("large", "small")


def session_get(*, session_id: int) -> LiveSession:
    """The session, or `unknown_session` (as for a session one may not see)."""
    session = LiveSession.objects.filter(pk=session_id).first()
    if session is None:
        raise PermissionRefused(_("There is no such session."), "unknown_session")
    return session


def slides_may_present(*, session: LiveSession, user: User) -> bool:
    """Whether `user` may choose decks and turn pages in `session` now (see module docstring).

    Reads the room's participant row (the role given in the room, the floor); someone
    who has not entered the room yet is judged by the role they would enter with.
    """
    if not user.is_authenticated:
        return False
    if session.host_id == user.pk:
        return True
    row = (
        Participant.objects.filter(session=session, user=user)
        .values("role", "has_floor", "removed_at").first()
    )
    if row is not None:
        if row["removed_at"] is not None:
            return False
        if session.kind == SessionKind.PEER:
            return True
        return "present" in role_permissions(row["role"]) or bool(row["has_floor"])
    from sessions.room.selectors import room_role_for

    role = room_role_for(session=session, user=user)
    if role is None:
        return False
    return session.kind == SessionKind.PEER or "present" in role_permissions(role)


def slides_require_presenter(*, session: LiveSession, user: User) -> None:
    if not slides_may_present(session=session, user=user):
        raise PermissionRefused(_("Only the host and presenters can show slides."), "not_presenter")


def slides_may_view(*, session: LiveSession, user: User) -> bool:
    """Whether `user` takes part in `session`: its host, or admitted to its room and not removed."""
    if not user.is_authenticated:
        return False
    if session.host_id == user.pk:
        return True
    if not Participant.objects.filter(session=session, user=user, removed_at__isnull=True).exists():
        return False
    if session.kind == SessionKind.CONSULT:
        # A consult's rules can change (an observer's invitation withdrawn): ask them again.
        from sessions.room.selectors import room_role_for

        return room_role_for(session=session, user=user) is not None
    return True


def image_url_template(deck_id: int) -> str:
    """`/slides/decks/<id>/{page}/{size}/`: clients fill in the page number and size."""
    url = reverse("slides:page-image", kwargs={"deck_id": deck_id, "number": 1, "size": "large"})
    return url[: -len("1/large/")] + "{page}/{size}/"


def deck_public(deck: SlideDeck) -> dict[str, Any]:
    """A deck as clients see it in room events and the snapshot."""
    return {
        "id": deck.pk, "title": deck.title, "kind": deck.kind, "pages": deck.page_count,
        "width": deck.page_width, "height": deck.page_height,
        "image_url": image_url_template(deck.pk), "widths": dict(zip(SIZES, config.image_widths(), strict=True)),
    }


def deck_status(deck: SlideDeck) -> dict[str, Any]:
    """A deck with its preparation progress, for presenters (API)."""
    message = DECK_ERRORS.get(deck.error_code, DECK_ERRORS["render_failed"]) if deck.error_code else ""
    return {
        **deck_public(deck), "status": deck.status, "pages_done": deck.pages_done, "source": deck.source,
        "material_id": deck.material_id, "error_code": deck.error_code, "error": str(message),
        "created_at": deck.created_at,
    }


def session_decks(*, session: LiveSession, user: User) -> QuerySet[SlideDeck]:
    """Every deck of the session, newest first (presenters only)."""
    slides_require_presenter(session=session, user=user)
    return SlideDeck.objects.filter(session=session).order_by("-created_at", "-pk")


def deck_get_for_presenter(*, session: LiveSession, user: User, deck_id: int) -> SlideDeck:
    slides_require_presenter(session=session, user=user)
    deck = SlideDeck.objects.filter(pk=deck_id, session=session).first()
    if deck is None:
        raise InvalidRequest(_("There is no such deck in this session."), "unknown_deck")
    return deck


def _pdf_file_of_current_version() -> QuerySet[MaterialFile]:
    return MaterialFile.objects.filter(
        version__material=OuterRef("pk"), version__number=OuterRef("version"), role=FileRole.MAIN,
        content_type="application/pdf",
    )


def _image_file_of_current_version() -> QuerySet[MaterialFile]:
    return MaterialFile.objects.filter(
        version__material=OuterRef("pk"), version__number=OuterRef("version"), role=FileRole.MAIN,
        content_type__in=SHOWABLE_IMAGE_TYPES,
    )


def deck_material_choices(*, session: LiveSession, user: User, query: str = "", limit: int = MATERIAL_CHOICES) -> list[Material]:
    """Library PDFs and images `user` may see and show: the session's case first, then the newest.

    Presenters only. `query` narrows by title (case-insensitive). At most `limit`.
    """
    from courses.library.selectors import material_visible_to

    slides_require_presenter(session=session, user=user)
    visible = material_visible_to(user).alias(
        has_pdf=Exists(_pdf_file_of_current_version()), has_image=Exists(_image_file_of_current_version()),
    ).filter(Q(kind__in=("pdf", "slides"), has_pdf=True) | Q(kind="image", has_image=True))
    query = (query or "").strip()[:100]
    if query:
        visible = visible.filter(Q(title__icontains=query))
    chosen: list[Material] = []
    if session.case_material_id is not None:
        case = visible.filter(pk=session.case_material_id).first()
        if case is not None:
            chosen.append(case)
    for material in visible.exclude(pk__in=[m.pk for m in chosen]).order_by("-updated_at", "-pk")[: max(0, limit - len(chosen))]:
        chosen.append(material)
    return chosen


def material_pdf_file(*, material: Material) -> MaterialFile | None:
    """The PDF of the material's current version (caller has checked visibility)."""
    return (
        MaterialFile.objects.filter(
            version__material=material, version__number=material.version, role=FileRole.MAIN,
            content_type="application/pdf",
        ).first()
    )


def material_showable_file(*, material: Material) -> tuple[MaterialFile | None, str]:
    """What of the material can go on screen, and as which deck kind (caller has checked visibility).

    An image material's main image (PNG, JPEG, GIF, WebP: one page), else the material's
    PDF; `(None, "pdf")` when it has neither.
    """
    if material.kind == "image":
        image = (
            MaterialFile.objects.filter(
                version__material=material, version__number=material.version, role=FileRole.MAIN,
                content_type__in=SHOWABLE_IMAGE_TYPES,
            ).order_by("position", "pk").first()
        )
        if image is not None:
            return image, DeckKind.IMAGE
    return material_pdf_file(material=material), DeckKind.PDF


def slides_current(*, session_id: int) -> dict[str, Any]:
    """What the room shows now: `{"deck": {…} | None, "page": n, "seq": s}` (one query).

    `seq` is the room event that made this the state: a client applies replayed slides
    events only when they are newer.
    """
    show = SlideShow.objects.select_related("deck").filter(pk=session_id).first()
    if show is None or show.deck is None:
        return {"deck": None, "page": 0, "seq": show.seq if show else 0}
    return {"deck": deck_public(show.deck), "page": show.page, "seq": show.seq}


def slide_image_for_viewer(*, user: User, deck_id: int, number: int, size: str) -> tuple[SlidePage, str]:
    """The page image `user` asked for, as (page, size), or a refusal.

    Participants see pages of decks put on screen; presenters also see their prepared
    decks. Unknown decks and pages and decks one may not see are refused alike.
    """
    if size not in SIZES:
        raise InvalidRequest(_("There is no such image size."), "unknown_size")
    page = (
        SlidePage.objects.select_related("deck", "deck__session")
        .filter(deck_id=deck_id, number=number, deck__status=DeckStatus.READY).first()
    )
    refused = PermissionRefused(_("This slide does not exist or is not shown to you."), "not_allowed")
    if page is None:
        raise refused
    session = page.deck.session
    if not slides_may_view(session=session, user=user):
        raise refused
    if page.deck.shown_at is None and not slides_may_present(session=session, user=user):
        raise refused
    return page, size
