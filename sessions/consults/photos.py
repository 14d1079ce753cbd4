"""Cleaning clinical photos: decide the type by content, re-encode, keep no metadata.

A phone photo carries EXIF (camera, time, often GPS of the clinic or the patient's home),
XMP and IPTC blocks, and sometimes a thumbnail of the uncropped original. Copying only
the pixels into a new image and encoding that as JPEG drops all of them; the EXIF
orientation is applied to the pixels first so the photo still shows the right way up.

(The library's upload validation, when it exists, does the same for library images; a
clinical photo is only ever a photo, so this module stays small and strict.)
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from server.people.errors import InvalidRequest

logger = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 15 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}


@dataclass(frozen=True)
class CleanPhoto:
    """A re-encoded image with no metadata, its size in pixels and its type."""

    data: bytes
    width: int
    height: int
    content_type: str
    extension: str


def photo_clean(*, upload: IO[bytes], size: int) -> CleanPhoto:
    """Return the photo's pixels, upright, re-encoded without any metadata block.

    Refuses (InvalidRequest) anything that is not a JPEG, PNG or WebP by content,
    that is too large, or that decodes to too many pixels (a decompression bomb).
    The re-encoding is the library's `image_clean` when it is there (one cleaning
    routine for the platform), else the small equivalent below.
    """
    if size > MAX_PHOTO_BYTES:
        raise InvalidRequest(_("The photo is larger than 15 MB."), code="photo_too_large")
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise InvalidRequest(_("Only JPEG, PNG or WebP photos can be added."), code="photo_type")
            if probe.width * probe.height > MAX_PHOTO_PIXELS:
                raise InvalidRequest(_("The photo has too many pixels."), code="photo_too_large")
            probe.load()
        upload.seek(0)
        try:
            from courses.library.validation import image_clean
        except ImportError:  # the library part is not installed: clean it here
            return _photo_reencode(upload)
        cleaned = image_clean(upload)
        return CleanPhoto(cleaned.data, cleaned.width, cleaned.height, cleaned.content_type, cleaned.extension)
    except InvalidRequest:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        logger.info("photo refused: %s", type(error).__name__)
        raise InvalidRequest(_("This file is not a photo we can read."), code="photo_unreadable") from error


def _photo_reencode(upload: IO[bytes]) -> CleanPhoto:
    with Image.open(upload) as original:
        rgb = ImageOps.exif_transpose(original).convert("RGB")
    # A new image from raw pixels has an empty `info`: nothing of the original travels on.
    pixels = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    out = io.BytesIO()
    pixels.save(out, format="JPEG", quality=85, optimize=True)
    return CleanPhoto(out.getvalue(), pixels.width, pixels.height, "image/jpeg", "jpg")
