"""Full-text search of the library with facets, over only what the person may see.

PostgreSQL: a stored `search_vector` tsvector column (generated from `search_text`
with the "simple" configuration, GIN-indexed; migration 0006) matched against a prefix
`to_tsquery`, ranked by `ts_rank` on that stored vector: nothing is computed per row
at query time. "simple" (no stemming) because the library is in many languages.
SQLite: the FTS5 table `courses_material_fts` (kept by triggers) drives the query in
rowid order, newest first, joined to the visible materials; `bm25` is computed only
for the rows that survive the visibility rule and the filters. Other engines: a LIKE
scan (correct, slow).

Both engines read the visibility and facet columns from one narrow covering index
(`material_facet_scan`: the id first, then those columns), so a scan in recency order
touches a few dozen bytes per material instead of whole rows with their texts.

Terms are reduced to word characters before they reach either query language, so a
search string can never inject FTS5 or tsquery syntax. The last term is a prefix
("tuber" finds "tuberculosis"), so search-as-you-type works.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django_countries import countries

from courses.models import Level, Licence, Material, MaterialKind
from server.languages import content_language_name
from server.people.http import AnyUser
from server.people.models import Institution

from .search_sql import SQLITE_FTS
from .selectors import material_visible_to

logger = logging.getLogger(__name__)

FACETS: dict[str, str] = {
    "kind": "kind",
    "discipline": "discipline",
    "level": "level",
    "language": "language",
    "licence": "licence",
    "school": "institution_id",
    "country": "institution__country",
}
SORTS = ("relevance", "recent", "title")
MAX_TERMS = 12
PER_PAGE_MAX = 50


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass
class SearchResult:
    items: list[Material]
    total: int
    page: int
    pages: int
    per_page: int
    query: str
    filters: dict[str, str]
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    facets_sampled: bool = False
    sample_size: int = 0


def search_terms(query: str) -> list[str]:
    """Lower-case word tokens of `query` (letters and digits of any script)."""
    return [t for t in re.findall(r"\w+", (query or "").lower()) if t != "_"][:MAX_TERMS]


def _fts5_expression(terms: list[str]) -> str:
    quoted = [f'"{t}"' for t in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


def _tsquery_expression(terms: list[str]) -> str:
    parts = [t for t in terms]
    parts[-1] += ":*"
    return " & ".join(parts)


def material_text_filter(qs: QuerySet[Material], query: str) -> tuple[QuerySet[Material], bool]:
    """Narrow `qs` to materials matching `query` (no ranking); returns (queryset, matched).

    PostgreSQL: the stored, GIN-indexed `search_vector`. SQLite: the FTS5 table joined
    on rowid and ordered by it when the caller orders by `-id` (see `_with_text`).
    """
    narrowed, matched, _score = _with_text(qs, query)
    return narrowed, matched


def _with_text(qs: QuerySet[Material], query: str) -> tuple[QuerySet[Material], bool, str | None]:
    """(`qs` narrowed to `query`, whether a text condition applies, the name of a score).

    The score (an extra select, higher is better) costs one ranking per row returned;
    order by `-id` to get the engine's cheap plan (the FTS5 index in rowid order on
    SQLite, the covering index backwards on PostgreSQL).
    """
    terms = search_terms(query)
    if not terms:
        return qs, False, None
    vendor = connection.vendor
    if vendor == "postgresql":
        expression = _tsquery_expression(terms)
        return (
            qs.extra(
                where=["courses_material.search_vector @@ to_tsquery('simple'::regconfig, %s)"], params=[expression],
                select={"score": "ts_rank(courses_material.search_vector, to_tsquery('simple'::regconfig, %s))"},
                select_params=[expression],
            ),
            True,
            "score",
        )
    if vendor == "sqlite":
        return (
            qs.extra(
                tables=["courses_material_fts"],
                where=["courses_material_fts.rowid = courses_material.id", "courses_material_fts MATCH %s"],
                params=[_fts5_expression(terms)],
                select={"score": "-bm25(courses_material_fts)"},
            ),
            True,
            "score",
        )
    condition = Q()
    for term in terms:
        condition &= Q(search_text__icontains=term)
    return qs.filter(condition), True, None


def material_ranked(qs: QuerySet[Material], query: str) -> QuerySet[Material]:
    """`qs` ordered by relevance to `query` (bm25 on SQLite, ts_rank on PostgreSQL)."""
    narrowed, matched, score = _with_text(qs, query)
    if not matched or score is None:
        return qs.order_by("-updated_at", "-id")
    return narrowed.order_by(f"-{score}", "-updated_at", "-id")


def _newest_first(qs: QuerySet[Material], *, matched: bool) -> QuerySet[Material]:
    """Order by id descending, in the form each engine turns into an early-stopping scan."""
    if matched and connection.vendor == "sqlite":
        # Ordering by the FTS5 rowid lets the FTS index itself deliver rows newest first.
        return qs.extra(order_by=["-courses_material_fts.rowid"])
    return qs.order_by("-id")


#: The covering index of the facet scan (see courses/models/library.py).
FACET_INDEX = "material_facet_scan"


def _sample_rows(qs: QuerySet) -> list[tuple]:
    """Run the sample query; on SQLite, on the narrow covering index.

    Why INDEXED BY: without ANALYZE statistics (Django never runs it) SQLite judges a
    primary-key lookup cheaper than the covering index and reads each whole row, with
    its texts: three times slower at 100,000 materials. The index holds every column
    the query reads, so forcing it is never worse.
    """
    if connection.vendor != "sqlite":
        return list(qs)
    sql, params = qs.query.sql_with_params()
    table = f'FROM "{Material._meta.db_table}" '
    if table not in sql:
        return list(qs)
    sql = sql.replace(table, f'{table}INDEXED BY "{FACET_INDEX}" ', 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def _facet_label(name: str, value: Any, schools: dict[int, str]) -> str:
    if name == "kind":
        return str(MaterialKind(value).label) if value in MaterialKind.values else str(value)
    if name == "level":
        return str(Level(value).label) if value in Level.values else str(value)
    if name == "licence":
        return str(Licence(value).label) if value in Licence.values else str(value)
    if name == "school":
        return schools.get(int(value), str(value))
    if name == "country":
        return str(countries.name(value)) or str(value)
    if name == "language":
        return content_language_name(str(value))
    return str(value)


#: Up to this many matches, counts, facets and relevance are exact; past it (a broad
#: search over a big library) see `material_search`. 1,000 rather than 2,000 halves
#: the work of every broad search (p95 at 100,000 materials: see docs/benchmarks.md).
FACET_SAMPLE = 1000


def material_search(
    *,
    user: AnyUser,
    query: str = "",
    filters: dict[str, str] | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = 20,
    with_facets: bool = True,
) -> SearchResult:
    """Search the materials `user` may see, with facets over the results.

    `filters` maps a facet name (kind, discipline, level, language, licence, school,
    country) to one value; unknown names are ignored. Withdrawn material never shows.
    Cost is bounded whatever the library's size: one query reads the ids, facet columns
    and relevance scores of at most FACET_SAMPLE + 1 matches, newest first (from the
    covering index, see the module docstring); ranking, facets and the page are worked
    out from those rows, and only the page's materials are then read whole. With more
    matches than that, `facets_sampled` is set, `total` is FACET_SAMPLE + 1 (a lower
    bound: the page says "more than 1,000"), facets count the newest FACET_SAMPLE,
    results come newest first, and a title sort orders those. Counting 50,000 matches
    exactly would cost more than the whole search otherwise does, and nobody pages
    through them.
    """
    filters = {k: str(v) for k, v in (filters or {}).items() if k in FACETS and v not in (None, "")}
    qs = material_visible_to(user).filter(withdrawn_at__isnull=True)
    for name, value in filters.items():
        if name == "school":
            if not value.isdigit():
                continue
            qs = qs.filter(institution_id=int(value))
        elif name == "country":
            qs = qs.filter(institution__country=value.upper())
        else:
            qs = qs.filter(**{FACETS[name]: value})
    qs, matched, score = _with_text(qs, query)
    per_page = max(1, min(int(per_page or 20), PER_PAGE_MAX))
    if sort != "relevance":
        score = None  # a score costs a ranking per row; only relevance needs it
    columns = ["id", *FACETS.values()] + ([score] if score else [])
    # One scan, newest first, that the database stops after FACET_SAMPLE + 1 rows: ids,
    # facet columns and (for a text search) the relevance score of just these rows.
    rows = _sample_rows(_newest_first(qs, matched=matched).values_list(*columns)[: FACET_SAMPLE + 1])
    sampled = len(rows) > FACET_SAMPLE
    total = min(len(rows), FACET_SAMPLE) + (1 if sampled else 0)
    pages = max(1, math.ceil(total / per_page))
    page = max(1, min(int(page or 1), pages))
    start = (page - 1) * per_page
    if sort == "title":
        sample_ids = [row[0] for row in rows[:FACET_SAMPLE]]
        ordered_ids = list(
            Material.objects.filter(id__in=sample_ids).order_by("title", "-id").values_list("id", flat=True)
        )
    elif sort == "relevance" and score and not sampled:
        # Exact ranking: every match is in `rows`. Highest score first, then newest.
        ordered_ids = [row[0] for row in sorted(rows, key=lambda row: (-(row[-1] or 0.0), -row[0]))]
    else:
        ordered_ids = [row[0] for row in rows]
    if start + per_page <= len(ordered_ids) or not sampled:
        page_ids = ordered_ids[start : start + per_page]
    else:  # past the sample of a broad search: newest first, straight from the database
        page_ids = list(_newest_first(qs, matched=matched).values_list("id", flat=True)[start : start + per_page])
    by_id = {m.pk: m for m in Material.objects.filter(pk__in=page_ids).select_related("institution", "contributed_by")}
    items = [by_id[pk] for pk in page_ids if pk in by_id]
    rows = rows[:FACET_SAMPLE]
    facets: dict[str, list[FacetValue]] = {}
    if with_facets and rows:
        names = list(FACETS)
        by_column = list(zip(*rows))
        counters = {name: Counter(by_column[index]) for index, name in enumerate(names, start=1)}
        for counter in counters.values():
            counter.pop(None, None)
            counter.pop("", None)
        school_ids = [int(v) for v in counters["school"]]
        schools = dict(Institution.objects.filter(pk__in=school_ids).values_list("pk", "name"))
        for name, counter in counters.items():
            facets[name] = [
                FacetValue(
                    value=str(value), label=_facet_label(name, value, schools), count=n,
                    selected=filters.get(name, "").upper() == str(value).upper(),
                )
                for value, n in counter.most_common(25)
            ]
    return SearchResult(
        items=items, total=total, page=page, pages=pages, per_page=per_page,
        query=query, filters=filters, facets=facets, facets_sampled=sampled, sample_size=FACET_SAMPLE,
    )


def search_index_repair(*, using: str = "default") -> None:
    """Re-create SQLite's FTS triggers if a table rebuild dropped them (idempotent).

    SQLite's schema editor rebuilds a table to alter it, which drops its triggers; this
    runs after every `migrate` (connected in `CoursesConfig.ready`).
    """
    from django.db import connections

    conn = connections[using]
    if conn.vendor != "sqlite":
        return
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name LIKE 'courses_material_fts_%'"
        )
        (count,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name='courses_material_fts'")
        (tables,) = cursor.fetchone()
        if count == 3 or not tables:
            return
        for statement in SQLITE_FTS:
            cursor.execute(statement)
    logger.warning("library search triggers were missing and have been re-created")
