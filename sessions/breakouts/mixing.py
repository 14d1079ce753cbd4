"""Splitting people into groups that mix schools and countries.

The point of a virtual exchange is to talk with people from elsewhere, so a random split
is not enough: ten students of one school in a room of thirty would, by chance, often sit
together. The split is greedy and deterministic for a given seed: people of the largest
schools are placed first, each into the group (among those not yet full) that has the
fewest people of the same school, then of the same country, then the fewest people;
ties are broken at random. Groups differ in size by at most one.

This is a pure function (no database) so the tests and the benchmark call it directly.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    id: int
    school: str
    country: str


def group_count(people: int, group_size: int) -> int:
    """How many groups of about `group_size` people (at least one)."""
    return max(1, math.ceil(people / max(1, group_size)))


def mixed_groups(people: list[Person], group_size: int, *, seed: int | None = None) -> list[list[int]]:
    """Ids of `people` in groups of at most `group_size` (sizes differ by at most one)."""
    if not people:
        return []
    rng = random.Random(seed)
    count = group_count(len(people), group_size)
    small, extra = divmod(len(people), count)  # `extra` groups get one more person
    schools = Counter(p.school for p in people)
    countries = Counter(p.country for p in people)
    shuffled = list(people)
    rng.shuffle(shuffled)
    # Largest schools (then countries) first: they are the hardest to spread.
    shuffled.sort(key=lambda p: (-schools[p.school], -countries[p.country]))
    groups: list[list[Person]] = [[] for _ in range(count)]
    school_in: list[Counter[str]] = [Counter() for _ in range(count)]
    country_in: list[Counter[str]] = [Counter() for _ in range(count)]
    big = 0
    for person in shuffled:
        best = min(
            (i for i in range(count) if len(groups[i]) < small or (len(groups[i]) == small and big < extra)),
            key=lambda i: (school_in[i][person.school], country_in[i][person.country], len(groups[i]), rng.random()),
        )
        if len(groups[best]) == small:
            big += 1
        groups[best].append(person)
        school_in[best][person.school] += 1
        country_in[best][person.country] += 1
    return [[p.id for p in group] for group in groups]


def random_groups(ids: list[int], group_size: int, *, seed: int | None = None) -> list[list[int]]:
    """Plain random groups (the stock way, for comparison in the tests and benchmark)."""
    rng = random.Random(seed)
    shuffled = list(ids)
    rng.shuffle(shuffled)
    count = group_count(len(ids), group_size)
    return [shuffled[i::count] for i in range(count)]
