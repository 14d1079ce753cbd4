"""Settings of slides, each with its default (settings may override any of them).

SLIDES_MAX_UPLOAD_BYTES   largest PDF a presenter may show (50 MB)
SLIDES_MAX_PAGES          most pages in a deck (300)
SLIDES_IMAGE_WIDTHS       (large, small) page image widths in pixels ((1280, 480))
SLIDES_IMAGE_FORMAT       "webp" (default) or "jpeg"
SLIDES_RENDER_TIMEOUT_SECONDS  wall time of one deck's rendering (600)
SLIDES_RENDER_MEMORY_MB   address-space limit of the rendering process (1024)
SLIDES_RENDER_STALL_SECONDS    a deck without progress for this long is taken over (90)
SLIDES_MAX_DECKS_PER_SESSION   decks one session may hold (50)
SLIDES_RENDER_INLINE      render in the calling thread after commit (tests, scripts)
"""

from __future__ import annotations

from django.conf import settings

from .render import RenderLimits

MB = 1024 * 1024
#: Bump when rendering changes, so new decks stop sharing images rendered the old way.
RENDER_VERSION = 1


def max_upload_bytes() -> int:
    return int(getattr(settings, "SLIDES_MAX_UPLOAD_BYTES", 50 * MB))


def max_pages() -> int:
    return int(getattr(settings, "SLIDES_MAX_PAGES", 300))


def image_widths() -> tuple[int, int]:
    large, small = getattr(settings, "SLIDES_IMAGE_WIDTHS", (1280, 480))
    return int(large), int(small)


def image_format() -> str:
    value = str(getattr(settings, "SLIDES_IMAGE_FORMAT", "webp")).lower()
    return value if value in ("webp", "jpeg") else "webp"


def render_profile() -> str:
    """What decks must share to share page images: format, widths, renderer version."""
    large, small = image_widths()
    return f"{image_format()}:{large},{small}:v{RENDER_VERSION}"


def render_limits() -> RenderLimits:
    return RenderLimits(
        max_pages=max_pages(),
        timeout_seconds=float(getattr(settings, "SLIDES_RENDER_TIMEOUT_SECONDS", 600)),
        memory_mb=int(getattr(settings, "SLIDES_RENDER_MEMORY_MB", 1024)),
    )


def stall_seconds() -> float:
    return float(getattr(settings, "SLIDES_RENDER_STALL_SECONDS", 90))


def max_decks_per_session() -> int:
    return int(getattr(settings, "SLIDES_MAX_DECKS_PER_SESSION", 50))


def render_inline() -> bool:
    return bool(getattr(settings, "SLIDES_RENDER_INLINE", False))
