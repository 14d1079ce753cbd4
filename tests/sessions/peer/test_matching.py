"""The matching rules as plain functions: languages, topics, countries, overlap, sizes, expiry."""

from __future__ import annotations

import datetime as dt

from sessions.peer import matching
from sessions.peer.matching import Candidate, Interval

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """`day` days after NOW's date, at hour:minute UTC."""
    return NOW.replace(hour=0) + dt.timedelta(days=day, hours=hour, minutes=minute)


def person(
    request_id: int, *, user_id: int | None = None, country: str = "NG", languages: tuple[str, ...] = ("en",),
    topic: str = "Malaria in pregnancy", discipline: str = "", windows=((1, 14, 0, 240),), size: int = 2,
    same_country_ok: bool = False, waited: int = 0,
) -> Candidate:
    """A request; windows are (day, hour, minute, minutes long); `waited` minutes before NOW it was made."""
    return Candidate(
        request_id=request_id, user_id=user_id or request_id, country=country, languages=languages,
        discipline=matching.normalise_discipline(discipline), topic_words=matching.topic_words(topic, discipline),
        windows=tuple(Interval(at(d, h, m), at(d, h, m) + dt.timedelta(minutes=length)) for d, h, m, length in windows),
        group_size=size, same_country_ok=same_country_ok, created_at=NOW - dt.timedelta(minutes=waited),
    )


def test_two_students_of_different_countries_with_language_topic_and_time_in_common_are_matched():
    amina = person(1, country="NG", languages=("en", "ha"), windows=((1, 14, 0, 240),), waited=10)
    lukas = person(2, country="DE", languages=("de", "en"), topic="Malaria guidelines", windows=((1, 16, 0, 180),))
    group = matching.group_for(lukas, [amina, lukas], now=NOW)
    assert group is not None
    assert [m.request_id for m in group.members] == [1, 2]  # Amina waited longer: she hosts
    assert group.language == "en"
    assert group.slot == Interval(at(1, 16), at(1, 17))  # the overlap's start, one hour
    assert group.complete


def test_no_shared_language_means_no_match():
    amina = person(1, country="NG", languages=("en", "yo"))
    lukas = person(2, country="DE", languages=("de",))
    assert matching.group_for(lukas, [amina, lukas], now=NOW) is None


def test_the_session_language_is_the_hosts_first_language_that_everyone_speaks():
    beatriz = person(1, country="BR", languages=("pt", "es", "en"), waited=5)
    lucia = person(2, country="MZ", languages=("en", "pt"))
    assert matching.group_for(lucia, [beatriz, lucia], now=NOW).language == "pt"


def test_forty_five_minutes_in_common_is_enough_and_forty_four_is_not():
    amina = person(1, country="NG", windows=((1, 14, 0, 120),))
    just = person(2, country="DE", windows=((1, 15, 15, 60),))  # 15:15–16:15: 45 minutes with Amina
    short = person(3, country="DE", windows=((1, 15, 16, 60),))  # 44 minutes
    assert matching.group_for(just, [amina, just], now=NOW).slot == Interval(at(1, 15, 15), at(1, 16))
    assert matching.group_for(short, [amina, short], now=NOW) is None


def test_the_overlap_must_be_common_to_every_member_of_a_group():
    a = person(1, country="NG", windows=((1, 14, 0, 120),), size=3)
    b = person(2, country="DE", windows=((1, 15, 0, 120),), size=3)
    c = person(3, country="JP", windows=((1, 15, 30, 120),), size=3)  # 15:30–16:00 with all: 30 min
    late = person(4, country="BR", windows=((1, 15, 0, 60),), size=3)  # 15:00–16:00 with a and b
    group = matching.group_for(a, [a, b, c, late], now=NOW)
    assert group is not None and {m.request_id for m in group.members} == {1, 2, 4}
    assert group.slot == Interval(at(1, 15), at(1, 16))


def test_topics_match_by_discipline_or_by_a_shared_word_but_not_by_filler_words():
    base = person(1, country="NG", topic="Sickle cell crisis", discipline="Haematology")
    same_discipline = person(2, country="DE", topic="Anaemia in children", discipline="haematology ")
    shared_word = person(3, country="DE", topic="Crises in sickle-cell disease")
    filler_only = person(4, country="DE", topic="Management of the case", discipline="")
    assert matching.topics_compatible(base, same_discipline)
    assert matching.topics_compatible(base, shared_word)
    assert not matching.topics_compatible(base, filler_only)
    assert matching.group_for(filler_only, [base, filler_only], now=NOW) is None


def test_topic_words_ignore_case_accents_plurals_and_filler():
    assert matching.topic_words("Guidelines for MALARIA", "Infectious Diseases") == {"guideline", "malaria", "infectiou", "disease"}
    assert matching.topic_words("Tuberculose e HIV") == {"tuberculose", "hiv"}
    assert matching.topic_words("Épidémiologie") == matching.topic_words("epidemiologie")
    assert matching.normalise_discipline("Infectious  Diseases") == matching.normalise_discipline("infectious disease")


