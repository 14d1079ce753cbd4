"""Writes of the shared library: contribute, edit (a new version each time), withdraw.

Each service checks who is acting, validates everything before it writes (an upload is
inspected from its bytes first, see `validation.py`), writes the rows and the files,
and emits one event after commit (`events.material_event_emit`). Services raise
`PermissionRefused` or `InvalidRequest` with a message meant for the contributor.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlparse

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.models import (
    FILE_KINDS,
    FileRole,
    Level,
    Licence,
    Material,
    MaterialFile,
    MaterialKind,
    MaterialVersion,
    Scope,
)
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import Institution, User

from . import storage, thumbnails
from .events import material_event_emit
from .selectors import material_user_can_edit, user_can_contribute, user_contributing_institutions
from .validation import Inspected, image_clean, upload_inspect

logger = logging.getLogger(__name__)

CASE_SECTIONS = ("history", "examination", "investigations", "question", "discussion")
METADATA_FIELDS = (
    "kind", "title", "description", "discipline", "topics", "competencies", "level",
    "language", "licence", "authors", "scope", "url", "case",
)


@dataclass
class CaseImage:
    """An investigation image of a teaching case (an ECG, an X-ray…) with its caption."""

    file: IO[bytes]
    caption: str = ""
    name: str = "image"


def _clean_list(values: Iterable[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = values.split(",")
    seen: list[str] = []
    for value in values:
        value = str(value).strip()[:80]
        if value and value.lower() not in {s.lower() for s in seen}:
            seen.append(value)
    return seen[:30]


def _clean_case(case: dict[str, Any] | None) -> dict[str, Any]:
    case = case or {}
    cleaned: dict[str, Any] = {key: str(case.get(key) or "").strip()[:20000] for key in CASE_SECTIONS}
    points = case.get("learning_points") or []
    if isinstance(points, str):
        points = points.splitlines()
    cleaned["learning_points"] = [str(p).strip()[:500] for p in points if str(p).strip()][:30]
    return cleaned


def material_search_text(*, material: Material) -> str:
    """The text that full-text search reads: title, description, topics, the case and the file's text."""
    parts = [
        material.title,
        material.description,
        material.discipline,
        " ".join(material.topics or []),
        " ".join(material.competencies or []),
        material.authors,
    ]
    case = material.case or {}
    parts += [str(case.get(key) or "") for key in CASE_SECTIONS]
    parts += [str(p) for p in case.get("learning_points") or []]
    parts.append(material.file_text)  # the words inside the file (text_extraction.py)
    return "\n".join(p for p in parts if p)


def _file_text(inspected: Any, upload: IO[bytes] | None) -> str:
    """The searchable text of an inspected upload (PDFs), read before any row is written."""
    if inspected is None or upload is None or inspected.content_type != "application/pdf":
        return ""
    from .text_extraction import pdf_text

    return pdf_text(upload)


def material_index_file_text(*, material: Material) -> bool:
    """Read the text of the material's current main PDF into its search text (backfill).

    Returns whether any text was found. Does not make a new version: the file is the same.
    """
    from django.core.files.storage import default_storage

    from .selectors import material_current_files
    from .text_extraction import pdf_text

    main = next((f for f in material_current_files(material=material) if f.role == FileRole.MAIN), None)
    if main is None or main.content_type != "application/pdf":
        return False
    with default_storage.open(main.storage_name, "rb") as stored:
        text = pdf_text(stored)
    with transaction.atomic():
        locked = Material.objects.select_for_update().get(pk=material.pk)
        locked.file_text = text
        locked.search_text = material_search_text(material=locked)
        locked.save(update_fields=["file_text", "search_text"])
    return bool(text)


