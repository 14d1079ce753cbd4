"""What an uploaded file really is, decided from its bytes, and whether the library takes it.

The name and the browser's content type are never trusted: `upload_inspect` reads the
first bytes (magic numbers), then checks the whole file as far as its type needs
(an image is decoded, a PDF scanned for active content, an Office zip's directory and
uncompressed sizes measured, audio/video opened with PyAV). Every refusal is an
`InvalidRequest` with a stable code and a sentence a contributor can act on.

Images are not stored as uploaded: `image_clean` decodes them, applies the EXIF
orientation to the pixels and writes new bytes that carry no EXIF, GPS, XMP or IPTC
block (a phone photo's location never reaches the library).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field
from typing import IO

from django.conf import settings
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest

logger = logging.getLogger(__name__)

MB = 1024 * 1024
#: Largest upload per material kind, in bytes; settings.LIBRARY_UPLOAD_LIMITS overrides.
DEFAULT_LIMITS: dict[str, int] = {
    "pdf": 100 * MB,
    "slides": 200 * MB,
    "image": 20 * MB,
    "audio": 300 * MB,
    "video": 2048 * MB,
    "recording": 4096 * MB,
}
#: Which detected file types each material kind accepts (slides may be a PDF export).
KIND_ACCEPTS: dict[str, frozenset[str]] = {
    "pdf": frozenset({"pdf"}),
    "slides": frozenset({"slides", "pdf"}),
    "image": frozenset({"image"}),
    "audio": frozenset({"audio"}),
    "video": frozenset({"video"}),
    "recording": frozenset({"video", "audio"}),
}
MAX_IMAGE_PIXELS = 40_000_000
ZIP_MAX_ENTRIES = 5000
ZIP_MAX_UNCOMPRESSED = 512 * MB
ZIP_MAX_RATIO = 100  # legitimate Office XML compresses 5–20x; a bomb 1000x and more
CHUNK = 1024 * 1024
HEAD = 8192

_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE / DOS
    b"\x7fELF",
    b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",  # Mach-O
    b"\xca\xfe\xba\xbe",  # Mach-O universal / Java class
    b"\x00asm",  # WebAssembly
    b"#!",  # scripts
    b"dex\n",  # Android
)
# Markup that a browser would run if it ever sniffed the file as HTML.
_HTML_MARKERS = re.compile(
    rb"<(?:script|html|body|iframe|object|embed|frameset|meta\s+http-equiv)[\s/>]|<!doctype\s+html|<\?php[\s]",
    re.IGNORECASE,
)
_SVG_DANGER = re.compile(
    rb"<script|<foreignobject|<iframe|<embed|<object|\son[a-z]+\s*=|javascript:|data:text/html|<!entity|<!doctype"
    rb"|(?:xlink:)?href\s*=\s*[\"']\s*(?:https?:|//)",
    re.IGNORECASE,
)


def refuse(code: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, code)


def _refuse_active_pdf(fileobj: IO[bytes]) -> None:
    """Refuse a PDF whose parsed document holds scripts, launch actions or embedded files.

    The bytes are not enough (hex-escaped names, compressed object streams): see
    courses/library/pdf_inspection.py.
    """
    from .pdf_inspection import PdfUnreadable, pdf_active_content

    try:
        found = pdf_active_content(fileobj)
    except PdfUnreadable:
        raise refuse("pdf_unreadable", _("This PDF could not be read (it may be damaged or password-protected); "
                                         "export it again and upload the new file.")) from None
    if found:
        logger.info("PDF refused: active content %s", found)
        raise refuse(
            "pdf_active_content",
            _("PDFs with JavaScript, launch actions or embedded files are not accepted; print or export the PDF again without them."),
        )


@dataclass
class Inspected:
    """What an upload turned out to be. `kind` is the library kind (pdf, slides, image…)."""

    kind: str
    content_type: str
    extension: str
    label: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    extra: dict = field(default_factory=dict)


def upload_limit(kind: str) -> int:
    limits = {**DEFAULT_LIMITS, **getattr(settings, "LIBRARY_UPLOAD_LIMITS", {})}
    return limits.get(kind, DEFAULT_LIMITS["pdf"])


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def file_size(fileobj: IO[bytes]) -> int:
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    return size


def sniff(head: bytes) -> tuple[str, str, str, str]:
    """(kind, content type, extension, label) from the first bytes; refuse what is not ours.

    Zip and ISO-media containers are only classified coarsely here; `upload_inspect`
    looks inside them.
    """
    if not head:
        raise refuse("file_empty", _("The file is empty."))
    if head.startswith(_EXECUTABLE_MAGIC):
        raise refuse("file_executable", _("Programs and scripts cannot be shared in the library."))
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png", "png", "PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg", "jpg", "JPEG image"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "image/gif", "gif", "GIF image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "image/webp", "webp", "WebP image"
    if head.startswith(b"%PDF-"):
        return "pdf", "application/pdf", "pdf", "PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "zip", "application/zip", "zip", "zip archive"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise refuse(
            "file_type_unsupported",
            _("Old Office files (.ppt, .doc) are not accepted: save the file as .pptx or as a PDF."),
        )
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"F4A "):
            return "audio", "audio/mp4", "m4a", "MP4 audio"
        if brand == b"qt  ":
            return "video", "video/quicktime", "mov", "QuickTime video"
        return "video", "video/mp4", "mp4", "MP4 video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "video/webm", "webm", "WebM video"
    if head.startswith(b"OggS"):
        return "audio", "audio/ogg", "ogg", "Ogg audio"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio", "audio/wav", "wav", "WAV audio"
    if head.startswith(b"fLaC"):
        return "audio", "audio/flac", "flac", "FLAC audio"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio", "audio/mpeg", "mp3", "MP3 audio"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<"):
        if b"<svg" in text:
            return "svg", "image/svg+xml", "svg", "SVG image"
        raise refuse("file_html", _("Web pages and other HTML or XML files cannot be uploaded."))
    raise refuse(
        "file_type_unknown",
        _(
            "This type of file is not accepted. Upload a PDF, slides (.pptx, .odp or PDF), an image "
            "(JPEG, PNG, GIF, WebP), audio (MP3, M4A, Ogg, WAV) or video (MP4, WebM)."
        ),
    )


def _scan(fileobj: IO[bytes], pattern: re.Pattern[bytes], *, limit: int | None = None) -> tuple[bool, str]:
    """Stream the file once: whether `pattern` occurs anywhere, and its SHA-256.

    Chunks overlap by 64 bytes so a marker split across two reads is still found.
    """
    digest = hashlib.sha256()
    fileobj.seek(0)
    tail = b""
    found = False
    read = 0
    while True:
        chunk = fileobj.read(CHUNK)
        if not chunk:
            break
        digest.update(chunk)
        read += len(chunk)
        if not found and (limit is None or read - len(chunk) < limit):
            window = tail + chunk
            if pattern.search(window):
                found = True
            tail = window[-64:]
    fileobj.seek(0)
    return found, digest.hexdigest()


def _inspect_zip(fileobj: IO[bytes]) -> tuple[str, str, str, str]:
    """Classify an Office zip (PowerPoint or OpenDocument slides) and refuse zip bombs."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError) as exc:
        raise refuse("file_broken", _("The file is damaged: it is not a readable archive.")) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > ZIP_MAX_ENTRIES:
            raise refuse("zip_bomb", _("The file holds too many parts to be a slide deck (more than %(n)s).") % {"n": ZIP_MAX_ENTRIES})
        total = 0
        for info in infos:
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in re.split(r"[\\/]", name):
                raise refuse("zip_unsafe_path", _("The file contains parts with unsafe names."))
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if total > ZIP_MAX_UNCOMPRESSED or (info.file_size > MB and ratio > ZIP_MAX_RATIO):
                raise refuse(
                    "zip_bomb",
                    _("The file expands to far more than its size (a zip bomb) and was refused."),
                )
            if name.lower().endswith("vbaproject.bin") or name.lower().startswith("basic/"):
                raise refuse("office_macros", _("Files with macros are not accepted: save the deck as .pptx or PDF."))
        names = {info.filename for info in infos}
        kind = None
        if "[Content_Types].xml" in names and any(n.startswith("ppt/") for n in names):
            kind = ("slides", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx", "PowerPoint slides")
        elif "mimetype" in names:
            mimetype = archive.read("mimetype")[:100].strip()
            if mimetype == b"application/vnd.oasis.opendocument.presentation":
                kind = ("slides", mimetype.decode(), "odp", "OpenDocument slides")
        if kind is None:
            raise refuse(
                "file_type_unsupported",
                _("Only slide decks are accepted as Office files (.pptx or .odp); save documents as PDF."),
            )
        # Headers can lie: decompress for real, counting, and stop at the caps.
        produced = 0
        for info in infos:
            with archive.open(info) as member:
                entry = 0
                while chunk := member.read(CHUNK):
                    entry += len(chunk)
                    produced += len(chunk)
                    if produced > ZIP_MAX_UNCOMPRESSED or (entry > MB and entry / max(info.compress_size, 1) > ZIP_MAX_RATIO):
                        raise refuse(
                            "zip_bomb",
                            _("The file expands to far more than its size (a zip bomb) and was refused."),
                        )
    fileobj.seek(0)
    return kind


def _inspect_svg(fileobj: IO[bytes], size: int) -> None:
    """Refuse an SVG that could run script or fetch from elsewhere. Clean SVG is accepted.

    SVGs are served as attachments and shown only through <img>, where script never runs;
    this check keeps a scripted SVG out of the library altogether.
    """
    if size > 2 * MB:
        raise refuse("file_too_large", _("SVG drawings are limited to 2 MB."))
    data = fileobj.read()
    fileobj.seek(0)
    if _SVG_DANGER.search(data):
        raise refuse("svg_script", _("SVG images with scripts, event handlers or external links are not accepted."))


def _inspect_image(fileobj: IO[bytes]) -> tuple[int, int, str]:
    from PIL import Image

    try:
        with Image.open(fileobj) as image:
            width, height = image.size
            fmt = image.format
            if width * height > MAX_IMAGE_PIXELS:
                raise refuse(
                    "image_too_many_pixels",
                    _("The image is too large (%(w)s × %(h)s pixels); the limit is 40 megapixels.") % {"w": width, "h": height},
                )
            image.verify()
    except InvalidRequest:
        raise
    except Exception as exc:  # Pillow raises many types for damaged data
        raise refuse("image_broken", _("The image is damaged or not really an image.")) from exc
    finally:
        fileobj.seek(0)
    return width, height, fmt or ""


def _inspect_media(fileobj: IO[bytes], kind: str) -> tuple[str, float | None, int | None, int | None]:
    """Open audio/video with PyAV (headers only): real kind, duration, picture size."""
    import av

    try:
        with av.open(fileobj, mode="r") as container:
            video = [s for s in container.streams if s.type == "video"]
            audio = [s for s in container.streams if s.type == "audio"]
            if not video and not audio:
                raise refuse("media_broken", _("The file holds no sound or picture."))
            duration = container.duration / 1_000_000 if container.duration else None
            # A video stream's codec context is a VideoCodecContext (typed as the base class).
            width = video[0].codec_context.width if video else None  # type: ignore[attr-defined]
            height = video[0].codec_context.height if video else None  # type: ignore[attr-defined]
            real_kind = "video" if video else "audio"
    except InvalidRequest:
        raise
    except Exception as exc:
        raise refuse("media_broken", _("The audio or video file is damaged or in an unknown format.")) from exc
    finally:
        fileobj.seek(0)
    return real_kind, duration, width, height


def upload_largest_limit(declared_kind: str | None) -> int:
    """The largest size an upload of `declared_kind` (None: any kind but recordings) may have."""
    if declared_kind:
        return upload_limit(declared_kind)
    return max(upload_limit(kind) for kind in KIND_ACCEPTS if kind != "recording")


def _refuse_html(kind: str, head: bytes) -> None:
    """HTML or script in the first bytes: refused for every type but SVG (checked whole later)."""
    if kind == "image" and _HTML_MARKERS.search(head):
        raise refuse("file_polyglot", _("The image hides HTML or script inside it and was refused."))
    if kind != "svg" and _HTML_MARKERS.search(head):
        raise refuse("file_html", _("The file contains HTML or script and was refused."))


def _check_kind_and_size(*, kind: str, label: str, size: int, declared_kind: str | None) -> None:
    """The detected kind must be one the chosen material kind accepts, within its size limit."""
    if declared_kind and declared_kind not in KIND_ACCEPTS:
        raise refuse("kind_invalid", _("Files can be shared as a PDF, slides, an image, audio, video or a recording."))
    accepted = KIND_ACCEPTS.get(declared_kind or "", frozenset({kind}))
    if kind not in accepted:
        raise refuse(
            "file_kind_mismatch",
            _("This file is a %(label)s, not what you chose to share. Choose the matching kind.") % {"label": label},
        )
    limit_kind = declared_kind or kind
    if size > upload_limit(limit_kind):
        raise _too_large(limit_kind, size)


def upload_head_check(head: bytes, *, size: int, declared_kind: str | None = None) -> str:
    """The cheap refusals of `upload_inspect`, from the first bytes and the announced size.

    A chunked upload runs this on its first chunk, so a contributor learns at once (not
    after sending a gigabyte) that a file is a program, HTML, the wrong kind or too large;
    the messages are the same as `upload_inspect`'s. Returns the kind the bytes suggest
    ("slides" for an Office zip, "image" for SVG); `upload_inspect` decides for good
    when the file is complete.
    """
    kind, _content_type, _extension, label = sniff(head)
    _refuse_html(kind, head)
    if kind == "zip":
        if size > upload_limit("slides"):
            raise _too_large("slides", size)
        kind, label = "slides", "Office file"
    elif kind == "svg":
        if size > 2 * MB:
            raise refuse("file_too_large", _("SVG drawings are limited to 2 MB."))
        kind = "image"
    _check_kind_and_size(kind=kind, label=label, size=size, declared_kind=declared_kind)
    return kind


def upload_inspect(fileobj: IO[bytes], *, declared_kind: str | None = None) -> Inspected:
    """Decide what `fileobj` is from its content and refuse what the library does not take.

    `declared_kind` is the material kind the contributor chose (pdf, slides, image,
    audio, video, recording) or None to take the kind from the content. Preconditions:
    `fileobj` is seekable (Django's uploads are: memory below 2 MB, a temporary file
    above). Only the first bytes are read before the cheap refusals; the whole file is
    read once more, in 1 MB chunks, to hash it and scan it.
    """
    size = file_size(fileobj)
    head = fileobj.read(HEAD)
    fileobj.seek(0)
    kind, content_type, extension, label = sniff(head)
    _refuse_html(kind, head)
    width = height = None
    duration = None
    if kind == "zip":
        if size > upload_limit("slides"):
            raise _too_large("slides", size)
        kind, content_type, extension, label = _inspect_zip(fileobj)
    elif kind == "svg":
        _inspect_svg(fileobj, size)
        kind = "image"
    _check_kind_and_size(kind=kind, label=label, size=size, declared_kind=declared_kind)
    if kind == "image" and content_type != "image/svg+xml":
        width, height, _fmt = _inspect_image(fileobj)
    if kind in ("audio", "video"):
        real, duration, width, height = _inspect_media(fileobj, kind)
        if real != kind:
            if declared_kind in ("video", "audio"):
                raise refuse(
                    "file_kind_mismatch",
                    _("This file has no picture: share it as audio.") if real == "audio" else _("This file has a picture: share it as video."),
                )
            kind = real
            content_type = content_type.replace("video/", "audio/") if real == "audio" else content_type
    if kind == "pdf":
        digest = _scan(fileobj, _HTML_MARKERS, limit=0)[1]  # the digest; the document is inspected parsed
        _refuse_active_pdf(fileobj)
    elif kind == "image":
        hidden, digest = _scan(fileobj, _HTML_MARKERS)
        if hidden:
            raise refuse("file_polyglot", _("The image hides HTML or script inside it and was refused."))
    else:
        _found, digest = _scan(fileobj, _HTML_MARKERS, limit=HEAD)
    return Inspected(
        kind=declared_kind if declared_kind in ("slides", "recording") else kind,
        content_type=content_type,
        extension=extension,
        label=label,
        size=size,
        sha256=digest,
        width=width,
        height=height,
        duration=duration,
    )


def _too_large(kind: str, size: int) -> InvalidRequest:
    return refuse(
        "file_too_large",
        _("The file is %(size)s; files of this kind may be at most %(limit)s.")
        % {"size": human_size(size), "limit": human_size(upload_limit(kind))},
    )


@dataclass
class CleanImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def image_clean(fileobj: IO[bytes]) -> CleanImage:
    """Re-encode an image with no EXIF, GPS, XMP, IPTC or text blocks, upright.

    The EXIF orientation is applied to the pixels first (`exif_transpose`), then the
    pixels alone are copied into a new image, so nothing from the original's `info`
    can be written back. GIFs become PNG (first frame). The ICC colour profile is kept
    (it is colour data, not about the person or place).
    """
    from PIL import Image, ImageOps

    fileobj.seek(0)
    with Image.open(fileobj) as original:
        fmt = original.format
        icc = original.info.get("icc_profile")
        upright = ImageOps.exif_transpose(original) or original
        mode = upright.mode
        if mode == "P" or mode == "PA":
            upright = upright.convert("RGBA" if "transparency" in upright.info or mode == "PA" else "RGB")
        elif mode == "CMYK" or mode not in ("RGB", "RGBA", "L", "LA"):
            upright = upright.convert("RGBA" if "A" in mode else "RGB")
        pixels = Image.frombytes(upright.mode, upright.size, upright.tobytes())
    fileobj.seek(0)
    out = io.BytesIO()
    options: dict = {}
    if icc:
        options["icc_profile"] = icc
    if fmt == "JPEG":
        if pixels.mode not in ("RGB", "L"):
            pixels = pixels.convert("RGB")
        pixels.save(out, format="JPEG", quality=88, optimize=True, progressive=True, **options)
        content_type, extension = "image/jpeg", "jpg"
    elif fmt == "WEBP":
        pixels.save(out, format="WEBP", quality=88, **options)
        content_type, extension = "image/webp", "webp"
    else:
        pixels.save(out, format="PNG", optimize=True, **options)
        content_type, extension = "image/png", "png"
    return CleanImage(out.getvalue(), content_type, extension, pixels.width, pixels.height)
