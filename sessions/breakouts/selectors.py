"""Reads of breakout groups: the plan the main room shows, who goes where, who may enter.

Group rooms are `LiveSession`s of kind "breakout"; `breakout_room_role` decides who
enters one (registered with the room as that kind's role resolver), and
`breakout_refusal` says why someone may not, so the socket closes with a clear message.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.urls import reverse
from django.utils.translation import gettext as _

from server.people.models import Membership, User
from sessions.models import BreakoutGroup, BreakoutMember, LiveSession, Participant, RoomEvent
from sessions.room.registry import ROLE_PERMISSIONS
from sessions.room.selectors import room_moderator_ids, school_and_country

from .mixing import Person


def _card(user: User) -> dict[str, Any]:
    school, country = school_and_country(user)
    return {"id": user.pk, "name": user.name, "school": school, "country": country}


def _users(ids: list[int]) -> dict[int, User]:
    users = User.objects.filter(pk__in=ids).prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("institution"))
    )
    return {user.pk: user for user in users}


def split_candidate_ids(*, session: LiveSession) -> list[int]:
    """Who is split into groups: everyone admitted to the main room and not removed, except
    the host and moderators (they visit groups instead)."""
    moderators = set(room_moderator_ids(session_id=session.pk))
    moderator_roles = [role for role, perms in ROLE_PERMISSIONS.items() if "moderate" in perms]
    ids = Participant.objects.filter(session=session, removed_at__isnull=True).exclude(
        role__in=moderator_roles
    ).values_list("user_id", flat=True)
    return [user_id for user_id in ids if user_id not in moderators]


def people_for_split(*, session: LiveSession) -> list[Person]:
    """The people to split, with the school and country the mixing spreads."""
    users = _users(split_candidate_ids(session=session))
    people = []
    for user in users.values():
        school, country = school_and_country(user)
        people.append(Person(user.pk, school or f"-{user.pk}", country or f"-{user.pk}"))
    return people


def _latest(session_id: int) -> list[BreakoutGroup]:
    split = BreakoutGroup.objects.filter(parent_id=session_id).order_by("-split").values_list("split", flat=True).first()
    if split is None:
        return []
    return list(BreakoutGroup.objects.filter(parent_id=session_id, split=split).order_by("number"))


def breakout_plan(*, session: LiveSession) -> dict[str, Any]:
    """The latest split as the main room shows it: groups, members, timing, reports.

    state: "none" (never split), "ready" (split, not open), "open", "closed".
    """
    groups = _latest(session.pk)
    if not groups:
        return {"split": 0, "state": "none", "opened_at": None, "closes_at": None, "groups": [], "unassigned": []}
    first = groups[0]
    state = "closed" if first.closed_at else "open" if first.opened_at else "ready"
    members = list(BreakoutMember.objects.filter(group__in=groups).values_list("group_id", "user_id"))
    candidates = split_candidate_ids(session=session) if state != "closed" else []
    assigned = {user_id for _, user_id in members}
    users = _users(sorted(assigned | set(candidates)))
    by_group: dict[int, list[dict[str, Any]]] = {group.pk: [] for group in groups}
    for group_id, user_id in members:
        if user_id in users:
            by_group[group_id].append(_card(users[user_id]))
    return {
        "split": first.split,
        "state": state,
        "opened_at": first.opened_at.isoformat() if first.opened_at else None,
        "closes_at": first.closes_at.isoformat() if first.closes_at else None,
        "groups": [
            {
                "id": group.pk, "number": group.number, "name": group.name,
                "url": reverse("room:room", args=[group.room_id]),
                "members": sorted(by_group[group.pk], key=lambda card: card["name"]),
                "report": group.report if state == "closed" else "",
            }
            for group in groups
        ],
        "unassigned": sorted(
            (_card(users[user_id]) for user_id in candidates if user_id not in assigned and user_id in users),
            key=lambda card: card["name"],
        ),
    }


def breakout_plan_sent(*, session: LiveSession) -> dict[str, Any]:
    """The plan as the main room last received it (the latest `breakouts.changed` event)."""
    payload = RoomEvent.objects.filter(session=session, type="breakouts.changed").order_by("-seq").values_list(
        "payload", flat=True
    ).first()
    if not payload:
        return {"split": 0, "state": "none", "opened_at": None, "closes_at": None, "groups": [], "unassigned": []}
    return {key: value for key, value in payload.items() if key != "at"}


def breakout_of_room(*, session: LiveSession) -> BreakoutGroup | None:
    """The group whose room is `session` (None for any other session)."""
    return BreakoutGroup.objects.select_related("parent").filter(room_id=session.pk).first()


def breakout_refusal(session: LiveSession, user: User) -> tuple[str, str] | None:
    """Why `user` may not enter group room `session` now: (code, message), or None if they may."""
    group = breakout_of_room(session=session)
    if group is None:
        return ("not_found", _("There is no such breakout group."))
    parent = group.parent
    if group.opened_at is None:
        return ("group_not_open", _("This breakout group is not open yet."))
    if group.closed_at is not None:
        return ("group_closed", _("This breakout group has closed: go back to the main room."))
    if user.pk == parent.host_id or user.pk in room_moderator_ids(session_id=parent.pk):
        return None
    if not BreakoutMember.objects.filter(group=group, user=user).exists():
        return ("not_in_group", _("You are not in this breakout group."))
    if Participant.objects.filter(session=parent, user=user, removed_at__isnull=False).exists():
        return ("removed", _("The host removed you from this session."))
    return None


def breakout_room_role(session: LiveSession, user: User) -> str | None:
    """The role in a group room: host for the main room's host and co-hosts, attendee for its members."""
    if breakout_refusal(session, user) is not None:
        return None
    group = breakout_of_room(session=session)
    parent = group.parent if group else None
    if parent is not None and (user.pk == parent.host_id or user.pk in room_moderator_ids(session_id=parent.pk)):
        return "host"
    return "attendee"

