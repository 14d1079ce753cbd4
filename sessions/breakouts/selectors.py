"""Reads of breakout groups: the plan the main room shows, who goes where, who may enter.

Group rooms are `LiveSession`s of kind "breakout"; `breakout_room_role` decides who
enters one (registered with the room as that kind's role resolver), and
`breakout_refusal` says why someone may not, so the socket closes with a clear message.

The plan (`breakout_plan`) is the whole state at a `version`; the room's events carry
only changes to it (services.py). The host and co-hosts get it whole (every member's
card, to move people); an attendee's page needs only the groups and its own place
(`breakout_plan_of_attendee`): at 1,000 people that is about 9 KB instead of 82 KB per
joiner, and it is what 1,000 pages coming back from their groups at a close each receive.
The groups part is built once per version per process (`breakout_plan_shared`).
"""

from __future__ import annotations

import threading
from typing import Any

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest
from server.people.models import Membership, User
from sessions.models import BreakoutGroup, BreakoutMember, BreakoutPlanVersion, LiveSession, Participant, SessionKind
from sessions.room.registry import ROLE_PERMISSIONS
from sessions.room.selectors import room_moderator_ids, school_and_country

from .mixing import Person

#: Kinds of session that can be split (not consults, not a group itself).
SPLITTABLE_KINDS = (SessionKind.CASE_CONFERENCE, SessionKind.LECTURE, SessionKind.PEER)


def _card(user: User) -> dict[str, Any]:
    school, country = school_and_country(user)
    return {"id": user.pk, "name": user.name, "school": school, "country": country}


def _users(ids: list[int]) -> dict[int, User]:
    users = User.objects.filter(pk__in=ids).prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("institution"))
    )
    return {user.pk: user for user in users}


def person_cards(ids: list[int]) -> list[dict[str, Any]]:
    """Name, school and country of these people (what a move event carries about the person moved)."""
    users = _users(ids)
    return [_card(users[user_id]) for user_id in ids if user_id in users]


def breakout_plan_version(*, session_id: int) -> int:
    """The version of the session's plan (0 before any split)."""
    return BreakoutPlanVersion.objects.filter(pk=session_id).values_list("version", flat=True).first() or 0


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


def _state(groups: list[BreakoutGroup]) -> str:
    first = groups[0]
    return "closed" if first.closed_at else "open" if first.opened_at else "ready"