def _validate_metadata(values: dict[str, Any]) -> dict[str, Any]:
    """Refuse bad metadata with a message naming the field; returns cleaned values."""
    title = (values.get("title") or "").strip()
    if not title:
        raise InvalidRequest(_("Give the material a title."), "title_missing")
    if len(title) > 200:
        raise InvalidRequest(_("The title may be at most 200 characters."), "title_too_long")
    values["title"] = title
    if values.get("kind") not in MaterialKind.values:
        raise InvalidRequest(_("Choose what kind of material this is."), "kind_invalid")
    if values.get("level") not in Level.values:
        raise InvalidRequest(_("Choose a level: pre-clinical, clinical or postgraduate."), "level_invalid")
    if values.get("licence") not in Licence.values:
        raise InvalidRequest(_("Choose a licence."), "licence_invalid")
    if values.get("scope") not in Scope.values:
        raise InvalidRequest(_("Choose who the material is shared with."), "scope_invalid")
    language = (values.get("language") or "").strip().lower()
    if not language or len(language) > 8 or not language.replace("-", "").isalpha():
        raise InvalidRequest(_("Give the language as a code such as en, fr or pt."), "language_invalid")
    values["language"] = language
    values["topics"] = _clean_list(values.get("topics"))
    values["competencies"] = _clean_list(values.get("competencies"))
    values["description"] = (values.get("description") or "").strip()[:5000]
    values["discipline"] = (values.get("discipline") or "").strip()[:80]
    values["authors"] = (values.get("authors") or "").strip()[:300]
    url = (values.get("url") or "").strip()
    if values["kind"] == MaterialKind.LINK:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidRequest(_("A link must be a full web address starting with https:// or http://."), "url_invalid")
    else:
        url = ""
    values["url"] = url
    if values["kind"] == MaterialKind.CASE:
        case = _clean_case(values.get("case"))
        if not case["history"] or not case["question"]:
            raise InvalidRequest(_("A teaching case needs at least the history and the question."), "case_incomplete")
        values["case"] = case
    else:
        values["case"] = {}
    return values


def _snapshot(material: Material) -> dict[str, Any]:
    data = {name: getattr(material, name) for name in METADATA_FIELDS}
    data["institution_id"] = material.institution_id
    return data


def _store_upload(*, material: Material, version: MaterialVersion, upload: IO[bytes], name: str,
                  inspected: Inspected, role: str = FileRole.MAIN, caption: str = "",
                  position: int = 0, stored: list[str]) -> MaterialFile:
    """Store one inspected upload (cleaned first if an image) and its preview."""
    cleaned = None
    content: IO[bytes] = upload
    content_type, extension = inspected.content_type, inspected.extension
    width, height, size, sha = inspected.width, inspected.height, inspected.size, inspected.sha256
    if content_type.startswith("image/") and content_type != "image/svg+xml":
        clean = image_clean(upload)
        cleaned = clean.data
        content = io.BytesIO(clean.data)
        content_type, extension, width, height = clean.content_type, clean.extension, clean.width, clean.height
        size = len(clean.data)
        sha = hashlib.sha256(clean.data).hexdigest()
    original = storage.safe_file_name(name, extension=extension)
    # The preview is made before the main file is stored: storing may move a temporary
    # upload file away.
    preview = thumbnails.thumbnail_for(inspected.kind, content_type, upload, cleaned) if role == FileRole.MAIN else None
    storage_name = storage.storage_save(
        name=storage.storage_name_for(material_id=material.pk, file_name=original), content=content
    )
    stored.append(storage_name)
    row = MaterialFile.objects.create(
        version=version, role=role, storage_name=storage_name, original_name=original,
        content_type=content_type, size=size, sha256=sha, width=width, height=height,
        caption=caption[:300], position=position,
    )
    if preview:
        thumb_name = storage.storage_save(
            name=storage.storage_name_for(material_id=material.pk, file_name="preview.jpg"),
            content=io.BytesIO(preview),
        )
        stored.append(thumb_name)
        MaterialFile.objects.create(
            version=version, role=FileRole.THUMBNAIL, storage_name=thumb_name,
            original_name="preview.jpg", content_type="image/jpeg", size=len(preview),
            sha256="", width=None, height=None,
        )
    return row


def _inspect_case_images(images: Sequence[CaseImage]) -> list[Inspected]:
    if len(images) > 20:
        raise InvalidRequest(_("A case may have at most 20 images."), "case_too_many_images")
    return [upload_inspect(image.file, declared_kind="image") for image in images]


def _remove_stored(names: list[str]) -> None:
    for name in names:
        try:
            from django.core.files.storage import default_storage

            default_storage.delete(name)
        except Exception:
            logger.warning("could not remove orphan library file %s", name, exc_info=True)


def _contributing_school(user: User, institution: Institution | None) -> Institution:
    schools = user_contributing_institutions(user=user)
    if institution is not None:
        if not schools.filter(pk=institution.pk).exists():
            raise PermissionRefused(
                _("You can only share material on behalf of a school where you teach."), "not_your_school"
            )
        return institution
    membership = user.primary_membership()
    if membership and schools.filter(pk=membership.institution_id).exists():
        return membership.institution
    school = schools.first()
    if school is None:
        raise PermissionRefused(_("You can only share material on behalf of a school where you teach."), "not_your_school")
    return school


