"""Full-text search with facets over only what the person may see (SQLite FTS5 / PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection

from courses.library.search import material_search, material_text_filter, search_terms
from courses.library.selectors import material_visible_to
from courses.library.services import material_create, material_update
from courses.models import Material

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelf(people):
    """A few materials of three schools and three scopes."""
    make = lambda user, title, **kw: material_create(user=user, kind="link", url="https://example.org", title=title, **kw)  # noqa: E731
    return {
        "tb": make(people.hoffmann, "Tuberculosis treatment in practice", scope="partners", discipline="Infectious diseases",
                   topics=["tuberculosis", "DOTS"], level="clinical", language="de", licence="cc-by"),
        "ecg": make(people.tanaka, "Reading the ECG", scope="public", discipline="Cardiology", topics=["arrhythmia"],
                    level="preclinical", language="ja", licence="cc-by-sa"),
        "hf": make(people.tanaka, "Heart failure ward round", scope="partners", discipline="Cardiology",
                   description="Diuretics and tuberculosis pericarditis", language="en", licence="arr"),
        "secret": make(people.hoffmann, "Heidelberg tuberculosis exam answers", scope="school", discipline="Infectious diseases"),
    }


def titles(result) -> list[str]:
    return [m.title for m in result.items]


def test_search_finds_words_in_title_description_and_topics(people, shelf):
    found = set(titles(material_search(user=people.amina, query="tuberculosis")))
    assert found == {"Tuberculosis treatment in practice", "Heart failure ward round"}


def test_search_never_shows_what_the_user_may_not_see(people, shelf):
    assert titles(material_search(user=people.awa, query="tuberculosis")) == []  # Dakar: no active partner
    assert set(titles(material_search(user=people.awa, query=""))) == {"Reading the ECG"}
    assert "Heidelberg tuberculosis exam answers" in titles(material_search(user=people.lukas, query="tuberculosis"))


def test_last_word_is_a_prefix(people, shelf):
    assert titles(material_search(user=people.amina, query="arrhyth")) == ["Reading the ECG"]


def test_case_text_is_searchable(people):
    material_create(
        user=people.mensah, kind="case", title="A farmer with fever", scope="public",
        case={"history": "Jaundice after flooding.", "question": "Leptospirosis or malaria?"},
    )
    assert titles(material_search(user=people.awa, query="leptospirosis")) == ["A farmer with fever"]


def test_facets_count_the_visible_results_and_filter(people, shelf):
    result = material_search(user=people.amina, query="")
    kinds = {v.value: v.count for v in result.facets["kind"]}
    assert kinds == {"link": 3}
    disciplines = {v.label: v.count for v in result.facets["discipline"]}
    assert disciplines == {"Cardiology": 2, "Infectious diseases": 1}
    countries = {v.value: v.count for v in result.facets["country"]}
    assert countries == {"JP": 2, "DE": 1}
    schools = {v.label for v in result.facets["school"]}
    assert any("Heidelberg" in name for name in schools)
    filtered = material_search(user=people.amina, query="", filters={"discipline": "Cardiology", "language": "ja"})
    assert titles(filtered) == ["Reading the ECG"]
    assert [v.selected for v in filtered.facets["language"]] == [True]
    by_country = material_search(user=people.amina, filters={"country": "de"})
    assert titles(by_country) == ["Tuberculosis treatment in practice"]
    licences = {v.label for v in result.facets["licence"]}
    assert "CC BY 4.0" in licences


def test_search_input_cannot_inject_query_syntax(people, shelf):
    for nasty in ['"', "tuber*", "NEAR(", "a OR b) --", "'; DROP TABLE x; --", "!:*&|"]:
        material_search(user=people.amina, query=nasty)  # no error
    assert search_terms('tuber" OR "x') == ["tuber", "or", "x"]


def test_edits_are_found_by_their_new_words(people, shelf):
    material_update(user=people.tanaka, material=shelf["ecg"], title="Reading the electrocardiogram")
    assert titles(material_search(user=people.amina, query="electrocardiogram")) == ["Reading the electrocardiogram"]
    assert titles(material_search(user=people.amina, query="ECG")) == []


def test_paging_and_sorting(people, shelf):
    result = material_search(user=people.lukas, query="", sort="title", per_page=2, page=2)
    assert result.total == 3 and result.pages == 2  # Heidelberg and Tokyo are not partners
    assert titles(result) == ["Tuberculosis treatment in practice"]
    first = material_search(user=people.lukas, query="", sort="title", per_page=2, page=1)
    assert titles(first) == ["Heidelberg tuberculosis exam answers", "Reading the ECG"]


def test_search_runs_on_the_engines_full_text_index(people, shelf):
    qs, ranked = material_text_filter(material_visible_to(people.lukas), "tuberculosis")
    sql = str(qs.query)
    assert ranked
    if connection.vendor == "sqlite":
        assert "courses_material_fts MATCH" in sql
    else:
        assert connection.vendor == "postgresql"
        assert "search_vector @@" in sql and "to_tsvector" not in sql, "the stored vector, not one computed per row"
        _assert_gin_index_serves_the_match()


def _assert_gin_index_serves_the_match() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM courses_material WHERE search_vector @@ to_tsquery('simple', 'tuberculosis')"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_indexscan")
    assert "courses_material_search_vector_gin" in plan


@pytest.mark.realservices
def test_search_on_postgresql_uses_the_stored_vector_and_its_gin_index(people, shelf):
    """Pass 2 of the test command runs the whole file on PostgreSQL; this one insists."""
    from tests.conftest import need_component

    need_component("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT is_generated, generation_expression FROM information_schema.columns "
            "WHERE table_name = 'courses_material' AND column_name = 'search_vector'"
        )
        generated, expression = cursor.fetchone()
    assert generated == "ALWAYS" and "to_tsvector" in expression
    _assert_gin_index_serves_the_match()
    material_update(user=people.tanaka, material=shelf["ecg"], title="Reading the electrocardiogram")
    assert titles(material_search(user=people.amina, query="electrocardio")) == ["Reading the electrocardiogram"]


def test_search_reads_the_narrow_covering_index(people, shelf):
    """The sample scan reads ids, visibility and facet columns from material_facet_scan."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        material_search(user=people.amina, query="tuberculosis")
    if connection.vendor == "sqlite":
        assert any('INDEXED BY "material_facet_scan"' in q["sql"] for q in queries.captured_queries)
    indexes = {i.name for i in Material._meta.indexes}
    assert "material_facet_scan" in indexes


