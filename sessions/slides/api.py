"""JSON of slides at /api/slides/ (browser session with CSRF, or a personal token).

For presenters of a session: its decks with their preparation progress, library PDFs
and images they may show, and making a deck from a material (an image is a deck of one page), an upload (up to the 16 MB request
ceiling) or a complete resumable upload of the library (`/api/library/uploads`, for
larger files). Refusals are `{"code", "message"}` with 403 (not a presenter, material
not visible), 404 (unknown session or deck), 413 (too large) or 400.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from server.people.errors import InvalidRequest
from server.people.http import AuthenticatedHttpRequest
from sessions.models import LiveSession

from . import selectors, services

logger = logging.getLogger(__name__)

router = Router()


class ErrorOut(Schema):
    code: str
    message: str


class DeckWidthsOut(Schema):
    large: int
    small: int


class DeckOut(Schema):
    id: int
    title: str
    kind: str
    status: str
    pages: int
    pages_done: int
    width: int
    height: int
    source: str
    material_id: int | None
    error_code: str
    error: str
    image_url: str
    widths: DeckWidthsOut
    created_at: datetime


class DeckCreateIn(Schema):
    """Either a library material or a complete resumable upload (`upload_id`)."""

    material_id: int | None = None
    upload_id: UUID | None = None
    title: str = ""


class MaterialChoiceOut(Schema):
    id: int
    title: str
    kind: str
    school: str
    language: str
    is_session_case: bool


RESPONSES = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 413: ErrorOut}
# Refusals (not found 404, forbidden 403, too large 413, else 400): server/api.py's handler.


def _session(session_id: int) -> LiveSession:
    return selectors.session_get(session_id=session_id)


@router.get("/sessions/{session_id}/decks", response={200: list[DeckOut], **RESPONSES}, summary="Decks of a session (presenters)")
def deck_list(request: AuthenticatedHttpRequest, session_id: int) -> Any:
    decks = list(selectors.session_decks(session=_session(session_id), user=request.user)[:100])
    for deck in decks:
        services.deck_render_resume(deck=deck)
    return [selectors.deck_status(deck) for deck in decks]


# Before the route with {deck_id}: ninja would otherwise answer this path with that GET-only view.
@router.post("/sessions/{session_id}/decks/upload", response={201: DeckOut, **RESPONSES}, summary="Make a deck from an uploaded PDF or image (PNG, JPEG, GIF, WebP: one page)")
def deck_upload(request: AuthenticatedHttpRequest, session_id: int, file: File[UploadedFile], title: Form[str] = "") -> Any:
    deck = services.deck_create_from_upload(
        user=request.user, session=_session(session_id), upload=file, file_name=file.name or "", title=title[:200],
    )
    return Status(201, selectors.deck_status(deck))


@router.get("/sessions/{session_id}/decks/{deck_id}", response={200: DeckOut, **RESPONSES}, summary="A deck and its preparation progress (presenters)")
def deck_detail(request: AuthenticatedHttpRequest, session_id: int, deck_id: int) -> Any:
    deck = selectors.deck_get_for_presenter(session=_session(session_id), user=request.user, deck_id=deck_id)
    services.deck_render_resume(deck=deck)
    return selectors.deck_status(deck)


@router.post("/sessions/{session_id}/decks", response={201: DeckOut, **RESPONSES}, summary="Make a deck from a library PDF or image, or a resumable upload")
def deck_create(request: AuthenticatedHttpRequest, session_id: int, payload: DeckCreateIn) -> Any:
    session = _session(session_id)
    if (payload.material_id is None) == (payload.upload_id is None):
        raise InvalidRequest(_("Give either material_id or upload_id."), "wrong_field")
    if payload.material_id is not None:
        deck = services.deck_create_from_material(user=request.user, session=session, material_id=payload.material_id)
    else:
        deck = services.deck_create_from_resumable_upload(
            user=request.user, session=session, upload_id=payload.upload_id, title=payload.title[:200],  # type: ignore[arg-type]  # set (checked above)
        )
    return Status(201, selectors.deck_status(deck))


@router.get("/sessions/{session_id}/materials", response={200: list[MaterialChoiceOut], **RESPONSES}, summary="Library PDFs and images a presenter may show")
def material_choices(request: AuthenticatedHttpRequest, session_id: int, q: str = "") -> Any:
    session = _session(session_id)
    materials = selectors.deck_material_choices(session=session, user=request.user, query=q)
    return [
        {"id": m.pk, "title": m.title, "kind": m.kind, "school": m.institution.short_name or m.institution.name,
         "language": m.language, "is_session_case": m.pk == session.case_material_id}
        for m in materials
    ]