def material_create(
    *,
    user: User,
    kind: str,
    title: str,
    level: str = Level.CLINICAL,
    language: str = "en",
    licence: str = Licence.ALL_RIGHTS_RESERVED,
    scope: str = Scope.PARTNERS,
    description: str = "",
    discipline: str = "",
    topics: Iterable[str] | str | None = None,
    competencies: Iterable[str] | str | None = None,
    authors: str = "",
    url: str = "",
    case: dict[str, Any] | None = None,
    upload: IO[bytes] | None = None,
    upload_name: str = "",
    case_images: Sequence[CaseImage] = (),
    institution: Institution | None = None,
    change_note: str = "",
) -> Material:
    """Contribute a material on behalf of one of the user's schools (version 1).

    Only faculty, supervisors and coordinators contribute (see
    `selectors.user_can_contribute` for why). `kind` may be "file" to take the kind
    from the uploaded content. The upload is inspected before any row is written.
    """
    if not user_can_contribute(user=user):
        raise PermissionRefused(
            _("Only faculty, supervisors and coordinators can contribute to the library."), "cannot_contribute"
        )
    school = _contributing_school(user, institution)
    inspected = None
    if kind == "file" or kind in FILE_KINDS:
        if upload is None:
            raise InvalidRequest(_("Choose a file to upload."), "file_missing")
        inspected = upload_inspect(upload, declared_kind=None if kind == "file" else kind)
        kind = inspected.kind
    elif upload is not None:
        raise InvalidRequest(_("Only file materials carry an uploaded file."), "file_unexpected")
    values = _validate_metadata(
        dict(kind=kind, title=title, level=level, language=language, licence=licence, scope=scope,
             description=description, discipline=discipline, topics=topics, competencies=competencies,
             authors=authors, url=url, case=case)
    )
    image_checks = _inspect_case_images(case_images) if kind == MaterialKind.CASE else []
    file_text = _file_text(inspected, upload)
    stored: list[str] = []
    try:
        with transaction.atomic():
            now = timezone.now()
            material = Material(institution=school, contributed_by=user, version=1, created_at=now, updated_at=now,
                                file_text=file_text, **values)
            material.search_text = material_search_text(material=material)
            material.save()
            version = MaterialVersion.objects.create(
                material=material, number=1, metadata=_snapshot(material), created_by=user,
                change_note=change_note[:300] or _("First version"),
            )
            if inspected is not None and upload is not None:
                _store_upload(material=material, version=version, upload=upload,
                              name=upload_name or getattr(upload, "name", "") or "file",
                              inspected=inspected, stored=stored)
            for position, (image, checked) in enumerate(zip(case_images, image_checks)):
                _store_upload(material=material, version=version, upload=image.file, name=image.name,
                              inspected=checked, role=FileRole.CASE_IMAGE, caption=image.caption,
                              position=position, stored=stored)
            material_event_emit(kind="material.created", material_id=material.pk, data={"version": 1})
    except Exception:
        _remove_stored(stored)
        raise
    logger.info("material %s created by user %s (kind %s, scope %s)", material.pk, user.pk, kind, material.scope)
    return material


