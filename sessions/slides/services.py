"""Writes of slides: decks from the library or an upload, their rendering, and the room's page.

Decks. A presenter makes a deck from a library PDF or image they may see
(`deck_create_from_material`; an image becomes a deck of one page, so showing it,
annotating it, the late joiner's snapshot and the room record work as for a slide) or
from a PDF they upload (`deck_create_from_upload`, or
`deck_create_from_resumable_upload` for a file sent in pieces through the library's
resumable uploads). The PDF is checked by content (it must be a PDF without active
content, at most `SLIDES_MAX_UPLOAD_BYTES`). After commit the deck is queued for
rendering; a deck whose PDF was already rendered with the same profile (same bytes,
same widths and format) takes those page images at once instead.

Rendering. One background thread per process (`_RenderWorker`) takes decks one at a time
and has each rendered by a child process (render.py: PDFium is not thread-safe and must
not crash the web process), storing every page's images through `default_storage` as
they come and recording progress. A deck is claimed with a token; a deck whose run
stopped making progress (its process died) may be claimed again by any process
(`deck_render_resume`), and a run that lost its claim stops.

The room. `slides_open`, `slides_goto` and `slides_close` change `SlideShow` and store
the room event announcing it in one transaction (`room_event_emit`), so the snapshot
and the events never disagree. Only presenters may (selectors.slides_may_present).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import tempfile
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import User
from sessions.models import (
    DeckKind,
    DeckSource,
    DeckStatus,
    LiveSession,
    RoomEvent,
    SessionKind,
    SlideDeck,
    SlidePage,
    SlideShow,
)
from sessions.room.events import room_event_emit, room_event_type

from . import config, selectors
from .render import FORMATS, RenderFailed, render_in_child

logger = logging.getLogger(__name__)

room_event_type("slides.opened", deck=dict, page=int, by=int)
room_event_type("slides.page", deck_id=int, page=int, by=int)
room_event_type("slides.closed", deck_id=int, by=int)

STORAGE_ROOT = "slides"
#: Images a presenter may upload to show (what the renderer reads; SVG is not among them).
_UPLOAD_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_COPY = 1024 * 1024


# --- decks -----------------------------------------------------------------------------


def _too_large(size: int) -> InvalidRequest:
    from courses.library.validation import human_size

    return InvalidRequest(
        _("The PDF is %(size)s; slides may be at most %(limit)s.")
        % {"size": human_size(size), "limit": human_size(config.max_upload_bytes())},
        "file_too_large",
    )


def _check_room_for_a_deck(session: LiveSession) -> None:
    if SlideDeck.objects.filter(session=session).count() >= config.max_decks_per_session():
        raise InvalidRequest(
            _("This session already has %(n)s decks, the most it may have.") % {"n": config.max_decks_per_session()},
            "too_many_decks",
        )


def _deck_create(
    *, session: LiveSession, user: User, title: str, source: str, source_name: str, sha256: str, size: int,
    folder: str, material_id: int | None = None, kind: str = DeckKind.PDF,
) -> SlideDeck:
    """Create the deck; share rendered pages if this file was rendered before, else queue it."""
    with transaction.atomic():
        _check_room_for_a_deck(session)
        deck = SlideDeck.objects.create(
            session=session, title=title[:200] or _("Slides"), source=source, kind=kind, material_id=material_id,
            source_name=source_name, source_sha256=sha256, source_size=size, folder=folder,
            profile=config.render_profile(), created_by=user,
        )
        if not _deck_reuse_rendered(deck):
            deck_id = deck.pk
            transaction.on_commit(lambda: deck_render_enqueue(deck_id=deck_id))
    logger.info("session %s: deck %s created by user %s (%s, %s bytes, %s)",
                session.pk, deck.pk, user.pk, source, size, deck.status)
    return deck


def _deck_reuse_rendered(deck: SlideDeck) -> bool:
    """Give `deck` the pages of a ready deck of the same PDF and profile. True if it did.

    Page images are immutable and always served through the authorized view of the deck
    that lists them, so two decks may name the same stored files.
    """
    donor = (
        SlideDeck.objects.filter(source_sha256=deck.source_sha256, profile=deck.profile, status=DeckStatus.READY)
        .exclude(pk=deck.pk).order_by("-ready_at", "-pk").first()
    )
    if donor is None:
        return False
    pages = list(SlidePage.objects.filter(deck=donor).order_by("number"))
    if len(pages) != donor.page_count or not pages:
        return False
    SlidePage.objects.bulk_create([
        SlidePage(
            deck=deck, number=p.number, content_type=p.content_type,
            large_name=p.large_name, large_width=p.large_width, large_height=p.large_height, large_bytes=p.large_bytes,
            small_name=p.small_name, small_width=p.small_width, small_height=p.small_height, small_bytes=p.small_bytes,
        )
        for p in pages
    ])
    now = timezone.now()
    changes = {
        "status": DeckStatus.READY, "page_count": donor.page_count, "pages_done": donor.page_count,
        "page_width": donor.page_width, "page_height": donor.page_height, "ready_at": now, "progress_at": now,
    }
    SlideDeck.objects.filter(pk=deck.pk).update(**changes)
    for name, value in changes.items():
        setattr(deck, name, value)
    logger.info("deck %s reuses the %s rendered pages of deck %s", deck.pk, donor.page_count, donor.pk)
    return True


def deck_create_from_material(*, user: User, session: LiveSession, material_id: int) -> SlideDeck:
    """A deck of a library PDF, or of a library image (one page), that `user` may see (presenters only).

    The same material (same file) asked for again in the session returns its deck, so a
    double click makes one deck. Refusals: `not_presenter`, `material_not_visible`,
    `not_a_pdf` (the material has no PDF and no image that can be shown), `file_too_large`,
    `too_many_decks`.
    """
    from courses.library.selectors import material_get_for_user

    selectors.slides_require_presenter(session=session, user=user)
    material = material_get_for_user(user, material_id)
    file, kind = selectors.material_showable_file(material=material)
    if file is None:
        raise InvalidRequest(_("This material has no PDF or image to show."), "not_a_pdf")
    if file.size > config.max_upload_bytes():
        raise _too_large(file.size)
    existing = (
        SlideDeck.objects.filter(session=session, material=material, source_sha256=file.sha256, profile=config.render_profile())
        .exclude(status=DeckStatus.FAILED).first()
    )
    if existing is not None:
        deck_render_resume(deck=existing)
        return existing
    return _deck_create(
        session=session, user=user, title=material.title, source=DeckSource.MATERIAL, material_id=material.pk,
        source_name=file.storage_name, sha256=file.sha256, size=file.size, folder=uuid.uuid4().hex, kind=kind,
    )


def _sniffed_type(head: bytes, sniff: Any) -> str:
    """The content type the library reads from these first bytes, "" for what it refuses."""
    try:
        return str(sniff(head)[1])
    except InvalidRequest:
        return ""


def deck_create_from_upload(
    *, user: User, session: LiveSession, upload: IO[bytes], file_name: str = "", title: str = "",
) -> SlideDeck:
    """A deck of a PDF or an image the presenter uploads, checked by its content, stored under slides/.

    An image (PNG, JPEG, GIF, WebP) is one page: a file from the presenter's computer, or
    a still of a screen share or camera taken in the room to draw on (a video frame has
    no stored page to keep strokes with, for late joiners and the record). Images are
    stored re-encoded without EXIF, GPS or other metadata, like the library's; they stay
    with the session (served through the deck's authorized views), never in the library.
    Refusals: `not_presenter`; `not_a_pdf` (the bytes are neither a PDF nor one of those
    images, whatever the name; SVG too); `file_too_large`; `pdf_active_content`,
    `image_too_many_pixels`, `image_broken` and the library's other content refusals;
    `too_many_decks`; `consult_photo` (an image in a consult: its photos are clinical, and
    go through the consult's audited photos). Precondition: `upload` is seekable.
    """
    from courses.library.validation import HEAD, file_size, image_clean, sniff, upload_inspect

    selectors.slides_require_presenter(session=session, user=user)
    _check_room_for_a_deck(session)
    size = file_size(upload)
    head = upload.read(HEAD)
    upload.seek(0)
    is_pdf = head.startswith(b"%PDF-")
    if not is_pdf and _sniffed_type(head, sniff) not in _UPLOAD_IMAGE_TYPES:
        raise InvalidRequest(
            _("This file is neither a PDF nor an image (PNG, JPEG, GIF or WebP). Export the slides as PDF and upload that."),
            "not_a_pdf",
        )
    if not is_pdf and session.kind == SessionKind.CONSULT:
        # A photo in a consult is clinical: it goes through the consult's photos (metadata
        # stripped, every access audited), never into slides storage.
        raise PermissionRefused(_("In a consult, share photos as the consult's clinical photos."), "consult_photo")
    if size > config.max_upload_bytes():
        raise _too_large(size)
    inspected = upload_inspect(upload, declared_kind="pdf" if is_pdf else "image")
    folder = uuid.uuid4().hex
    stem = Path((file_name or "").replace("\\", "/")).name
    if is_pdf:
        upload.seek(0)
        stored = default_storage.save(f"{STORAGE_ROOT}/{session.pk}/{folder}/source.pdf", File(upload, name="source.pdf"))
        sha256, kind = inspected.sha256, DeckKind.PDF
    else:
        try:
            clean = image_clean(upload)
        except (OSError, ValueError, SyntaxError) as damaged:  # Pillow's errors for data it cannot decode
            raise InvalidRequest(_("The image is damaged or not really an image."), "image_broken") from damaged
        name = f"source.{clean.extension}"
        stored = default_storage.save(f"{STORAGE_ROOT}/{session.pk}/{folder}/{name}", ContentFile(clean.data, name=name))
        sha256, size, kind = hashlib.sha256(clean.data).hexdigest(), len(clean.data), DeckKind.IMAGE
    if not title:
        title = stem.rsplit(".", 1)[0] if "." in stem else stem
    return _deck_create(
        session=session, user=user, title=title.strip(), source=DeckSource.UPLOAD, source_name=stored,
        sha256=sha256, size=size, folder=folder, kind=kind,
    )


def deck_create_from_resumable_upload(
    *, user: User, session: LiveSession, upload_id: UUID | str, title: str = "",
) -> SlideDeck:
    """A deck of a PDF that arrived in pieces through the library's resumable uploads.

    For files above the HTTP body ceiling (16 MB). The upload must be `user`'s and
    complete; it is consumed (see courses.library.uploads.upload_session_file).
    """
    from courses.library.uploads import upload_session_file

    selectors.slides_require_presenter(session=session, user=user)
    with upload_session_file(user=user, session_id=upload_id) as (upload_session, file):
        return deck_create_from_upload(
            user=user, session=session, upload=file, file_name=upload_session.file_name, title=title,
        )


# --- rendering -------------------------------------------------------------------------


class _RenderWorker:
    """One thread per process rendering queued decks one after another (each in a child)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[int] = queue.Queue()
        self._queued: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._busy = 0

    def enqueue(self, deck_id: int) -> bool:
        with self._lock:
            if deck_id in self._queued:
                return False
            self._queued.add(deck_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="slides-render", daemon=True)
                self._thread.start()
        self._queue.put(deck_id)
        return True

    def _run(self) -> None:
        from django.db import connections

        while True:
            deck_id = self._queue.get()
            try:
                deck_render(deck_id=deck_id)
            except Exception:
                logger.exception("deck %s: rendering failed", deck_id)
            finally:
                with self._lock:
                    self._queued.discard(deck_id)
                connections.close_all()  # this thread's connections; a new job opens fresh ones

    def pending(self) -> int:
        """Decks queued or being rendered in this process."""
        with self._lock:
            return len(self._queued)


_worker = _RenderWorker()


def deck_render_enqueue(*, deck_id: int) -> None:
    """Render the deck in the background (or now, with SLIDES_RENDER_INLINE)."""
    if config.render_inline():
        deck_render(deck_id=deck_id)
    else:
        _worker.enqueue(deck_id)


def deck_render_pending() -> int:
    """How many decks this process has queued or is rendering (tests and health checks)."""
    return _worker.pending()


def deck_render_resume(*, deck: SlideDeck) -> bool:
    """Queue a deck again if it waits without progress (its process died). True if queued.

    Called when a presenter looks at the deck (status, list, open): the process serving
    them takes it over. The claim in `deck_render` makes sure one run wins.
    """
    if deck.status not in (DeckStatus.PENDING, DeckStatus.RENDERING):
        return False
    last = deck.progress_at or deck.created_at
    if timezone.now() - last < timedelta(seconds=config.stall_seconds()):
        return False
    logger.warning("deck %s made no progress since %s; rendering it again", deck.pk, last.isoformat())
    deck_render_enqueue(deck_id=deck.pk)
    return True


def _claim(deck_id: int, token: str) -> bool:
    now = timezone.now()
    stale = now - timedelta(seconds=config.stall_seconds())
    waiting = Q(status=DeckStatus.PENDING) | Q(status=DeckStatus.RENDERING, progress_at__lt=stale) | Q(
        status=DeckStatus.RENDERING, progress_at__isnull=True
    )
    return bool(
        SlideDeck.objects.filter(waiting, pk=deck_id).update(
            status=DeckStatus.RENDERING, render_token=token, progress_at=now, pages_done=0, error_code="",
        )
    )


def _progress(deck_id: int, token: str, **changes: Any) -> bool:
    """Record progress of the run holding `token`; False when another run took the deck."""
    return bool(SlideDeck.objects.filter(pk=deck_id, render_token=token).update(progress_at=timezone.now(), **changes))


def _fetch_source(name: str, target: Path) -> None:
    try:
        with default_storage.open(name, "rb") as source, open(target, "wb") as out:
            while piece := source.read(_COPY):
                out.write(piece)
    except FileNotFoundError as error:
        raise RenderFailed("source_missing") from error
    except Exception as error:  # S3 answers a missing object with botocore's ClientError
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey"):
            raise RenderFailed("source_missing") from error
        raise


def _store_image(deck: SlideDeck, out_dir: Path, image: dict[str, Any]) -> str:
    file_name = str(image["file"])
    if Path(file_name).name != file_name or file_name.startswith("."):
        raise RenderFailed("render_failed")  # the child names plain files in its folder, nothing else
    path = out_dir / file_name
    with open(path, "rb") as handle:
        stored = default_storage.save(f"{STORAGE_ROOT}/{deck.session_id}/{deck.folder}/{file_name}", File(handle, name=file_name))
    path.unlink(missing_ok=True)
    return stored


def _store_page(deck: SlideDeck, out_dir: Path, event: dict[str, Any]) -> SlidePage:
    large, small = event["images"]
    return SlidePage.objects.create(
        deck=deck, number=int(event["page"]), content_type=FORMATS[config.image_format()][0],
        large_name=_store_image(deck, out_dir, large), large_width=int(large["width"]),
        large_height=int(large["height"]), large_bytes=int(large["bytes"]),
        small_name=_store_image(deck, out_dir, small), small_width=int(small["width"]),
        small_height=int(small["height"]), small_bytes=int(small["bytes"]),
    )


def deck_render(*, deck_id: int) -> bool:
    """Render a claimed deck's pages and store them; True when this run made it ready.

    Returns False without doing anything when the deck is not waiting (ready, failed, or
    another run is making progress on it). Any failure marks the deck failed with a code
    (docs/slides.md) unless another run took it over meanwhile.
    """
    token = uuid.uuid4().hex
    if not _claim(deck_id, token):
        return False
    deck = SlideDeck.objects.get(pk=deck_id)
    SlidePage.objects.filter(deck=deck).delete()  # left by a run that died
    logger.info("deck %s of session %s: rendering %s bytes", deck.pk, deck.session_id, deck.source_size)
    try:
        with tempfile.TemporaryDirectory(prefix="openrounds-slides-") as workdir:
            pdf_path = Path(workdir) / "source.pdf"
            out_dir = Path(workdir) / "pages"
            out_dir.mkdir()
            _fetch_source(deck.source_name, pdf_path)
            events = render_in_child(
                pdf_path, out_dir, widths=config.image_widths(), image_format=config.image_format(),
                limits=config.render_limits(), kind=deck.kind,
            )
            for event in events:
                if "pages" in event:
                    if not _progress(deck.pk, token, page_count=int(event["pages"])):
                        logger.info("deck %s: another run took over", deck.pk)
                        return False
                    continue
                page = _store_page(deck, out_dir, event)
                first = {"page_width": page.large_width, "page_height": page.large_height} if page.number == 1 else {}
                if not _progress(deck.pk, token, pages_done=page.number, **first):
                    logger.info("deck %s: another run took over", deck.pk)
                    return False
    except RenderFailed as failure:
        _fail(deck.pk, token, failure.code)
        return False
    except Exception:
        logger.exception("deck %s: rendering failed", deck.pk)
        _fail(deck.pk, token, "render_failed")
        return False
    now = timezone.now()
    done = SlideDeck.objects.filter(pk=deck.pk, render_token=token).update(
        status=DeckStatus.READY, ready_at=now, progress_at=now, render_token="",
    )
    if done:
        logger.info("deck %s of session %s: ready", deck.pk, deck.session_id)
    return bool(done)


def _fail(deck_id: int, token: str, code: str) -> None:
    if SlideDeck.objects.filter(pk=deck_id, render_token=token).update(
        status=DeckStatus.FAILED, error_code=code[:40], render_token="", progress_at=timezone.now(),
    ):
        logger.warning("deck %s: rendering refused or failed (%s)", deck_id, code)


# --- the room --------------------------------------------------------------------------


def _already_stored(*, session_id: int, user: User, client_id: str) -> int | None:
    """The event number a repeated client message already stored (sends are idempotent)."""
    if not client_id:
        return None
    return (
        RoomEvent.objects.filter(session_id=session_id, actor_id=user.pk, client_id=client_id)
        .values_list("seq", flat=True).first()
    )


def _show_locked(session_id: int) -> SlideShow:
    SlideShow.objects.get_or_create(session_id=session_id)
    return SlideShow.objects.select_for_update(of=("self",)).select_related("deck").get(pk=session_id)


def _page_in_range(deck: SlideDeck, page: int) -> None:
    if not 1 <= page <= deck.page_count:
        raise InvalidRequest(
            _("This deck has pages 1 to %(n)s.") % {"n": deck.page_count}, "page_out_of_range",
        )


def slides_open(*, session: LiveSession, user: User, deck_id: int, page: int = 1, client_id: str = "") -> int | None:
    """Put a ready deck on screen at `page` (presenters). Returns the event's number.

    None when that deck is already on screen (nothing changes; use `slides_goto`).
    Refusals: `not_presenter`, `unknown_deck` (not a deck of this session), `deck_not_ready`
    (still rendering, or failed), `page_out_of_range`.
    """
    selectors.slides_require_presenter(session=session, user=user)
    stored = _already_stored(session_id=session.pk, user=user, client_id=client_id)
    if stored is not None:
        return stored
    deck = SlideDeck.objects.filter(pk=deck_id, session=session).first()
    if deck is None:
        raise InvalidRequest(_("There is no such deck in this session."), "unknown_deck")
    if deck.status != DeckStatus.READY:
        deck_render_resume(deck=deck)
        raise InvalidRequest(_("This deck is not ready yet; its pages are being prepared."), "deck_not_ready")
    _page_in_range(deck, page)
    with transaction.atomic():
        show = _show_locked(session.pk)
        if show.deck_id == deck.pk:
            return None
        seq = room_event_emit(
            session_id=session.pk, type="slides.opened",
            payload={"deck": selectors.deck_public(deck), "page": page, "by": user.pk},
            actor_id=user.pk, client_id=client_id,
        )
        now = timezone.now()
        SlideShow.objects.filter(pk=session.pk).update(deck=deck, page=page, seq=seq, updated_by=user, updated_at=now)
        SlideDeck.objects.filter(pk=deck.pk, shown_at__isnull=True).update(shown_at=now)
    logger.info("session %s: deck %s on screen (user %s, event %s)", session.pk, deck.pk, user.pk, seq)
    return seq


def slides_goto(*, session: LiveSession, user: User, page: int, deck_id: int | None = None, client_id: str = "") -> int | None:
    """Show `page` of the deck on screen (presenters). None when it is already shown.

    With `deck_id`, the page change applies only if that deck is still on screen (a
    presenter whose screen is behind cannot turn another presenter's deck).
    Refusals: `not_presenter`, `slides_not_open`, `unknown_deck`, `page_out_of_range`.
    """
    selectors.slides_require_presenter(session=session, user=user)
    stored = _already_stored(session_id=session.pk, user=user, client_id=client_id)
    if stored is not None:
        return stored
    with transaction.atomic():
        show = _show_locked(session.pk)
        if show.deck is None:
            raise InvalidRequest(_("No slides are on screen."), "slides_not_open")
        if deck_id is not None and deck_id != show.deck_id:
            raise InvalidRequest(_("That deck is no longer on screen."), "unknown_deck")
        _page_in_range(show.deck, page)
        if page == show.page:
            return None
        seq = room_event_emit(
            session_id=session.pk, type="slides.page", payload={"deck_id": show.deck_id, "page": page, "by": user.pk},
            actor_id=user.pk, client_id=client_id,
        )
        SlideShow.objects.filter(pk=session.pk).update(page=page, seq=seq, updated_by=user, updated_at=timezone.now())
    return seq


def slides_close(*, session: LiveSession, user: User, client_id: str = "") -> int | None:
    """Take the slides off screen (presenters). None when none were on screen."""
    selectors.slides_require_presenter(session=session, user=user)
    stored = _already_stored(session_id=session.pk, user=user, client_id=client_id)
    if stored is not None:
        return stored
    with transaction.atomic():
        show = _show_locked(session.pk)
        if show.deck_id is None:
            return None
        seq = room_event_emit(
            session_id=session.pk, type="slides.closed", payload={"deck_id": show.deck_id, "by": user.pk},
            actor_id=user.pk, client_id=client_id,
        )
        SlideShow.objects.filter(pk=session.pk).update(deck=None, page=0, seq=seq, updated_by=user, updated_at=timezone.now())
    logger.info("session %s: slides closed by user %s (event %s)", session.pk, user.pk, seq)
    return seq
