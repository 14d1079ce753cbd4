"""Permission-checked reads about people, schools and partnerships."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from .models import Institution, Membership, Partnership, PartnershipStatus, Role, User


def user_institution_ids(*, user: User) -> set[int]:
    """The schools where the user is an active member."""
    if not user.is_authenticated:
        return set()
    return set(
        Membership.objects.filter(user=user, is_active=True).values_list("institution_id", flat=True)
    )


def user_has_role(*, user: User, roles: Iterable[str], institution: Institution | None = None) -> bool:
    """Whether the user holds one of `roles` (at `institution`, or anywhere)."""
    if not user.is_authenticated:
        return False
    query = Membership.objects.filter(user=user, is_active=True, role__in=list(roles))
    if institution is not None:
        query = query.filter(institution=institution)
    return query.exists()


def institution_partner_ids(*, institution_ids: Iterable[int]) -> set[int]:
    """Schools with an ACTIVE partnership with any of `institution_ids`.

    Proposed, declined and ended partnerships grant nothing.
    """
    ids = set(institution_ids)
    if not ids:
        return set()
    rows = Partnership.objects.filter(
        Q(first_id__in=ids) | Q(second_id__in=ids), status=PartnershipStatus.ACTIVE
    ).values_list("first_id", "second_id")
    partners: set[int] = set()
    for first_id, second_id in rows:
        if first_id in ids:
            partners.add(second_id)
        if second_id in ids:
            partners.add(first_id)
    return partners - ids


def user_partner_institution_ids(*, user: User) -> set[int]:
    """Schools partnered (actively) with any school of the user, excluding their own."""
    return institution_partner_ids(institution_ids=user_institution_ids(user=user))


def institutions_are_partners(*, a: Institution, b: Institution) -> bool:
    return b.pk in institution_partner_ids(institution_ids=[a.pk])


def user_can_manage_institution(*, user: User, institution: Institution) -> bool:
    """Coordinators manage their own school only; staff manage all."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    return user_has_role(user=user, roles=[Role.COORDINATOR], institution=institution)


def institution_members(*, institution: Institution) -> QuerySet[Membership]:
    return institution.memberships.filter(is_active=True).select_related("user")


def user_can_list_members(*, user: User, institution: Institution) -> bool:
    """Who may read a school's member names: its own members, its managers, staff.

    Sign-up is open to anyone, so a directory of every school's students for every
    account would hand out names wholesale; others see how many members there are.
    """
    if not user.is_authenticated:
        return False
    return institution.pk in user_institution_ids(user=user) or user_can_manage_institution(
        user=user, institution=institution
    )


def institution_partnerships(*, institution: Institution) -> QuerySet[Partnership]:
    return Partnership.objects.filter(Q(first=institution) | Q(second=institution)).select_related(
        "first", "second", "proposed_by"
    )


def user_managed_institutions(*, user: User) -> QuerySet[Institution]:
    if user.is_staff:
        return Institution.objects.all()
    return Institution.objects.filter(
        memberships__user=user, memberships__role=Role.COORDINATOR, memberships__is_active=True
    ).distinct()
