"""A broadcast's playlists for the people allowed in the room, with presigned segment URLs.

Why through Django: a private session's broadcast must reach only its room. The bucket is
private; each viewer asks this view for a playlist (after the same check as entering the
room: in the audience, admitted, not removed), and gets it rewritten so that each segment
is a short-lived presigned URL of the storage (or of the CDN in front of it). The
segments themselves (all the bytes) come from the storage, never from here; the rewrite
is shared by every viewer for a second, so a viewer costs this server one small request
per segment duration and no per-viewer signing.

With a CDN (docs/operations.md, "A CDN in front of the bucket"): django-storages' S3Storage
with `custom_domain` and a CloudFront key pair (`AWS_S3_CUSTOM_DOMAIN`,
`AWS_CLOUDFRONT_KEY_ID`, `AWS_CLOUDFRONT_KEY`) signs its own URLs with CloudFront's canned
policy (`Expires`, `Signature`, `Key-Pair-Id`), and the rewrite uses exactly those
(`segment_url`): the segments then come from the CDN's edge, still only to people the room
let in. A custom domain *without* a key would make unsigned URLs, which a public CDN would
serve to anyone: then the rewrite signs S3 URLs of the bucket instead (and logs why).

Live, a rendition's playlist lists the last `LIVE_WINDOW` segments; once the broadcast
ended (its playlist has `#EXT-X-ENDLIST`) every segment, signed for `VOD_EXPIRE` seconds,
which is how the session's recording of a broadcast plays (one encode for live and replay).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from server.people.errors import PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from server.people.models import User
from sessions.models import LiveSession, Participant, SessionKind

from .broadcast import RENDITIONS, master_playlist, playlist_segments
from .broadcast_outcomes import broadcast_current

logger = logging.getLogger(__name__)

LIVE_WINDOW = 8
#: A live playlist is rewritten at most once a second per rendition (shared by all viewers).
SHARED_SECONDS = 1.0
LIVE_EXPIRE = 300
VOD_EXPIRE = 6 * 3600
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"

_cache: dict[str, tuple[float, str]] = {}
_cache_lock = threading.Lock()


def broadcast_viewer_folder(*, session_id: int, user: User) -> str:
    """The folder of the session's broadcast if `user` may watch it; PermissionRefused otherwise.

    The room's rule: in the session's audience, admitted to its room (a participant, so
    past the lobby and the lock) and not removed. Never a consult.
    """
    from sessions.room.selectors import room_role_for

    session = LiveSession.objects.filter(pk=session_id).first()
    if session is None or session.kind == SessionKind.CONSULT:
        raise PermissionRefused(_("There is no such broadcast."), code="not_found")
    participant = Participant.objects.filter(session=session, user=user).first()
    if participant is None or participant.removed_at is not None or room_role_for(session=session, user=user) is None:
        raise PermissionRefused(_("You are not in the audience of this session."), code="forbidden")
    folder = str(broadcast_current(session_id=session_id).get("folder") or "")
    if not folder:
        raise PermissionRefused(_("This session is not being broadcast."), code="not_found")
    return folder


def playlist_signed(text: str, folder: str, rendition: str) -> str:
    """`text` with each segment replaced by a presigned URL; live: only the last segments.

    A discontinuity (a broadcast handed over to another worker) that leaves the live window
    is counted in `EXT-X-DISCONTINUITY-SEQUENCE`, as HLS asks of a sliding window.
    """
    ended = "#EXT-X-ENDLIST" in text
    expire = VOD_EXPIRE if ended else LIVE_EXPIRE
    segments = playlist_segments(text)
    keep = set(segments if ended else segments[-LIVE_WINDOW:])
    first = segments.index(min(keep)) if keep else 0
    lines: list[str] = []
    pending: list[str] = []
    dropped = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            lines.append(f"#EXT-X-MEDIA-SEQUENCE:{int(stripped.split(':', 1)[1]) + first}")
        elif stripped.startswith("#EXT-X-PLAYLIST-TYPE:EVENT") and not ended:
            continue  # a sliding window is a plain live playlist
        elif stripped.startswith("#EXTINF") or stripped.startswith("#EXT-X-DISCONTINUITY"):
            pending.append(line)
        elif stripped in keep:
            lines.extend(pending)
            lines.append(segment_url(f"{folder}/{rendition}/{stripped}", expire=expire))
            pending = []
        elif stripped in segments:
            dropped += sum(1 for tag in pending if tag.strip() == "#EXT-X-DISCONTINUITY")
            pending = []  # outside the live window
        else:
            lines.append(line)
    if dropped:  # a handed-over broadcast's discontinuity left the window: players count on
        at = next((i for i, line in enumerate(lines) if line.startswith("#EXT-X-MEDIA-SEQUENCE:")), 0)
        lines.insert(at + 1, f"#EXT-X-DISCONTINUITY-SEQUENCE:{dropped}")
    return "\n".join(lines) + "\n"


def _is_s3() -> bool:
    from django.core.files.storage import storages

    return hasattr(type(storages["default"]), "bucket")


def segment_url(name: str, *, expire: int) -> str:
    """The storage's own signed URL of a segment, valid `expire` seconds.

    S3: a presigned URL of the bucket, or, with a custom domain (a CDN) and a CloudFront
    key, the URL CloudFront-signed by django-storages. Never an unsigned URL of a private
    session's segment: a custom domain without a key falls back to the bucket's presigned
    URL. The file system (development): its plain URL.
    """
    storage: Any = default_storage
    if not _is_s3():
        return str(storage.url(name))
    if getattr(storage, "custom_domain", None) and not getattr(storage, "cloudfront_signer", None):
        _warn_unsigned_cdn()
        from storages.utils import clean_name

        return str(storage.bucket.meta.client.generate_presigned_url(
            "get_object", Params={"Bucket": storage.bucket.name, "Key": storage._normalize_name(clean_name(name))},
            ExpiresIn=expire))
    return str(storage.url(name, expire=expire))


_warned: list[bool] = []


def _warn_unsigned_cdn() -> None:
    if not _warned:
        _warned.append(True)
        logger.error("broadcast: AWS_S3_CUSTOM_DOMAIN is set without AWS_CLOUDFRONT_KEY_ID/AWS_CLOUDFRONT_KEY: "
                     "segments are served by presigned bucket URLs, not through the CDN (docs/operations.md)")


def rendition_playlist(folder: str, rendition: str) -> str:
    """The signed playlist, shared by every viewer for `SHARED_SECONDS` (live) or half its expiry (ended)."""
    key = f"{folder}/{rendition}"
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    try:
        with default_storage.open(f"{folder}/{rendition}/index.m3u8", "rb") as stored:
            text = stored.read().decode("utf-8")
    except Exception as missing:  # S3: a missing key is a ClientError
        raise Http404(_("This broadcast has not started yet.")) from missing
    signed = playlist_signed(text, folder, rendition)
    ended = "#EXT-X-ENDLIST" in text
    with _cache_lock:
        if len(_cache) > 1000:
            _cache.clear()
        _cache[key] = (now + (VOD_EXPIRE / 2 if ended else SHARED_SECONDS), signed)
    return signed


def _playlist_response(text: str, *, max_age: int) -> HttpResponse:
    response = HttpResponse(text, content_type=PLAYLIST_TYPE)
    response["Cache-Control"] = f"private, max-age={max_age}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _folder_or_refuse(request: AuthenticatedHttpRequest, session_id: int) -> str:
    try:
        return broadcast_viewer_folder(session_id=session_id, user=request.user)
    except PermissionRefused as refused:
        if refused.code == "not_found":
            raise Http404(refused.message) from None
        raise _Forbidden(refused.message) from None


class _Forbidden(Exception):
    pass


@require_GET
@login_required
def broadcast_master(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    """The master playlist: the renditions, each served (signed) by `broadcast_rendition`."""
    try:
        _folder_or_refuse(request, session_id)
    except _Forbidden as refused:
        return HttpResponse(str(refused), status=403, content_type="text/plain; charset=utf-8")
    text = master_playlist().replace("/index.m3u8", ".m3u8")
    return _playlist_response(text, max_age=2)


@require_GET
@login_required
def broadcast_rendition(request: AuthenticatedHttpRequest, session_id: int, rendition: str) -> HttpResponse:
    """One rendition's media playlist with presigned segment URLs (never cached long: it is live)."""
    if rendition not in {r.name for r in RENDITIONS}:
        raise Http404(_("There is no such rendition."))
    try:
        folder = _folder_or_refuse(request, session_id)
    except _Forbidden as refused:
        return HttpResponse(str(refused), status=403, content_type="text/plain; charset=utf-8")
    return _playlist_response(rendition_playlist(folder, rendition), max_age=1)
