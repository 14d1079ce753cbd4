"""Files of the library on `default_storage`: local disk by default, S3 in production.

Only `django.core.files.storage.default_storage` is used, so the same code path serves
both; settings switch the backend when AWS_STORAGE_BUCKET_NAME is set. Names are built
here and only here (`storage_name_for`), from a random folder and a cleaned file name,
so a name given by a user can never point outside `library/`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from typing import IO

from django.core.files import File
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

ROOT = "library"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(name: str, *, extension: str = "", max_length: int = 80) -> str:
    """A file name that is a single harmless path segment.

    Drops any folder part (both slash kinds), control characters and anything outside
    `[A-Za-z0-9._-]`, leading dots (no hidden files, no `..`), and caps the length. When
    `extension` is given (decided from the content) it replaces the name's own, so a
    name cannot claim a type the bytes are not.
    """
    name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode("ascii")
    name = re.split(r"[\\/]", name)[-1]
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if extension:
        ext = extension.lstrip(".")
    stem = _UNSAFE.sub("-", stem).strip(".-_") or "file"
    ext = _UNSAFE.sub("", ext).strip(".").lower()[:10]
    stem = stem[: max(1, max_length - len(ext) - 1)]
    return f"{stem}.{ext}" if ext else stem


def storage_name_for(*, material_id: int, file_name: str) -> str:
    """`library/<material>/<random>/<safe name>`: unguessable and never outside its folder."""
    return f"{ROOT}/{int(material_id)}/{uuid.uuid4().hex}/{safe_file_name(file_name)}"


def storage_save(*, name: str, content: IO[bytes]) -> str:
    """Stream `content` to storage under `name` and return the name actually used.

    FileSystemStorage copies in chunks (or moves a temporary upload file); S3Storage
    uploads in multipart chunks. Neither reads the whole file into memory.
    """
    content.seek(0)
    if not isinstance(content, File):
        content = File(content, name=name.rsplit("/", 1)[-1])
    stored = default_storage.save(name, content)
    logger.debug("stored library file %s", stored)
    return stored


def storage_open(name: str) -> IO[bytes]:
    """Open a stored file for reading (a local file or a streaming S3 object)."""
    return default_storage.open(name, "rb")


def storage_is_remote() -> bool:
    """Whether files live on S3-compatible storage (downloads are then signed URLs)."""
    return hasattr(default_storage, "bucket_name") and hasattr(default_storage, "connection")


def storage_signed_url(*, name: str, download_name: str, content_type: str, attachment: bool, expire: int = 120) -> str:
    """A short-lived signed URL that makes S3 answer with our type and disposition."""
    disposition = "attachment" if attachment else "inline"
    parameters = {
        "ResponseContentDisposition": f'{disposition}; filename="{safe_file_name(download_name)}"',
        "ResponseContentType": content_type,
    }
    # S3Storage.url takes these; the stubs type default_storage as the base Storage.
    return default_storage.url(name, parameters=parameters, expire=expire)  # type: ignore[call-arg]


def storage_exists(name: str) -> bool:
    return default_storage.exists(name)


def storage_size(name: str) -> int:
    return default_storage.size(name)
