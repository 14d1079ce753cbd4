"""The annotated slide pages of a finished session, as a PDF in the library (the host's choice).

Why a PDF of flattened images: whoever opens it later (another school, a student
revising) sees the pages exactly as annotated in the room, in any PDF reader, without
the room. Each annotated page's large image is drawn on with its strokes (Pillow) and
the pages go into one PDF, which the library inspects like any upload. Only the host
exports, never for a consult (clinical images stay in the consult), and the material is
the host's school's only (scope "own school") until the host widens it in the library.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import User
from sessions.models import LiveSession, SessionKind, SlidePage

from . import selectors
from .codec import GRID, decode

if TYPE_CHECKING:
    from courses.models import Material

logger = logging.getLogger(__name__)

HIGHLIGHTER_ALPHA = 90


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _draw_page(data: bytes, strokes: list[dict]) -> object:
    """The page image with its strokes drawn over it (RGB)."""
    from PIL import Image, ImageDraw

    with Image.open(io.BytesIO(data)) as opened:
        page = opened.convert("RGBA")
    width, height = page.size
    for stroke in strokes:
        layer = Image.new("RGBA", page.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        highlighter = stroke.get("tool") == "highlighter"
        base = selectors.PEN_WIDTHS.get(int(stroke.get("width", 2)), selectors.PEN_WIDTHS[2])
        line_width = max(1, round(base * (selectors.HIGHLIGHTER_FACTOR if highlighter else 1) * width / GRID))
        colour = (*_hex(selectors.COLOURS.get(str(stroke.get("color")), selectors.COLOURS["red"])),
                  HIGHLIGHTER_ALPHA if highlighter else 255)
        points = [(x * width / GRID, y * height / GRID) for x, y in decode(stroke["d"])]
        if len(points) > 1:
            draw.line(points, fill=colour, width=line_width, joint="curve")
        radius = line_width / 2
        for x, y in (points[0], points[-1]):  # round caps
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        page = Image.alpha_composite(page, layer)
    return page.convert("RGB")


def annotated_pdf(*, session: LiveSession) -> tuple[bytes, int]:
    """A PDF of the session's annotated pages and how many pages it has (0: none)."""
    pages = selectors.annotated_pages(session=session, user=session.host)
    images = []
    for item in pages:
        slide = SlidePage.objects.filter(deck=item["deck"], number=item["page"]).first()
        if slide is None:
            continue
        with default_storage.open(slide.large_name, "rb") as handle:
            data = handle.read()
        strokes = selectors.page_strokes(session_id=session.pk, deck_id=item["deck"].pk, page=item["page"])
        images.append(_draw_page(data, strokes))
    if not images:
        return b"", 0
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=150)  # type: ignore[attr-defined]
    return out.getvalue(), len(images)


def annotation_export_to_library(*, session: LiveSession, user: User) -> "Material":
    """Put the annotated pages into the library as a PDF material of the host's school.

    Refusals: `forbidden` (not the host; a consult), `nothing_annotated`, and the
    library's own (`cannot_contribute` for a host who may not contribute).
    """
    from courses.library.services import material_create
    from courses.models import Scope

    if session.kind == SessionKind.CONSULT:
        raise PermissionRefused(_("Consults are not annotated."), "forbidden")
    if session.host_id != user.pk:
        raise PermissionRefused(_("Only the host can put the annotated slides in the library."), "forbidden")
    pdf, count = annotated_pdf(session=session)
    if not count:
        raise InvalidRequest(_("No slide was annotated in this session."), "nothing_annotated")
    material = material_create(
        user=user, kind="pdf", title=(_("Annotated slides: %(title)s") % {"title": session.title})[:200],
        description=_("The slide pages annotated during the live session “%(title)s”.") % {"title": session.title},
        scope=Scope.OWN_SCHOOL, upload=io.BytesIO(pdf), upload_name="annotated-slides.pdf",
        change_note=_("Exported from the live session"),
    )
    logger.info("session %s: %s annotated pages exported to material %s by user %s", session.pk, count, material.pk, user.pk)
    return material
