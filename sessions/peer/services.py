"""Writes of peer exchange: ask to be matched, withdraw, expire, and form groups.

A student asks (`peer_request_create`); matching runs at once for that request
(`peer_match_request`) and periodically for everyone (`peer_match_all`, the
`match_peers` command). When a group forms, one transaction creates a peer session
(audience: invited people) through the scheduling services, invites and registers every
member, and marks their requests matched; each member is then told by e-mail in their
own language (after commit), and in the app (the match shows as new on their page and
in the navigation until they look).

Concurrency: the open requests are locked (`select_for_update`, in primary-key order)
for the whole matching transaction, so two matchers take turns; and a request moves
from open to matched only with a conditional update that must change every member's
row, so even without row locks (SQLite) nobody ends up in two groups.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.mail import messages_in_their_language
from server.people.models import User, validate_time_zone
from sessions.models import Audience, LiveSession, PeerMatchRequest, PeerRequestStatus, PeerWindow, SessionKind
from sessions.scheduling.services import (
    LANGUAGE_CODE_RE,
    SessionDetails,
    session_create,
    session_invite,
    session_register,
)

from . import matching, selectors
from .matching import Candidate, Group, Interval

logger = logging.getLogger(__name__)

MAX_WINDOWS = 6
MAX_LANGUAGES = 8
MAX_TOPIC = 200
MAX_DISCIPLINE = 80
#: How far ahead windows may lie ("in the next two weeks").
HORIZON = dt.timedelta(days=14)
MAX_WINDOW = dt.timedelta(hours=24)
#: Tries of a matching transaction that lost a race on SQLite (PostgreSQL waits on the locks instead).
MATCH_ATTEMPTS = 3


@dataclass
class PeerWish:
    """What a student asks for. Windows are aware datetimes (any zone); stored in UTC.

    `languages` None means the languages of the person's profile; `time_zone` is the
    zone the windows were entered in (shown back to them), the profile's by default.
    """

    topic: str
    windows: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    discipline: str = ""
    languages: list[str] | None = None
    group_size: int = 4
    same_country_ok: bool = False
    time_zone: str = ""


# --- checks --------------------------------------------------------------------------------


def check_windows(windows: list[tuple[dt.datetime, dt.datetime]], *, now: dt.datetime) -> list[Interval]:
    """The windows as merged UTC intervals, or InvalidRequest saying which rule they break.

    1 to MAX_WINDOWS windows; each at least 45 minutes and at most a day; each still usable
    (it ends at least 45 minutes after the notice a session needs) and ending within two
    weeks. Overlapping windows are joined.
    """
    if not windows:
        raise InvalidRequest(_("Give at least one time when you are free."), code="windows_missing")
    if len(windows) > MAX_WINDOWS:
        raise InvalidRequest(_("Give at most %(n)d free times.") % {"n": MAX_WINDOWS}, code="too_many_windows")
    intervals = []
    for raw_start, raw_end in windows:
        if timezone.is_naive(raw_start) or timezone.is_naive(raw_end):
            raise InvalidRequest(_("Times need a time zone."), code="naive_time")
        try:
            starts_at, ends_at = raw_start.astimezone(dt.UTC), raw_end.astimezone(dt.UTC)
        except OverflowError:  # year 1 or 9999 with an offset
            raise InvalidRequest(_("Free times must lie within the next two weeks."), code="window_too_far") from None
        if ends_at <= starts_at:
            raise InvalidRequest(_("A free time must end after it starts."), code="window_ends_before_start")
        if ends_at - starts_at < matching.MIN_OVERLAP:
            raise InvalidRequest(_("Each free time must last at least 45 minutes."), code="window_too_short")
        if ends_at - starts_at > MAX_WINDOW:
            raise InvalidRequest(_("A free time lasts at most 24 hours: give several instead."), code="window_too_long")
        if ends_at < matching.earliest_start(now) + matching.MIN_OVERLAP:
            raise InvalidRequest(
                _("A free time is over or too soon: leave an hour's notice and 45 minutes."), code="window_in_past"
            )
        if ends_at > now + HORIZON:
            raise InvalidRequest(_("Free times must lie within the next two weeks."), code="window_too_far")
        intervals.append(Interval(starts_at, ends_at))
    return matching.merge_intervals(intervals)


def _check_languages(languages: list[str] | None, *, user: User) -> list[str]:
    chosen = user.languages if languages is None else languages
    cleaned: list[str] = []
    for code in chosen or []:
        code = str(code).strip().lower()
        if not LANGUAGE_CODE_RE.match(code):
            raise InvalidRequest(_("Give languages as codes such as en, fr or pt."), code="bad_language")
        if code not in cleaned:
            cleaned.append(code)
    if not cleaned:
        raise InvalidRequest(
            _("Choose at least one language you can use (your profile lists none)."), code="languages_missing"
        )
    if len(cleaned) > MAX_LANGUAGES:
        raise InvalidRequest(_("Choose at most %(n)d languages.") % {"n": MAX_LANGUAGES}, code="too_many_languages")
    return cleaned


def _check_wish(wish: PeerWish, *, user: User, now: dt.datetime) -> tuple[str, str, list[str], list[Interval], str]:
    topic = " ".join((wish.topic or "").split())
    discipline = " ".join((wish.discipline or "").split())
    if not topic:
        raise InvalidRequest(_("Say what you would like to talk about."), code="topic_missing")
    if len(topic) > MAX_TOPIC:
        raise InvalidRequest(_("The topic is at most %(n)d characters.") % {"n": MAX_TOPIC}, code="topic_too_long")
    if len(discipline) > MAX_DISCIPLINE:
        raise InvalidRequest(_("The discipline is at most %(n)d characters.") % {"n": MAX_DISCIPLINE}, code="discipline_too_long")
    if not matching.topic_words(topic, discipline):
        raise InvalidRequest(
            _("Say what the topic is in a word or two (for example “malaria in pregnancy”)."), code="topic_vague"
        )
    if not isinstance(wish.group_size, int) or not matching.MIN_GROUP <= wish.group_size <= matching.MAX_GROUP:
        raise InvalidRequest(_("A group is 2 to 6 people, you included."), code="bad_group_size")
    zone = wish.time_zone or user.time_zone or "UTC"
    try:
        validate_time_zone(zone)
    except ValidationError:
        raise InvalidRequest(_("Unknown time zone."), code="bad_time_zone") from None
    languages = _check_languages(wish.languages, user=user)
    windows = check_windows(wish.windows, now=now)
    return topic, discipline, languages, windows, zone


# --- requests ---------------------------------------------------------------------------------


def peer_request_create(
    *, by: User, wish: PeerWish, now: dt.datetime | None = None, base_url: str = ""
) -> PeerMatchRequest:
    """A student or trainee asks to be matched; matching runs at once.

    Refused for anyone else (`not_student`), with a request already open
    (`request_already_open`: withdraw it first), and for the rules of `_check_wish`.
    Returns the request, already `matched` when a group formed.
    """
    now = now or timezone.now()
    if not selectors.user_may_request_peers(user=by):
        raise PermissionRefused(_("Exchange partners are for students and trainees."), code="not_student")
    country, membership = selectors.user_country(user=by)
    if membership is None:  # pragma: no cover - user_may_request_peers checked the role
        raise PermissionRefused(_("Exchange partners are for students and trainees."), code="not_student")
    topic, discipline, languages, windows, zone = _check_wish(wish, user=by, now=now)
    peer_requests_expire(now=now, user=by)
    if selectors.peer_open_request_of(user=by) is not None:
        raise InvalidRequest(
            _("You already wait for exchange partners: withdraw that request first."), code="request_already_open"
        )
    try:
        with transaction.atomic():
            request = PeerMatchRequest.objects.create(
                user=by, topic=topic, discipline=discipline,
                topic_words=sorted(matching.topic_words(topic, discipline)), languages=languages,
                group_size=wish.group_size, same_country_ok=bool(wish.same_country_ok), time_zone=zone,
                country=country, institution=membership.institution, expires_at=windows[-1].end, created_at=now,
            )
            PeerWindow.objects.bulk_create(
                [PeerWindow(request=request, starts_at=w.start, ends_at=w.end) for w in windows]
            )
    except IntegrityError:  # the same person's other request won the race
        raise InvalidRequest(
            _("You already wait for exchange partners: withdraw that request first."), code="request_already_open"
        ) from None
    logger.info("peer request %s by user %s: %d windows, size %d", request.pk, by.pk, len(windows), wish.group_size)
    peer_match_request(request_id=request.pk, now=now, base_url=base_url)
    request.refresh_from_db()
    return request


def peer_request_withdraw(*, by: User, request: PeerMatchRequest, now: dt.datetime | None = None) -> PeerMatchRequest:
    """The owner withdraws an open request. A matched one is left through its session instead."""
    if request.user_id != by.pk:
        raise PermissionRefused(_("This is not your request."), code="not_owner")
    now = now or timezone.now()
    changed = PeerMatchRequest.objects.filter(pk=request.pk, status=PeerRequestStatus.OPEN).update(
        status=PeerRequestStatus.WITHDRAWN, closed_at=now
    )
    request.refresh_from_db()
    if not changed:
        if request.status == PeerRequestStatus.MATCHED:
            raise InvalidRequest(
                _("You were already matched: give up your place on the session page instead."), code="already_matched"
            )
        raise InvalidRequest(_("This request is no longer open."), code="not_open")
    logger.info("peer request %s withdrawn", request.pk)
    return request


def peer_requests_expire(*, now: dt.datetime | None = None, user: User | None = None) -> int:
    """Open requests whose last window has passed become expired (only `user`'s, if given). Returns how many.

    The periodic run expires everyone's; the page and a new request expire the person's own
    at once, so an outdated request never blocks asking again.
    """
    now = now or timezone.now()
    stale = PeerMatchRequest.objects.filter(status=PeerRequestStatus.OPEN, expires_at__lte=now)
    if user is not None:
        stale = stale.filter(user=user)
    count = stale.update(status=PeerRequestStatus.EXPIRED, closed_at=now)
    if count:
        logger.info("%d peer requests expired", count)
    return count


def peer_matches_mark_seen(*, user: User, now: dt.datetime | None = None) -> int:
    """The person looked at their matches: they are no longer new."""
    return PeerMatchRequest.objects.filter(
        user=user, status=PeerRequestStatus.MATCHED, seen_at__isnull=True
    ).update(seen_at=now or timezone.now())


# --- matching ---------------------------------------------------------------------------------


class _PoolChanged(Exception):
    """A request of the group was no longer open when the group was written (lost a race)."""


def candidate_of(request: PeerMatchRequest, windows: list[PeerWindow]) -> Candidate:
    """An open request as the matching functions see it."""
    return Candidate(
        request_id=request.pk, user_id=request.user_id, country=request.country,
        languages=tuple(request.languages or ()), discipline=matching.normalise_discipline(request.discipline),
        topic_words=frozenset(request.topic_words or ()),
        windows=tuple(Interval(w.starts_at, w.ends_at) for w in windows),
        group_size=request.group_size, same_country_ok=request.same_country_ok, created_at=request.created_at,
    )


def _locked_pool(now: dt.datetime) -> tuple[dict[int, PeerMatchRequest], list[Candidate]]:
    """Every open, unexpired request, locked until the transaction ends, with its candidate."""
    rows = list(
        PeerMatchRequest.objects.select_for_update(of=("self",))
        .filter(status=PeerRequestStatus.OPEN, expires_at__gt=now)
        .select_related("institution")
        .order_by("pk")
    )
    windows: dict[int, list[PeerWindow]] = {}
    for window in PeerWindow.objects.filter(request_id__in=[r.pk for r in rows]).order_by("starts_at"):
        windows.setdefault(window.request_id, []).append(window)
    return {r.pk: r for r in rows}, [candidate_of(r, windows.get(r.pk, [])) for r in rows]


def peer_match_request(*, request_id: int, now: dt.datetime | None = None, base_url: str = "") -> LiveSession | None:
    """Form the group of one open request if it can form now; the session, or None."""
    now = now or timezone.now()
    for _attempt in range(MATCH_ATTEMPTS):
        try:
            with transaction.atomic():
                by_id, pool = _locked_pool(now)
                seed = next((c for c in pool if c.request_id == request_id), None)
                if seed is None:  # matched by another run meanwhile, withdrawn or expired
                    return None
                group = matching.group_for(seed, pool, now=now)
                if group is None:
                    return None
                return _group_create(group, by_id=by_id, now=now, base_url=base_url)
        except _PoolChanged:
            logger.info("peer request %s: the pool changed while matching; again", request_id)
        except (PermissionRefused, InvalidRequest) as refused:
            logger.warning("peer request %s: the group could not be scheduled (%s)", request_id, refused.code)
            return None
    return None


def peer_match_all(*, now: dt.datetime | None = None, base_url: str = "") -> list[LiveSession]:
    """The periodic run: expire old requests, then form every group that can form now."""
    now = now or timezone.now()
    peer_requests_expire(now=now)
    for _attempt in range(MATCH_ATTEMPTS):
        sessions: list[LiveSession] = []
        try:
            with transaction.atomic():
                by_id, pool = _locked_pool(now)
                for group in matching.groups_for_all(pool, now=now):
                    try:
                        with transaction.atomic():
                            sessions.append(_group_create(group, by_id=by_id, now=now, base_url=base_url))
                    except (PermissionRefused, InvalidRequest) as refused:
                        logger.warning("peer group of requests %s not scheduled (%s)", group.request_ids, refused.code)
            logger.info("peer matching formed %d groups", len(sessions))
            return sessions
        except _PoolChanged:
            logger.info("peer matching: the pool changed meanwhile; again")
    return []


def _group_create(group: Group, *, by_id: dict[int, PeerMatchRequest], now: dt.datetime, base_url: str) -> LiveSession:
    """Schedule `group`'s session, mark its requests matched, register and tell everyone.

    Runs inside the matching transaction (requests locked). Raises `_PoolChanged` when a
    member's request is no longer open, which rolls the whole group back.
    """
    requests = [by_id[member.request_id] for member in group.members]
    host_request = requests[0]
    users = {user.pk: user for user in User.objects.filter(pk__in=[r.user_id for r in requests])}
    host = users[host_request.user_id]
    disciplines = {matching.normalise_discipline(r.discipline) for r in requests}
    details = SessionDetails(
        title=host_request.topic[:200],
        starts_at=group.slot.start,
        ends_at=group.slot.end,
        description="\n".join(dict.fromkeys(f"• {r.topic}" for r in requests)),
        specialty=host_request.discipline if len(disciplines) == 1 else "",
        language=group.language,
        capacity=len(requests) - 1,
        audience=Audience.INVITED,
    )
    session = session_create(by=host, kind=SessionKind.PEER, details=details, institution=host_request.institution, now=now)
    changed = PeerMatchRequest.objects.filter(pk__in=group.request_ids, status=PeerRequestStatus.OPEN).update(
        status=PeerRequestStatus.MATCHED, session=session, matched_at=now
    )
    if changed != len(requests):
        raise _PoolChanged()
    for request in requests[1:]:
        member = users[request.user_id]
        session_invite(by=host, session=session, user=member)
        session_register(user=member, session=session, now=now)
    _tell_members(session=session, requests=requests, users=users, base_url=base_url)
    logger.info(
        "peer session %s formed for requests %s (%s, %s)",
        session.pk, group.request_ids, group.language, "complete" if group.complete else "last call",
    )
    return session


def _tell_members(*, session: LiveSession, requests: list[PeerMatchRequest], users: dict[int, User], base_url: str) -> None:
    """An e-mail to each member, in their language and time zone, after commit."""
    from server.languages import LANGUAGE_NAMES

    link = base_url + reverse("scheduling:detail", args=[session.pk])
    by_user = {request.user_id: request for request in requests}

    def compose(user: User) -> tuple[str, str]:
        mine = by_user[user.pk]
        others = "\n".join(
            f"- {users[r.user_id].name} ({r.institution.short_name or r.institution.name}, {r.country})"
            for r in requests if r.user_id != user.pk
        )
        zone = zoneinfo.ZoneInfo(user.time_zone or "UTC")
        when = formats.date_format(session.starts_at.astimezone(zone), "DATETIME_FORMAT")
        language = str(LANGUAGE_NAMES.get(session.language, session.language))
        subject = _("Exchange partners found: %(topic)s") % {"topic": session.title}
        body = _(
            "You asked to meet students of other countries about “%(topic)s”. You are matched with:\n"
            "%(others)s\n\n"
            "The session is on %(when)s (%(zone)s), in %(language)s, for %(minutes)d minutes.\n"
            "Details and the room: %(link)s\n\n"
            "If you cannot come, give up your place on that page so the others know."
        ) % {
            "topic": mine.topic, "others": others, "when": when, "zone": zone.key, "language": language,
            "minutes": session.duration_minutes, "link": link,
        }
        return subject, body

    messages = messages_in_their_language([users[r.user_id] for r in requests], compose)
    transaction.on_commit(lambda: send_mass_mail(messages), robust=True)
