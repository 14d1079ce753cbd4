"""Who meets whom: the matching rules of peer exchange, as plain functions over plain data.

Nothing here reads the database or the clock: services.py turns open requests into
`Candidate`s, passes `now`, and writes the `Group`s it gets back. The same inputs always
give the same groups.

The rules (docs/peer.md):

- everyone in a group shares at least one language;
- every two members share a topic: the same discipline, or a word of their topics
  (normalised: case, accents, plurals and filler words do not count);
- one time slot of at least `MIN_OVERLAP` lies inside a free window of every member,
  and starts at least `MIN_NOTICE` from now;
- the group is as large as the smallest size any member asked for (2–6); a smaller
  group (at least 2) forms only at the "last call", when its slot starts within
  `LAST_CALL` of now, because waiting longer would lose the slot;
- people of other countries come first; a group whose members all come from one
  country forms only if every member allowed it;
- among equals, whoever asked first comes first, and the one who waited longest hosts.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIN_OVERLAP = dt.timedelta(minutes=45)
SESSION_LENGTH = dt.timedelta(minutes=60)
MIN_NOTICE = dt.timedelta(hours=1)
LAST_CALL = dt.timedelta(hours=48)
MIN_GROUP = 2
MAX_GROUP = 6
#: Session starts are put on a 5-minute grid (a window entered as 14:00 stays 14:00).
GRID = dt.timedelta(minutes=5)

#: Words that say nothing about a topic, in the languages of the demo schools.
FILLER_WORDS = frozenset(
    """
    a an and are as at be by for from how in into is it of on or the to vs versus what when where which who why with
    approach approaches basics case cases clinical discussion exchange introduction management medicine overview
    patient patients practice review session topic topics
    au aux avec dans de des du en et la le les ou par pour sur un une
    ao aos com da das do dos e em na nas no nos os para por um uma
    das dem den der des die ein eine im mit und von zu zum zur
    al con del el las los por se y
    """.split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True, order=True)
class Interval:
    """A span of time [start, end), aware datetimes."""

    start: dt.datetime
    end: dt.datetime

    @property
    def length(self) -> dt.timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class Candidate:
    """An open request as the matching sees it."""

    request_id: int
    user_id: int
    country: str
    languages: tuple[str, ...]  # in the person's order of preference
    discipline: str  # normalised, "" when none was given
    topic_words: frozenset[str]
    windows: tuple[Interval, ...]
    group_size: int
    same_country_ok: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class Group:
    """A group that forms: its members (host first), language and the session's slot."""

    members: tuple[Candidate, ...]
    language: str
    slot: Interval
    complete: bool  # False: formed smaller than wished, at the last call

    @property
    def host(self) -> Candidate:
        return self.members[0]

    @property
    def request_ids(self) -> list[int]:
        return [member.request_id for member in self.members]


# --- topics ----------------------------------------------------------------------------


def normalise_word(word: str) -> str:
    """Lower case, no accents, and a plural "s" dropped from longer words ("Guidelines" → "guideline")."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    if len(plain) > 4 and plain.endswith("s") and not plain.endswith("ss"):
        plain = plain[:-1]
    return plain


def topic_words(*texts: str) -> frozenset[str]:
    """The words of `texts` that say what the topic is (at least 2 letters, no filler)."""
    words = set()
    for text in texts:
        for raw in _WORD.findall(text or ""):
            word = normalise_word(raw)
            if len(word) >= 2 and word not in FILLER_WORDS:
                words.add(word)
    return frozenset(words)


def normalise_discipline(text: str) -> str:
    """A discipline as compared: words normalised, joined by single spaces ("Infectious Diseases" = "infectious disease")."""
    return " ".join(normalise_word(raw) for raw in _WORD.findall(text or ""))


def topics_compatible(a: Candidate, b: Candidate) -> bool:
    """Same discipline, or a shared topic word."""
    if a.discipline and a.discipline == b.discipline:
        return True
    return bool(a.topic_words & b.topic_words)


def topic_closeness(a: Candidate, b: Candidate) -> int:
    """How much two requests share: a same discipline counts as two shared words."""
    return len(a.topic_words & b.topic_words) + (2 if a.discipline and a.discipline == b.discipline else 0)


# --- time ------------------------------------------------------------------------------


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping or touching intervals joined."""
    merged: list[Interval] = []
    for interval in sorted(intervals):
        if interval.end <= interval.start:
            continue
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return merged


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The times inside both sets of intervals (each merged and sorted)."""
    left, right = merge_intervals(a), merge_intervals(b)
    found: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            found.append(Interval(start, end))
        if left[i].end <= right[j].end:
            i += 1
        else:
            j += 1
    return found


def round_up(moment: dt.datetime, step: dt.timedelta = GRID) -> dt.datetime:
    """`moment` moved forward to the next multiple of `step` since the epoch (unchanged if on it)."""
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    remainder = (moment - epoch) % step
    return moment if not remainder else moment + (step - remainder)


def usable_slots(intervals: Sequence[Interval], *, not_before: dt.datetime, min_length: dt.timedelta = MIN_OVERLAP) -> list[Interval]:
    """The parts of `intervals` from `not_before` on, starting on the grid, at least `min_length` long."""
    slots = []
    for interval in merge_intervals(intervals):
        start = round_up(max(interval.start, not_before))
        if interval.end - start >= min_length:
            slots.append(Interval(start, interval.end))
    return slots


def earliest_start(now: dt.datetime) -> dt.datetime:
    """The first moment a session formed `now` may start: enough notice to read the e-mail."""
    return round_up(now + MIN_NOTICE)


def session_slot(slots: Sequence[Interval]) -> Interval:
    """The session: at the start of the first common slot, `SESSION_LENGTH` or the slot if shorter."""
    first = slots[0]
    return Interval(first.start, min(first.end, first.start + SESSION_LENGTH))


# --- groups ----------------------------------------------------------------------------


def countries_allowed(members: Sequence[Candidate]) -> bool:
    """Several countries, or one country that every member said is fine."""
    return len({member.country for member in members}) > 1 or all(member.same_country_ok for member in members)


def _common_language(members: Sequence[Candidate]) -> str | None:
    """The first language, in the host's order, that every member can use."""
    shared = set(members[0].languages)
    for member in members[1:]:
        shared &= set(member.languages)
    return next((code for code in members[0].languages if code in shared), None)


