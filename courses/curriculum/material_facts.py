"""What a course needs to know about one item's material: which version, which files, how big.

Courses read the library's rows but never change them. This module is the one place that
knows the library's data layout (versions with a metadata snapshot, files per version),
so the course page and the offline bundle agree on what an item contains.

Precondition for every function: the caller has checked that the viewer may see the
material (`material_visible_to`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from courses.models import FileRole, Licence, Material, MaterialFile, MaterialKind, MaterialVersion, ModuleItem

#: Files a learner gets for an item (thumbnails are previews, not content).
CONTENT_ROLES = (FileRole.MAIN, FileRole.CASE_IMAGE)


@dataclass
class ItemFacts:
    material: Material
    version: MaterialVersion | None
    metadata: dict[str, Any]
    files: list[MaterialFile] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.material.kind

    @property
    def kind_label(self) -> str:
        return str(MaterialKind(self.material.kind).label) if self.material.kind in MaterialKind.values else self.material.kind

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.material.title)

    @property
    def description(self) -> str:
        return str(self.metadata.get("description") or self.material.description or "")

    @property
    def licence(self) -> str:
        return str(self.metadata.get("licence") or self.material.licence)

    @property
    def licence_label(self) -> str:
        return str(Licence(self.licence).label) if self.licence in Licence.values else self.licence

    @property
    def authors(self) -> str:
        return str(self.metadata.get("authors") or self.material.authors or "")

    @property
    def url(self) -> str:
        return str(self.metadata.get("url") or self.material.url or "")

    @property
    def case(self) -> dict[str, Any]:
        case = self.metadata.get("case")
        if not isinstance(case, dict) or not case:
            case = self.material.case if isinstance(self.material.case, dict) else {}
        points = case.get("learning_points")
        if isinstance(points, str):
            case = {**case, "learning_points": [line.strip() for line in points.splitlines() if line.strip()]}
        return case

    @property
    def school_name(self) -> str:
        return self.material.institution.name

    @property
    def school_country(self) -> str:
        return str(self.material.institution.country.name)  # type: ignore[attr-defined]  # a Country, typed as its code

    @property
    def version_number(self) -> int:
        return self.version.number if self.version is not None else self.material.version

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)


def material_page_url(*, material_id: int) -> str:
    """The library's page of a material (the library owns that URL)."""
    for name in ("material-detail", "library-material", "material"):
        try:
            return reverse(name, args=[material_id])
        except NoReverseMatch:
            continue
    return f"/library/{int(material_id)}/"


def items_facts(*, items: Iterable[ModuleItem]) -> dict[int, ItemFacts]:
    """For each item (by pk): its pinned version, or the material's current one, with the
    version's content files. Three queries whatever the number of items."""
    items = list(items)
    if not items:
        return {}
    wanted = Q()
    for item in items:
        if item.version_id is not None:
            wanted |= Q(pk=item.version_id, material_id=item.material_id)
        else:
            wanted |= Q(material_id=item.material_id, number=item.material.version)
    versions = list(MaterialVersion.objects.filter(wanted))
    by_pk = {version.pk: version for version in versions}
    by_number = {(version.material_id, version.number): version for version in versions}
    files: dict[int, list[MaterialFile]] = defaultdict(list)
    for stored in MaterialFile.objects.filter(version__in=versions, role__in=CONTENT_ROLES).order_by(
        "version_id", "role", "position", "pk"
    ):
        files[stored.version_id].append(stored)
    facts: dict[int, ItemFacts] = {}
    for item in items:
        version = by_pk.get(item.version_id) if item.version_id is not None else None
        if version is None:
            version = by_number.get((item.material_id, item.material.version))
        metadata = version.metadata if version is not None and isinstance(version.metadata, dict) else {}
        facts[item.pk] = ItemFacts(
            material=item.material,
            version=version,
            metadata=metadata,
            files=files.get(version.pk, []) if version is not None else [],
        )
    return facts


def item_facts(*, item: ModuleItem) -> ItemFacts:
    """The facts of one item (see `items_facts`)."""
    return items_facts(items=[item])[item.pk]