def material_update(
    *,
    user: User,
    material: Material,
    change_note: str = "",
    upload: IO[bytes] | None = None,
    upload_name: str = "",
    case_images: Sequence[CaseImage] = (),
    **changes: Any,
) -> Material:
    """Change a material; the change becomes a new version and the old one stays.

    `changes` are metadata fields (title, description, discipline, topics, competencies,
    level, language, licence, authors, scope, url, case); the kind cannot change. An
    `upload` replaces the main file (same kind); without one the files carry over.
    """
    if not material_user_can_edit(user=user, material=material):
        raise PermissionRefused(
            _("Only the contributor and faculty of the contributing school can edit this material."), "cannot_edit"
        )
    unknown = set(changes) - (set(METADATA_FIELDS) - {"kind"})
    if unknown:
        raise InvalidRequest(_("These fields cannot be changed: %(names)s.") % {"names": ", ".join(sorted(unknown))}, "field_invalid")
    inspected = None
    if upload is not None:
        if not material.is_file_kind:
            raise InvalidRequest(_("Only file materials carry an uploaded file."), "file_unexpected")
        declared = material.kind
        inspected = upload_inspect(upload, declared_kind=declared)
    values = _validate_metadata({**{name: getattr(material, name) for name in METADATA_FIELDS}, **changes, "kind": material.kind})
    image_checks = _inspect_case_images(case_images) if material.kind == MaterialKind.CASE else []
    if inspected is None and not case_images and all(values[k] == getattr(material, k) for k in values):
        raise InvalidRequest(_("Nothing was changed."), "no_change")
    new_file_text = _file_text(inspected, upload)
    stored: list[str] = []
    try:
        with transaction.atomic():
            locked = Material.objects.select_for_update().get(pk=material.pk)
            previous = locked.versions.filter(number=locked.version).first()
            for name, value in values.items():
                setattr(locked, name, value)
            if inspected is not None:
                locked.file_text = new_file_text
            locked.version += 1
            locked.updated_at = timezone.now()
            locked.search_text = material_search_text(material=locked)
            locked.save()
            version = MaterialVersion.objects.create(
                material=locked, number=locked.version, metadata=_snapshot(locked), created_by=user,
                change_note=change_note[:300],
            )
            carried = list(previous.files.all()) if previous else []
            if inspected is not None:
                carried = [f for f in carried if f.role == FileRole.CASE_IMAGE]
            for old in carried:  # rows are copied, the stored bytes are shared
                old.pk = None
                old.version = version
                old.save()
            if inspected is not None and upload is not None:
                _store_upload(material=locked, version=version, upload=upload,
                              name=upload_name or getattr(upload, "name", "") or "file",
                              inspected=inspected, stored=stored)
            start = len([f for f in carried if f.role == FileRole.CASE_IMAGE])
            for offset, (image, checked) in enumerate(zip(case_images, image_checks)):
                _store_upload(material=locked, version=version, upload=image.file, name=image.name,
                              inspected=checked, role=FileRole.CASE_IMAGE, caption=image.caption,
                              position=start + offset, stored=stored)
            material_event_emit(kind="material.updated", material_id=locked.pk, data={"version": locked.version})
    except Exception:
        _remove_stored(stored)
        raise
    logger.info("material %s updated to version %s by user %s", locked.pk, locked.version, user.pk)
    return locked


def material_withdraw(*, user: User, material: Material) -> Material:
    """Stop sharing a material. Its rows and files stay (courses may point at them)."""
    if not material_user_can_edit(user=user, material=material):
        raise PermissionRefused(
            _("Only the contributor and faculty of the contributing school can withdraw this material."), "cannot_edit"
        )
    if material.withdrawn_at is None:
        material.withdrawn_at = timezone.now()
        material.save(update_fields=["withdrawn_at"])
        material_event_emit(kind="material.withdrawn", material_id=material.pk)
    return material


def material_create_recording(
    *,
    session: Any,
    file: IO[bytes],
    title: str = "",
    description: str = "",
    file_name: str = "recording.webm",
    licence: str = Licence.ALL_RIGHTS_RESERVED,
    scope: str = Scope.OWN_SCHOOL,
) -> Material:
    """Publish a live session's recording to the library, as its host chose.

    Called when the host publishes a recording (sessions/scheduling/recordings.py), never
    by itself: `scope` and `licence` are the host's choice. The session's host is the
    contributor and its school the contributing school; the metadata come from the
    session. The file is inspected like any upload (it must really be audio or video).
    """
    inspected = upload_inspect(file, declared_kind="recording")
    values = _validate_metadata(
        dict(
            kind=MaterialKind.RECORDING,
            title=(title or _("Recording: %(title)s") % {"title": session.title})[:200],
            description=description or session.description,
            discipline=getattr(session, "specialty", ""),
            topics=[], competencies=[], level=Level.CLINICAL,
            language=getattr(session, "language", "en") or "en",
            licence=licence, scope=scope, authors=session.host.name, url="", case=None,
        )
    )
    stored: list[str] = []
    try:
        with transaction.atomic():
            now = timezone.now()
            material = Material(
                institution_id=session.institution_id, contributed_by=session.host, session=session,
                version=1, created_at=now, updated_at=now, **values,
            )
            material.search_text = material_search_text(material=material)
            material.save()
            version = MaterialVersion.objects.create(
                material=material, number=1, metadata=_snapshot(material), created_by=session.host,
                change_note=_("Recorded live session"),
            )
            _store_upload(material=material, version=version, upload=file, name=file_name,
                          inspected=inspected, stored=stored)
            material_event_emit(kind="material.created", material_id=material.pk, data={"version": 1, "session_id": session.pk})
    except Exception:
        _remove_stored(stored)
        raise
    logger.info("recording of session %s stored as material %s", session.pk, material.pk)
    return material