def test_relevance_puts_the_title_match_first(people, shelf):
    make = lambda title, description: material_create(  # noqa: E731
        user=people.tanaka, kind="link", url="https://example.org", title=title, description=description, scope="public",
    )
    make("Ward round notes", "Malaria mentioned once among many other words about fever and rash and cough.")
    make("Malaria malaria: severe malaria", "Malaria in children: artesunate for severe malaria.")
    result = material_search(user=people.awa, query="malaria")
    assert titles(result)[0] == "Malaria malaria: severe malaria"
    assert titles(material_search(user=people.awa, query="malaria", sort="recent"))[0] == "Malaria malaria: severe malaria"
    assert titles(material_search(user=people.awa, query="malaria", sort="title")) == [
        "Malaria malaria: severe malaria", "Ward round notes"]


def test_broad_searches_stay_bounded_and_say_so(people, shelf, monkeypatch):
    monkeypatch.setattr("courses.library.search.FACET_SAMPLE", 1)
    result = material_search(user=people.lukas, query="")
    assert result.facets_sampled and result.total == 2  # "more than 1"
    assert sum(v.count for v in result.facets["kind"]) == 1  # counted among the newest one
    assert titles(result) == [  # newest first
        "Heidelberg tuberculosis exam answers", "Reading the ECG", "Tuberculosis treatment in practice",
    ]
    narrow = material_search(user=people.lukas, query="ECG")
    assert not narrow.facets_sampled and titles(narrow) == ["Reading the ECG"]