def _preference(candidate: Candidate, group: Sequence[Candidate], target: int) -> tuple:
    """Sort key of a candidate for joining `group`: lower is better.

    A new country first; then someone who does not make the group smaller than wished;
    then the closer topic; then who asked first (and the request id, for a total order).
    """
    countries = {member.country for member in group}
    return (
        candidate.country in countries,
        candidate.group_size < target,
        -sum(topic_closeness(candidate, member) for member in group),
        candidate.created_at,
        candidate.request_id,
    )


def group_for(seed: Candidate, pool: Sequence[Candidate], *, now: dt.datetime) -> Group | None:
    """The group `seed` would join now among `pool` (other open requests), or None.

    Greedy and deterministic: starting from `seed`, the most preferred compatible
    candidate joins, again and again, until the group has the size its members wish.
    A person appears at most once, whatever requests they have in `pool`.
    """
    not_before = earliest_start(now)
    slots = usable_slots(seed.windows, not_before=not_before)
    if not slots:
        return None
    members = [seed]
    target = seed.group_size
    others = [c for c in pool if c.request_id != seed.request_id and c.user_id != seed.user_id]
    while len(members) < target:
        taken = {member.user_id for member in members}
        chosen = None
        for candidate in sorted(others, key=lambda c: _preference(c, members, target)):
            if candidate.user_id in taken:
                continue
            if len(members) + 1 > min(target, candidate.group_size):
                continue
            if not set(candidate.languages).intersection(*(set(m.languages) for m in members)):
                continue
            if not all(topics_compatible(candidate, member) for member in members):
                continue
            common = usable_slots(intersect(slots, candidate.windows), not_before=not_before)
            if not common:
                continue
            chosen = (candidate, common)
            break
        if chosen is None:
            break
        candidate, slots = chosen
        members.append(candidate)
        target = min(target, candidate.group_size)
    if len(members) < MIN_GROUP or not countries_allowed(members):
        return None
    complete = len(members) >= target
    if not complete and slots[0].start - now > LAST_CALL:
        return None  # there is still time for the group the members asked for
    ordered = tuple(sorted(members, key=lambda m: (m.created_at, m.request_id)))
    language = _common_language(ordered)
    if language is None:  # pragma: no cover - every member was checked against the shared languages
        return None
    return Group(members=ordered, language=language, slot=session_slot(slots), complete=complete)


def groups_for_all(pool: Sequence[Candidate], *, now: dt.datetime) -> list[Group]:
    """Every group that forms among `pool`, the longest-waiting requests seeding first.

    A request is in at most one group.
    """
    groups: list[Group] = []
    used: set[int] = set()
    for seed in sorted(pool, key=lambda c: (c.created_at, c.request_id)):
        if seed.request_id in used:
            continue
        free = [c for c in pool if c.request_id not in used]
        group = group_for(seed, free, now=now)
        if group is not None:
            groups.append(group)
            used.update(group.request_ids)
    return groups
