"""Resumable chunked uploads: a large file arrives in pieces, then becomes a material.

Why: daphne holds a whole request body in memory before Django sees it (a 1 GB POST
grew the server by 14 GB), and a contributor on 3G rarely keeps one connection alive
for an hour. So the browser sends the file in chunks of at most `CHUNK_MAX` bytes, each
a separate request: `upload_session_create` announces name, size and kind;
`upload_session_append` writes one chunk at the offset the server expects (the bytes
received so far) into a temporary file, streaming, never holding more than a small
buffer; after a failure the client reads `received` and continues from there;
`upload_session_finalize` hands the assembled file to `services.material_create` (and
`upload_session_replace` to `material_update`), which inspects, cleans and stores it
exactly like a single-request upload.

Rules: only the owner may use a session; chunks must come in order (a chunk at any
other offset is refused with the offset expected); nothing beyond the announced size or
the kind's limit is accepted; the first bytes are checked as soon as they arrive
(`validation.upload_head_check`), so a program, an HTML page or a file of the wrong kind
is refused after one chunk with the usual message; sessions expire
(`LIBRARY_UPLOAD_SESSION_HOURS`, default 24) and are purged with their files.

Temporary files live in `LIBRARY_UPLOAD_TEMP_DIR` (default: `<tmp>/openrounds-uploads`).
Several daphne processes on one machine share it; several machines need a shared
volume there (or sticky routing of /api/library/uploads/). A chunk is written under an
exclusive `flock` on the file, so two requests racing for one session cannot interleave.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.models import FILE_KINDS, Material, UploadSession
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import User

from . import storage
from .selectors import user_can_contribute
from .validation import HEAD, human_size, upload_head_check, upload_largest_limit

logger = logging.getLogger(__name__)

MB = 1024 * 1024
#: Largest chunk the server takes in one request (the browser sends CHUNK_SIZE).
CHUNK_MAX = 8 * MB
#: Chunk size the server suggests: small enough that a 3G user loses little on a failure.
CHUNK_SIZE = 4 * MB
#: Open sessions per person (each may hold a temporary file of up to the kind's limit).
MAX_OPEN_SESSIONS = 5
_COPY = 256 * 1024
#: Refusal codes that mean the file itself is refused (its session is then discarded).
FILE_REFUSAL_PREFIXES = ("file", "zip", "svg", "image", "media", "pdf", "office", "kind", "upload")


def upload_temp_dir() -> Path:
    """Where chunks are assembled (created on first use, readable by this user only)."""
    folder = Path(getattr(settings, "LIBRARY_UPLOAD_TEMP_DIR", "") or Path(tempfile.gettempdir()) / "openrounds-uploads")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _session_hours() -> int:
    return int(getattr(settings, "LIBRARY_UPLOAD_SESSION_HOURS", 24))


def _remove_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        logger.warning("could not remove upload temp file %s", path, exc_info=True)


def _discard(session: UploadSession) -> None:
    """Delete a session and its temporary file."""
    _remove_file(session.temp_path)
    UploadSession.objects.filter(pk=session.pk).delete()


def upload_sessions_purge(*, limit: int = 100) -> int:
    """Delete expired sessions and their files (bounded; called when sessions start)."""
    expired = list(UploadSession.objects.filter(expires_at__lt=timezone.now()).order_by("expires_at")[:limit])
    for session in expired:
        _discard(session)
    if expired:
        logger.info("purged %s expired upload sessions", len(expired))
    return len(expired)


def upload_session_get_for_user(*, user: User, session_id: UUID | str) -> UploadSession:
    """The session `session_id` if `user` owns it and it has not expired.

    A session that does not exist and one of another person are refused alike.
    """
    session = None
    if user.is_authenticated:
        try:
            session = UploadSession.objects.filter(pk=session_id, owner=user).first()
        except (ValueError, ValidationError):  # a malformed id is simply not found
            session = None
    if session is None:
        raise PermissionRefused(_("This upload does not exist or belongs to someone else."), "upload_not_yours")
    if session.expires_at < timezone.now():
        _discard(session)
        raise InvalidRequest(_("This upload has expired; please start it again."), "upload_expired")
    return session


def upload_session_create(*, user: User, file_name: str, size: int, kind: str = "file", sha256: str = "") -> UploadSession:
    """Start a resumable upload of a file of `size` bytes, to become a material of `kind`.

    `kind` is "file" (decided from the content) or one of the file kinds. The size is
    checked against the kind's limit now, before a single byte is sent.
    """
    if not user_can_contribute(user=user):
        raise PermissionRefused(
            _("Only faculty, supervisors and coordinators can contribute to the library."), "cannot_contribute"
        )
    if kind != "file" and kind not in FILE_KINDS:
        raise InvalidRequest(_("Files can be shared as a PDF, slides, an image, audio, video or a recording."), "kind_invalid")
    if size <= 0:
        raise InvalidRequest(_("The file is empty."), "file_empty")
    declared = None if kind == "file" else kind
    limit = upload_largest_limit(declared)
    if size > limit:
        raise InvalidRequest(
            _("The file is %(size)s; files of this kind may be at most %(limit)s.")
            % {"size": human_size(size), "limit": human_size(limit)},
            "file_too_large",
        )
    sha256 = (sha256 or "").strip().lower()
    if sha256 and (len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256)):
        raise InvalidRequest(_("The SHA-256 must be 64 hexadecimal characters."), "upload_sha256_invalid")
    upload_sessions_purge()
    open_sessions = UploadSession.objects.filter(owner=user, expires_at__gte=timezone.now()).count()
    if open_sessions >= MAX_OPEN_SESSIONS:
        raise InvalidRequest(
            _("You have %(n)s unfinished uploads; finish or cancel one before starting another.") % {"n": open_sessions},
            "upload_too_many",
        )
    now = timezone.now()
    session = UploadSession(
        owner=user, file_name=storage.safe_file_name(file_name or "file"), kind=kind, size=size, sha256=sha256,
        created_at=now, updated_at=now, expires_at=now + timedelta(hours=_session_hours()),
    )
    session.temp_path = str(upload_temp_dir() / f"{session.pk.hex}.part")
    Path(session.temp_path).touch(mode=0o600)
    session.save()
    logger.info("upload %s started by user %s (%s bytes, kind %s)", session.pk, user.pk, size, kind)
    return session


def upload_session_append(
    *, user: User, session_id: UUID | str, offset: int, body: IO[bytes], length: int | None = None, sha256: str = ""
) -> UploadSession:
    """Append one chunk read from `body` at `offset`, which must equal the bytes received.

    `length` is the chunk's declared length (Content-Length) when known; `sha256`, when
    given, is checked against the chunk's bytes (a damaged chunk is refused and can be
    sent again). The chunk is streamed into the file; on any refusal the file is cut
    back to what was received before, so the upload can continue from there.
    """
    session = upload_session_get_for_user(user=user, session_id=session_id)
    if length is not None and length > CHUNK_MAX:
        raise InvalidRequest(
            _("A piece of an upload may be at most %(limit)s.") % {"limit": human_size(CHUNK_MAX)}, "upload_chunk_too_large"
        )
    with open(session.temp_path, "r+b") as target:
        fcntl.flock(target, fcntl.LOCK_EX)  # released when the file closes
        session.refresh_from_db(fields=["received", "detected_kind"])
        if offset != session.received:
            raise InvalidRequest(
                _("This piece starts at byte %(offset)s, but the server has %(received)s bytes: continue from there.")
                % {"offset": offset, "received": session.received},
                "upload_offset_mismatch",
            )
        room = session.size - offset
        if length is not None and length > room:
            raise InvalidRequest(_("The file is larger than announced when the upload started."), "upload_too_long")
        digest = hashlib.sha256() if sha256 else None
        target.seek(offset)
        written = 0
        try:
            while True:
                piece = body.read(_COPY)
                if not piece:
                    break
                written += len(piece)
                if written > CHUNK_MAX:
                    raise InvalidRequest(
                        _("A piece of an upload may be at most %(limit)s.") % {"limit": human_size(CHUNK_MAX)},
                        "upload_chunk_too_large",
                    )
                if written > room:
                    raise InvalidRequest(_("The file is larger than announced when the upload started."), "upload_too_long")
                if digest is not None:
                    digest.update(piece)
                target.write(piece)
            if written == 0:
                raise InvalidRequest(_("This piece of the upload is empty."), "upload_chunk_empty")
            if digest is not None and digest.hexdigest() != sha256.strip().lower():
                raise InvalidRequest(_("This piece was damaged on the way; send it again."), "upload_chunk_corrupted")
            if length is not None and written != length:
                raise InvalidRequest(_("This piece arrived incomplete; send it again."), "upload_chunk_incomplete")
        except BaseException:
            target.truncate(offset)
            raise
        target.truncate(offset + written)
        target.flush()
        received = offset + written
        head = b""
        if not session.detected_kind and received >= min(HEAD, session.size):
            target.seek(0)
            head = target.read(HEAD)
        UploadSession.objects.filter(pk=session.pk).update(received=received, updated_at=timezone.now())
    session.received = received
    if head:
        try:
            detected = upload_head_check(head, size=session.size, declared_kind=None if session.kind == "file" else session.kind)
        except InvalidRequest as refusal:
            logger.info("upload %s refused from its first bytes (%s)", session.pk, refusal.code)
            _discard(session)
            raise
        UploadSession.objects.filter(pk=session.pk).update(detected_kind=detected)
        session.detected_kind = detected
    return session


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while piece := source.read(MB):
            digest.update(piece)
    return digest.hexdigest()


class AssembledUpload(File):
    """The assembled temporary file, offered to storage as a temporary upload file.

    `temporary_file_path` lets FileSystemStorage move it into place instead of copying
    a gigabyte (S3 storage streams it in multipart pieces either way).
    """

    def temporary_file_path(self) -> str:
        return self.file.name  # type: ignore[union-attr]  # made from an open file, never None


@contextmanager
def upload_session_file(*, user: User, session_id: UUID | str) -> Iterator[tuple[UploadSession, File]]:
    """The assembled file of a complete upload, for a service that stores it.

    On a normal exit the session and its file are gone. If the block raises a refusal
    of the file itself, the session is discarded too; any other refusal (a missing
    title) leaves it, so the form can be corrected and sent again without uploading
    the file again.
    """
    session = upload_session_get_for_user(user=user, session_id=session_id)
    if not session.complete:
        raise InvalidRequest(
            _("The upload is not complete: %(received)s of %(size)s received.")
            % {"received": human_size(session.received), "size": human_size(session.size)},
            "upload_incomplete",
        )
    if session.sha256 and _file_sha256(session.temp_path) != session.sha256:
        _discard(session)
        raise InvalidRequest(_("The assembled file does not match its SHA-256; please upload it again."), "upload_corrupted")
    try:
        with open(session.temp_path, "rb") as source:
            yield session, AssembledUpload(source, name=session.file_name)
    except InvalidRequest as refusal:
        if refusal.code.split("_", 1)[0] in FILE_REFUSAL_PREFIXES:
            _discard(session)
        raise
    _discard(session)


def upload_session_finalize(*, user: User, session_id: UUID | str, **material: Any) -> Material:
    """Turn a complete upload into a material: `services.material_create` with the file.

    `material` holds material_create's metadata arguments (title, level, licence, scope,
    institution…); the kind and the file come from the session. See
    `upload_session_file` for what happens to the session on success and on refusal.
    """
    from .services import material_create

    for name in ("kind", "upload", "upload_name", "user"):
        material.pop(name, None)
    with upload_session_file(user=user, session_id=session_id) as (session, upload):
        created = material_create(
            user=user, kind=session.kind, upload=upload, upload_name=session.file_name, **material,
        )
    logger.info("upload %s became material %s", session.pk, created.pk)
    return created


def upload_session_replace(*, user: User, session_id: UUID | str, material: Material, **changes: Any) -> Material:
    """A new version of `material` whose main file is a complete upload (`material_update`)."""
    from .services import material_update

    for name in ("upload", "upload_name", "user", "material"):
        changes.pop(name, None)
    with upload_session_file(user=user, session_id=session_id) as (session, upload):
        updated = material_update(user=user, material=material, upload=upload, upload_name=session.file_name, **changes)
    logger.info("upload %s became version %s of material %s", session.pk, updated.version, updated.pk)
    return updated


def upload_session_cancel(*, user: User, session_id: UUID | str) -> None:
    """Abandon an upload: its temporary file is deleted at once."""
    session = upload_session_get_for_user(user=user, session_id=session_id)
    _discard(session)
    logger.info("upload %s cancelled by its owner", session.pk)