def _plan_of(version: int, groups: list[BreakoutGroup], members: dict[int, list[dict[str, Any]]],
             unassigned: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan's shape (docs/protocol.md, "Breakout groups"), with these members per group."""
    if not groups:
        return {"version": version, "split": 0, "state": "none", "opened_at": None, "closes_at": None,
                "groups": [], "unassigned": []}
    first, state = groups[0], _state(groups)
    return {
        "version": version,
        "split": first.split,
        "state": state,
        "opened_at": first.opened_at.isoformat() if first.opened_at else None,
        "closes_at": first.closes_at.isoformat() if first.closes_at else None,
        "groups": [
            {
                "id": group.pk, "number": group.number, "name": group.name,
                "url": reverse("room:room", args=[group.room_id]),
                "members": members.get(group.pk, []),
                "report": group.report if state == "closed" else "",
            }
            for group in groups
        ],
        "unassigned": unassigned,
    }


def breakout_plan(*, session: LiveSession, with_candidates: bool = True) -> dict[str, Any]:
    """The latest split as the host's panel shows it: groups, members' cards, timing, reports, version.

    state: "none" (never split), "ready" (split, not open), "open", "closed". The version
    is read first, so the plan is at least as new as it says (changes are idempotent: a
    client applying one it already has loses nothing). `with_candidates` lists the people
    in the room not in any group as `unassigned`.
    """
    version = breakout_plan_version(session_id=session.pk)
    groups = _latest(session.pk)
    if not groups:
        return _plan_of(version, [], {}, [])
    state = _state(groups)
    members = list(BreakoutMember.objects.filter(group__in=groups).values_list("group_id", "user_id"))
    candidates = split_candidate_ids(session=session) if state != "closed" and with_candidates else []
    assigned = {user_id for _, user_id in members}
    users = _users(sorted(assigned | set(candidates)))
    by_group: dict[int, list[dict[str, Any]]] = {group.pk: [] for group in groups}
    for group_id, user_id in members:
        if user_id in users:
            by_group[group_id].append(_card(users[user_id]))
    unassigned = [_card(users[user_id]) for user_id in candidates if user_id not in assigned and user_id in users]
    return _plan_of(
        version, groups, {group_id: sorted(cards, key=lambda card: card["name"]) for group_id, cards in by_group.items()},
        sorted(unassigned, key=lambda card: card["name"]),
    )


_SHARED: dict[int, dict[str, Any]] = {}
_SHARED_LOCK = threading.Lock()
_SHARED_ROOMS = 500


def breakout_plan_shared(*, session: LiveSession) -> dict[str, Any]:
    """The plan without anyone in it (groups, timing, reports), built once per version in
    this process (do not change it).

    Why: 1,000 people coming back from their groups at once each need the plan in their
    snapshot; rebuilding it per joiner costs a few queries each, and their pages need no
    one's name (the report-back shows each group's name and notes). The version (one
    primary-key read) says whether the last build is still the plan.
    """
    version = breakout_plan_version(session_id=session.pk)
    with _SHARED_LOCK:
        cached = _SHARED.get(session.pk)
    if cached is not None and cached["version"] == version:
        return cached
    plan = _plan_of(version, _latest(session.pk), {}, [])
    with _SHARED_LOCK:
        if len(_SHARED) >= _SHARED_ROOMS:
            _SHARED.pop(next(iter(_SHARED)))
        _SHARED[session.pk] = plan
    return plan


def breakout_plan_of_attendee(*, session: LiveSession, user: User) -> dict[str, Any]:
    """The plan as an attendee's page needs it: every group, and only `user` in theirs.

    Why: the page shows "Your group", its link and, once closed, each group's name and
    notes; every member's card (about 82 bytes a person) is the host's need, not theirs.
    A page holding this plan applies later changes as ids (plan.js) and never asks for
    the whole plan to learn names (it only asks after a missed change).
    """
    shared = breakout_plan_shared(session=session)
    if not shared["groups"]:
        return shared
    group_id = BreakoutMember.objects.filter(parent=session, split=shared["split"], user=user).values_list(
        "group_id", flat=True
    ).first()
    me = [{"id": user.pk, "name": user.name}]
    return {**shared, "groups": [{**group, "members": me} if group["id"] == group_id else group for group in shared["groups"]]}


def breakout_plan_for(*, session: LiveSession, user: User) -> dict[str, Any]:
    """What `user`'s page in main room `session` gets (snapshot part, `breakouts.get`):
    the whole plan for the host and co-hosts, the attendee's plan for anyone else, with
    the server's clock (`now`, for the countdown) and whether they may manage.

    Raises `not_splittable` for a session that cannot have groups.
    """
    if session.kind not in SPLITTABLE_KINDS:
        raise InvalidRequest(_("This session cannot be split into breakout groups."), code="not_splittable")
    manager = user.pk == session.host_id or user.pk in room_moderator_ids(session_id=session.pk)
    plan = breakout_plan(session=session) if manager else breakout_plan_of_attendee(session=session, user=user)
    return {**plan, "now": timezone.now().isoformat(), "can_manage": manager}


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


def breakout_stay_refusal(session: LiveSession, user: User) -> tuple[str, str] | None:
    """Why `user`, whose socket is in group room `session`, may no longer stay (None: they may).

    Checked when they are moved out while the group is open (`breakout.moved`, registered
    with the room): the server does not trust the page to leave. Only "not in the group"
    and "removed" end a stay here; the group's closing ends every socket by itself.
    """
    refusal = breakout_refusal(session, user)
    return refusal if refusal is not None and refusal[0] in ("not_in_group", "removed") else None


def breakout_room_role(session: LiveSession, user: User) -> str | None:
    """The role in a group room: host for the main room's host and co-hosts, attendee for its members."""
    if breakout_refusal(session, user) is not None:
        return None
    group = breakout_of_room(session=session)
    parent = group.parent if group else None
    if parent is not None and (user.pk == parent.host_id or user.pk in room_moderator_ids(session_id=parent.pk)):
        return "host"
    return "attendee"

