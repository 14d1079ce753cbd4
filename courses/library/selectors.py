"""Permission-checked reads of the shared library.

The one access rule lives in `material_visibility_q`: a material is visible to a person
when it is public, or shared with partner schools and the contributing school is one of
the person's schools or has an ACTIVE partnership with one of them, or shared with its
own school only and the person belongs to that school. The contributor always sees their
own material, staff see everything, and a withdrawn material is seen only by them.
Partnerships are read on every call, so ending one takes the access away at once.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Q, QuerySet

from courses.models import FileRole, Material, MaterialFile, MaterialVersion, Scope
from server.people.errors import PermissionRefused
from server.people.http import AnyUser
from server.people.models import Role, User
from server.people.selectors import institution_partner_ids, user_has_role, user_institution_ids

logger = logging.getLogger(__name__)

CONTRIBUTOR_ROLES = (Role.FACULTY, Role.SUPERVISOR, Role.COORDINATOR)


def material_visibility_q(*, user: AnyUser) -> Q:
    """The filter of materials `user` may see (see the module docstring for the rule)."""
    if not user.is_authenticated:
        return Q(scope=Scope.PUBLIC, withdrawn_at__isnull=True)
    if user.is_staff:
        return Q()
    own = user_institution_ids(user=user)
    partners = institution_partner_ids(institution_ids=own)
    shared = (
        Q(scope=Scope.PUBLIC)
        | Q(scope=Scope.PARTNERS, institution_id__in=own | partners)
        | Q(scope=Scope.OWN_SCHOOL, institution_id__in=own)
    )
    return (shared & Q(withdrawn_at__isnull=True)) | Q(contributed_by=user)


def material_visible_to(user: AnyUser) -> QuerySet[Material]:
    """Every material `user` may see, newest change first."""
    return Material.objects.filter(material_visibility_q(user=user)).select_related(
        "institution", "contributed_by"
    )


def material_visible_to_institution(*, institution_id: int) -> QuerySet[Material]:
    """Materials a school's members may all see (used for courses built for a school).

    Same rule as for a person, but for a school: public, its own, and partner-scope
    material of schools with an ACTIVE partnership with it.
    """
    partners = institution_partner_ids(institution_ids=[institution_id])
    return Material.objects.filter(
        Q(scope=Scope.PUBLIC)
        | Q(scope=Scope.PARTNERS, institution_id__in=partners | {institution_id})
        | Q(scope=Scope.OWN_SCHOOL, institution_id=institution_id),
        withdrawn_at__isnull=True,
    )


def material_get_for_user(user: AnyUser, pk: int) -> Material:
    """The material `pk` if `user` may see it; PermissionRefused otherwise.

    A material that does not exist and one the user may not see are refused alike, so
    the answer does not reveal what other schools keep to themselves.
    """
    material = material_visible_to(user).filter(pk=pk).first()
    if material is None:
        raise PermissionRefused(
            "This material does not exist or is not shared with your school.", "material_not_visible"
        )
    return material


def material_user_can_see(*, user: AnyUser, material: Material) -> bool:
    return material_visible_to(user).filter(pk=material.pk).exists()


def material_user_can_edit(*, user: AnyUser, material: Material) -> bool:
    """The contributor, staff, and faculty-level members of the contributing school may edit."""
    if not user.is_authenticated:
        return False
    if user.is_staff or material.contributed_by_id == user.pk:
        return True
    return user_has_role(user=user, roles=CONTRIBUTOR_ROLES, institution=material.institution)


def user_can_contribute(*, user: AnyUser) -> bool:
    """Faculty, supervisors and coordinators contribute; students and trainees do not.

    Why: what is shared goes out under the school's name and a licence, to other
    countries; the people who answer for the school's teaching decide that. A student's
    material reaches the library through a faculty member who reviews it.
    """
    return user.is_authenticated and (user.is_staff or user_has_role(user=user, roles=CONTRIBUTOR_ROLES))


def user_contributing_institutions(*, user: User):
    """Schools on whose behalf `user` may contribute (faculty-level membership)."""
    from server.people.models import Institution

    if user.is_staff:
        return Institution.objects.all()
    return Institution.objects.filter(
        memberships__user=user, memberships__is_active=True, memberships__role__in=CONTRIBUTOR_ROLES
    ).distinct()


def material_versions(*, user: AnyUser, material: Material) -> QuerySet[MaterialVersion]:
    """Every version of a visible material, newest first, with their files."""
    material_get_for_user(user, material.pk)
    return material.versions.select_related("created_by").prefetch_related("files")


def material_version_get(*, user: AnyUser, material: Material, number: int) -> MaterialVersion:
    material_get_for_user(user, material.pk)
    version = material.versions.filter(number=number).first()
    if version is None:
        raise PermissionRefused("This version does not exist.", "version_not_found")
    return version


def material_current_files(*, material: Material) -> list[MaterialFile]:
    """Files of the current version (caller has checked visibility)."""
    return list(
        MaterialFile.objects.filter(version__material=material, version__number=material.version)
    )


def material_file_get_for_user(*, user: AnyUser, material_id: int, file_id: int) -> MaterialFile:
    """A file of any version of a material the user may see; refused otherwise."""
    material = material_get_for_user(user, material_id)
    file = (
        MaterialFile.objects.select_related("version", "version__material")
        .filter(pk=file_id, version__material=material)
        .first()
    )
    if file is None:
        raise PermissionRefused("This file does not exist.", "file_not_found")
    return file


def material_thumbnail(*, material: Material) -> MaterialFile | None:
    return (
        MaterialFile.objects.filter(
            version__material=material, version__number=material.version, role=FileRole.THUMBNAIL
        )
        .first()
    )


def dashboard_new_materials(*, user: User, limit: int) -> dict[str, Any]:
    """The home page's "New in the library": what this person may see, newest first."""
    materials = (material_visible_to(user).filter(withdrawn_at__isnull=True)
                 .select_related("institution").order_by("-created_at")[:limit])
    return {"materials": list(materials)}
