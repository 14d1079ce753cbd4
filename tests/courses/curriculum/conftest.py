"""Library rows and a course for the curriculum tests, built the way the demo is.

Materials are written as rows plus stored bytes (not through the library's upload
pipeline, which has its own tests), so these tests pin down the course rules alone:
who may add what, who sees which item, and what the offline bundle holds.
"""

from __future__ import annotations

import hashlib
import uuid
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from courses.curriculum import services
from courses.models import FileRole, Licence, Material, MaterialFile, MaterialKind, MaterialVersion, Scope
from server.people.models import Institution, User


def make_material(
    *,
    by: User,
    school: Institution,
    title: str,
    kind: str = MaterialKind.PDF,
    scope: str = Scope.PARTNERS,
    licence: str = Licence.CC_BY,
    files: list[tuple[str, bytes, str]] | None = None,
    case: dict | None = None,
    url: str = "",
) -> Material:
    """One material (version 1) with its files stored on `default_storage`.

    `files` holds (name, bytes, role) triples.
    """
    material = Material.objects.create(
        kind=kind, title=title, description=f"About {title}.", institution=school, contributed_by=by,
        scope=scope, licence=licence, case=case or {}, url=url, authors=by.name,
    )
    version = MaterialVersion.objects.create(
        material=material, number=1, created_by=by,
        metadata={"title": title, "licence": licence, "kind": kind, "case": case or {}, "url": url},
    )
    for position, (name, data, role) in enumerate(files or []):
        stored = default_storage.save(f"library/test/{uuid.uuid4().hex}/{name}", ContentFile(data))
        MaterialFile.objects.create(
            version=version, role=role, storage_name=stored, original_name=name,
            content_type="application/octet-stream", size=len(data), sha256=hashlib.sha256(data).hexdigest(),
            position=position, caption=f"Figure {position}" if role == FileRole.CASE_IMAGE else "",
        )
    return material


PDF_BYTES = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 500


@pytest.fixture
def library(people) -> SimpleNamespace:
    """Materials of several schools and scopes, seen from Lagos (partners: Heidelberg,
    KNUST, Tokyo; the USP partnership ended)."""
    s = people.schools
    return SimpleNamespace(
        lagos_pdf=make_material(
            by=people.adebayo, school=s.lagos, title="Malaria in pregnancy",
            files=[("malaria.pdf", PDF_BYTES, FileRole.MAIN), ("thumb.jpg", b"thumb", FileRole.THUMBNAIL)],
        ),
        heidelberg_video=make_material(
            by=people.hoffmann, school=s.heidelberg, title="Heart sounds", kind=MaterialKind.VIDEO,
            licence=Licence.CC_BY_NC, files=[("heart-sounds.webm", b"\x1aE\xdf\xa3" + b"v" * 3000, FileRole.MAIN)],
        ),
        tokyo_case=make_material(
            by=people.tanaka, school=s.tokyo, title="Chest pain after a marathon", kind=MaterialKind.CASE,
            licence=Licence.CC_BY_SA,
            case={
                "history": "A 45-year-old runner <b>collapsed</b>.",
                "examination": "Pale, sweating.",
                "investigations": "ECG shown.",
                "question": "What next?",
                "discussion": "Think of ischaemia.",
                "learning_points": ["Get an ECG early", "Check troponin"],
            },
            files=[("ecg.png", PNG_BYTES, FileRole.CASE_IMAGE)],
        ),
        usp_pdf=make_material(
            by=people.oliveira, school=s.usp, title="Dengue triage", files=[("dengue.pdf", PDF_BYTES, FileRole.MAIN)]
        ),
        aiims_own=make_material(
            by=people.rao, school=s.aiims, title="AIIMS internal rota", scope=Scope.OWN_SCHOOL,
            files=[("rota.pdf", PDF_BYTES, FileRole.MAIN)],
        ),
        dakar_public=make_material(
            by=people.sow, school=s.dakar, title="Guide de l'examen clinique", scope=Scope.PUBLIC,
            licence=Licence.PUBLIC_DOMAIN, kind=MaterialKind.LINK, url="https://example.org/guide",
        ),
    )


@pytest.fixture
def course(people, library) -> SimpleNamespace:
    """A published Lagos course (audience: Lagos and its partners) of two modules."""
    by = people.adebayo
    created = services.course_create(by=by, institution=people.schools.lagos, title="Acute medicine across borders")
    first = services.module_add(by=by, course=created, title="Week 1")
    second = services.module_add(by=by, course=created, title="Week 2")
    items = SimpleNamespace(
        lagos=services.item_add(by=by, module=first, material=library.lagos_pdf, note="Read first"),
        heidelberg=services.item_add(by=by, module=first, material=library.heidelberg_video),
        tokyo=services.item_add(by=by, module=second, material=library.tokyo_case),
        dakar=services.item_add(by=by, module=second, material=library.dakar_public),
    )
    services.course_set_published(by=by, course=created, published=True)
    return SimpleNamespace(course=created, modules=[first, second], items=items)
