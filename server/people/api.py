"""JSON about the signed-in person."""

from __future__ import annotations

from ninja import Router, Schema

from .http import AuthenticatedHttpRequest

router = Router()


class MembershipOut(Schema):
    institution_id: int
    institution: str
    country: str
    role: str


class MeOut(Schema):
    id: int
    username: str
    name: str
    time_zone: str
    languages: list[str]
    data_saver: bool
    memberships: list[MembershipOut]


@router.get("/", response=MeOut, summary="The signed-in person")
def me(request: AuthenticatedHttpRequest) -> MeOut:
    user = request.user
    return MeOut(
        id=user.pk,
        username=user.username,
        name=user.name,
        time_zone=user.time_zone,
        languages=list(user.languages or []),
        data_saver=user.data_saver,
        memberships=[
            MembershipOut(
                institution_id=m.institution_id,
                institution=m.institution.name,
                country=str(m.institution.country),
                role=m.role,
            )
            for m in user.memberships.filter(is_active=True).select_related("institution")
        ],
    )
