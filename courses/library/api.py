"""JSON of the library at /api/library/ (session with CSRF, or a personal token).

Search with facets and a material's metadata with its files (sizes and download URLs)
and versions. The same selectors as the pages decide what a caller may see.

Resumable uploads (see uploads.py): `POST /uploads` announces a file, `PUT` (or POST)
`/uploads/{id}/chunks?offset=N` sends each piece as the raw request body (at most
8 MB, `application/octet-stream`, optional `X-Chunk-SHA256`), `GET /uploads/{id}` says
how many bytes arrived (to resume), `POST /uploads/{id}/finalize` makes the material,
`DELETE /uploads/{id}` abandons it. A piece at the wrong offset gets 409 with the
offset expected.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from django.urls import reverse
from ninja import Query, Router, Schema, Status

from courses.models import FileRole, Material, MaterialFile, UploadSession
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from server.people.models import Institution

from . import selectors, uploads
from .search import material_search

logger = logging.getLogger(__name__)

router = Router()


class ErrorOut(Schema):
    code: str
    message: str


class MaterialOut(Schema):
    id: int
    kind: str
    title: str
    description: str
    discipline: str
    topics: list[str]
    competencies: list[str]
    level: str
    language: str
    licence: str
    authors: str
    school_id: int
    school: str
    country: str
    scope: str
    contributed_by: str
    version: int
    updated_at: datetime
    url: str
    link: str


class FileOut(Schema):
    id: int
    role: str
    name: str
    content_type: str
    size: int
    caption: str
    url: str


class VersionOut(Schema):
    number: int
    created_at: datetime
    change_note: str
    files: list[FileOut]


class MaterialDetailOut(MaterialOut):
    case: dict[str, Any]
    files: list[FileOut]
    versions: list[VersionOut]


class FacetValueOut(Schema):
    value: str
    label: str
    count: int
    selected: bool


class SearchOut(Schema):
    query: str
    total: int
    total_exact: bool
    page: int
    pages: int
    per_page: int
    items: list[MaterialOut]
    facets: dict[str, list[FacetValueOut]]


class SearchIn(Schema):
    q: str = ""
    kind: str = ""
    discipline: str = ""
    level: str = ""
    language: str = ""
    licence: str = ""
    school: str = ""
    country: str = ""
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20


def _material_out(material: Material) -> dict[str, Any]:
    return {
        "id": material.pk, "kind": material.kind, "title": material.title, "description": material.description,
        "discipline": material.discipline, "topics": material.topics or [], "competencies": material.competencies or [],
        "level": material.level, "language": material.language, "licence": material.licence,
        "authors": material.authors, "school_id": material.institution_id, "school": material.institution.name,
        "country": str(material.institution.country), "scope": material.scope,
        "contributed_by": material.contributed_by.name if material.contributed_by else "",
        "version": material.version, "updated_at": material.updated_at,
        "url": reverse("material-detail", args=[material.pk]), "link": material.url,
    }


def _file_out(material: Material, file: MaterialFile) -> dict[str, Any]:
    return {
        "id": file.pk, "role": file.role, "name": file.original_name, "content_type": file.content_type,
        "size": file.size, "caption": file.caption,
        "url": reverse("material-file", args=[material.pk, file.pk]),
    }


@router.get("/search", response=SearchOut, summary="Search the library (only what you may see), with facets")
def library_search(request: AuthenticatedHttpRequest, params: Query[SearchIn]) -> dict[str, Any]:
    filters = {name: getattr(params, name) for name in ("kind", "discipline", "level", "language", "licence", "school", "country")}
    result = material_search(
        user=request.user, query=params.q[:200], filters=filters, sort=params.sort,
        page=params.page, per_page=params.per_page,
    )
    return {
        "query": result.query, "total": result.total, "total_exact": not result.facets_sampled, "page": result.page, "pages": result.pages,
        "per_page": result.per_page, "items": [_material_out(m) for m in result.items],
        "facets": {name: [vars(v) for v in values] for name, values in result.facets.items()},
    }


@router.get("/materials/{material_id}", response={200: MaterialDetailOut, 403: ErrorOut}, summary="A material with its files and versions")
def material_get(request: AuthenticatedHttpRequest, material_id: int) -> Any:
    material = selectors.material_get_for_user(request.user, material_id)
    versions = selectors.material_versions(user=request.user, material=material)
    current = selectors.material_current_files(material=material)
    return {
        **_material_out(material),
        "case": material.case or {},
        "files": [_file_out(material, f) for f in current if f.role != FileRole.THUMBNAIL],
        "versions": [
            {
                "number": v.number, "created_at": v.created_at, "change_note": v.change_note,
                "files": [_file_out(material, f) for f in v.files.all() if f.role != FileRole.THUMBNAIL],
            }
            for v in versions
        ],
    }


# -- resumable uploads ---------------------------------------------------------------------


class UploadIn(Schema):
    name: str
    size: int
    kind: str = "file"
    sha256: str = ""


class UploadOut(Schema):
    id: UUID
    name: str
    kind: str
    size: int
    received: int
    complete: bool
    chunk_size: int
    chunk_max: int
    expires_at: datetime


class UploadErrorOut(ErrorOut):
    received: int | None = None


class UploadFinalizeIn(Schema):
    title: str
    description: str = ""
    discipline: str = ""
    topics: list[str] | str = []
    competencies: list[str] | str = []
    level: str = "clinical"
    language: str = "en"
    licence: str = "arr"
    authors: str = ""
    scope: str = "partners"
    institution_id: int | None = None
    change_note: str = ""


class MaterialCreatedOut(Schema):
    id: int
    kind: str
    title: str
    url: str


UPLOAD_RESPONSES = {400: UploadErrorOut, 403: ErrorOut, 409: UploadErrorOut, 413: UploadErrorOut}


def _upload_out(session: UploadSession) -> dict[str, Any]:
    return {
        "id": session.pk, "name": session.file_name, "kind": session.kind, "size": session.size,
        "received": session.received, "complete": session.complete, "chunk_size": uploads.CHUNK_SIZE,
        "chunk_max": uploads.CHUNK_MAX, "expires_at": session.expires_at,
    }


def _upload_refusal(error: InvalidRequest | PermissionRefused, *, user=None, session_id=None) -> Status:
    """Turn a service refusal into its status: 403, 409 (wrong offset), 413 (too big) or 400."""
    if isinstance(error, PermissionRefused):
        return Status(403, {"code": error.code, "message": error.message})
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.code == "upload_offset_mismatch" and session_id is not None:
        received = UploadSession.objects.filter(pk=session_id, owner=user).values_list("received", flat=True).first()
        body["received"] = received
        return Status(409, body)
    if error.code in ("upload_chunk_too_large", "upload_too_long", "file_too_large"):
        return Status(413, body)
    return Status(400, body)


@router.post("/uploads", response={201: UploadOut, **UPLOAD_RESPONSES}, summary="Start a resumable upload")
def upload_create(request: AuthenticatedHttpRequest, payload: UploadIn) -> Any:
    try:
        session = uploads.upload_session_create(
            user=request.user, file_name=payload.name[:200], size=payload.size, kind=payload.kind, sha256=payload.sha256,
        )
    except (InvalidRequest, PermissionRefused) as error:
        return _upload_refusal(error)
    return Status(201, _upload_out(session))


@router.get("/uploads/{upload_id}", response={200: UploadOut, **UPLOAD_RESPONSES}, summary="How much of an upload arrived")
def upload_status(request: AuthenticatedHttpRequest, upload_id: UUID) -> Any:
    try:
        session = uploads.upload_session_get_for_user(user=request.user, session_id=upload_id)
    except (InvalidRequest, PermissionRefused) as error:
        return _upload_refusal(error)
    return _upload_out(session)


@router.api_operation(
    ["PUT", "POST"], "/uploads/{upload_id}/chunks", response={200: UploadOut, **UPLOAD_RESPONSES},
    summary="Send one piece of an upload (raw body, at the offset the server has)",
)
def upload_chunk(request: AuthenticatedHttpRequest, upload_id: UUID, offset: int) -> Any:
    # The body is streamed from the request here (not through ninja's parser, which
    # would read request.body and with it Django's DATA_UPLOAD_MAX_MEMORY_SIZE check).
    declared = request.META.get("CONTENT_LENGTH")
    length = int(declared) if declared and declared.isdigit() else None
    try:
        session = uploads.upload_session_append(
            user=request.user, session_id=upload_id, offset=offset, body=request, length=length,  # type: ignore[arg-type]  # a readable stream
            sha256=request.headers.get("X-Chunk-SHA256", ""),
        )
    except (InvalidRequest, PermissionRefused) as error:
        return _upload_refusal(error, user=request.user, session_id=upload_id)
    return _upload_out(session)


@router.post(
    "/uploads/{upload_id}/finalize", response={201: MaterialCreatedOut, **UPLOAD_RESPONSES},
    summary="Make the material from a complete upload",
)
def upload_finalize(request: AuthenticatedHttpRequest, upload_id: UUID, payload: UploadFinalizeIn) -> Any:
    values = payload.dict()
    institution_id = values.pop("institution_id")
    institution = None
    if institution_id is not None:
        institution = Institution.objects.filter(pk=institution_id).first() or Institution(pk=institution_id)
    try:
        material = uploads.upload_session_finalize(
            user=request.user, session_id=upload_id, institution=institution, **values
        )
    except (InvalidRequest, PermissionRefused) as error:
        return _upload_refusal(error)
    return Status(201, {"id": material.pk, "kind": material.kind, "title": material.title,
                        "url": reverse("material-detail", args=[material.pk])})


@router.delete("/uploads/{upload_id}", response={204: None, **UPLOAD_RESPONSES}, summary="Abandon an upload")
def upload_cancel(request: AuthenticatedHttpRequest, upload_id: UUID) -> Any:
    try:
        uploads.upload_session_cancel(user=request.user, session_id=upload_id)
    except (InvalidRequest, PermissionRefused) as error:
        return _upload_refusal(error)
    return Status(204, None)