def test_a_group_from_one_country_forms_only_if_everyone_allowed_it():
    tunde = person(1, country="NG", same_country_ok=True, waited=5)
    chiamaka = person(2, country="NG", same_country_ok=False)
    assert matching.group_for(chiamaka, [tunde, chiamaka], now=NOW) is None
    willing = person(3, country="NG", same_country_ok=True)
    assert {m.request_id for m in matching.group_for(willing, [tunde, willing], now=NOW).members} == {1, 3}


def test_people_of_another_country_come_first_even_when_they_asked_later():
    amina = person(1, country="NG", same_country_ok=True)
    tunde = person(2, country="NG", same_country_ok=True, waited=60)  # asked long before Lukas
    lukas = person(3, country="DE", waited=1)
    group = matching.group_for(amina, [amina, tunde, lukas], now=NOW)
    assert {m.request_id for m in group.members} == {1, 3}


def test_the_group_grows_to_the_size_asked_for():
    people = [person(i, country=c, size=3, waited=10 - i) for i, c in enumerate(["NG", "DE", "JP", "BR"], start=1)]
    group = matching.group_for(people[0], people, now=NOW)
    assert len(group.members) == 3 and group.complete
    assert [m.country for m in group.members] == ["NG", "DE", "JP"]  # first come, first served


def test_a_group_smaller_than_wished_waits_unless_its_slot_is_at_the_last_call():
    far_a = person(1, country="NG", size=3, windows=((5, 14, 0, 120),))
    far_b = person(2, country="DE", size=3, windows=((5, 14, 0, 120),))
    assert matching.group_for(far_a, [far_a, far_b], now=NOW) is None  # five days ahead: wait for a third
    near_a = person(1, country="NG", size=3, windows=((1, 14, 0, 120),))
    near_b = person(2, country="DE", size=3, windows=((1, 14, 0, 120),))
    group = matching.group_for(near_a, [near_a, near_b], now=NOW)  # starts in 30 hours: go as two
    assert group is not None and len(group.members) == 2 and not group.complete


def test_the_smallest_wish_sets_the_size_and_nobody_joins_a_group_larger_than_they_asked():
    amina = person(1, country="NG", size=4, waited=10)
    pair_only = person(2, country="DE", size=2, waited=9)
    four_a = person(3, country="JP", size=4, waited=8)
    four_b = person(4, country="BR", size=4, waited=7)
    group = matching.group_for(amina, [amina, pair_only, four_a, four_b], now=NOW)
    assert {m.request_id for m in group.members} == {1, 3, 4}  # the pair-only request is not squeezed in
    # With fewer people of a larger wish, someone who wants a pair still makes a pair.
    assert {m.request_id for m in matching.group_for(pair_only, [pair_only, four_a], now=NOW).members} == {2, 3}


def test_windows_that_are_over_or_too_soon_do_not_count():
    soon_a = person(1, country="NG", windows=((0, 8, 30, 60),))  # 08:30–09:30 today: the session needs an hour's notice
    soon_b = person(2, country="DE", windows=((0, 8, 30, 60),))
    assert matching.group_for(soon_a, [soon_a, soon_b], now=NOW) is None
    # A window that started already still counts for what is left of it (from 09:00, on the grid).
    started_a = person(1, country="NG", windows=((0, 7, 0, 180),))
    started_b = person(2, country="DE", windows=((0, 7, 0, 180),))
    slot = matching.group_for(started_a, [started_a, started_b], now=NOW + dt.timedelta(minutes=2)).slot
    assert slot.start == at(0, 9, 5)  # 08:02 + 1 h, rounded up to the 5-minute grid


def test_nobody_is_in_two_groups_and_the_result_is_the_same_every_time():
    pool = [person(i, country=["NG", "DE", "JP", "BR", "IN"][i % 5], size=2, waited=100 - i) for i in range(1, 12)]
    first = matching.groups_for_all(pool, now=NOW)
    again = matching.groups_for_all(list(reversed(pool)), now=NOW)
    ids = [rid for group in first for rid in group.request_ids]
    assert len(ids) == len(set(ids)) == 10  # five pairs; the eleventh waits
    assert [g.request_ids for g in first] == [g.request_ids for g in again]
    assert all(len({m.country for m in g.members}) == 2 for g in first)


def test_one_person_never_meets_themselves():
    mine = person(1, user_id=7, country="NG")
    also_mine = person(2, user_id=7, country="DE")  # e.g. a second school in another country
    assert matching.group_for(mine, [mine, also_mine], now=NOW) is None


def test_a_withdrawn_or_expired_request_is_simply_not_in_the_pool():
    amina = person(1, country="NG")
    assert matching.group_for(amina, [amina], now=NOW) is None
    assert matching.groups_for_all([], now=NOW) == []


def test_intervals_merge_and_intersect():
    a = [Interval(at(1, 10), at(1, 12)), Interval(at(1, 11), at(1, 13)), Interval(at(1, 15), at(1, 16))]
    assert matching.merge_intervals(a) == [Interval(at(1, 10), at(1, 13)), Interval(at(1, 15), at(1, 16))]
    b = [Interval(at(1, 12), at(1, 15, 30))]
    assert matching.intersect(a, b) == [Interval(at(1, 12), at(1, 13)), Interval(at(1, 15), at(1, 15, 30))]
    assert matching.round_up(at(1, 10, 1)) == at(1, 10, 5)
    assert matching.round_up(at(1, 10, 5)) == at(1, 10, 5)
