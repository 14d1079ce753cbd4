"""Full-text index of the library, one per database engine.

PostgreSQL: a GIN index on the very expression `SearchVector("search_text",
config="simple")` compiles to, so `material_search` uses it. SQLite: an FTS5
external-content table over `courses_material.search_text`, kept in step by triggers
(so bulk inserts and raw updates stay indexed too). Other engines get no index and
`courses.library.search` falls back to a LIKE scan.
"""

from django.db import migrations

PG_INDEX = (
    "CREATE INDEX IF NOT EXISTS courses_material_search_gin ON courses_material "
    "USING gin (to_tsvector('simple'::regconfig, COALESCE(search_text, '')))"
)

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS courses_material_fts USING fts5("
    "search_text, content='courses_material', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS courses_material_fts_ai AFTER INSERT ON courses_material BEGIN "
    "INSERT INTO courses_material_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS courses_material_fts_ad AFTER DELETE ON courses_material BEGIN "
    "INSERT INTO courses_material_fts(courses_material_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS courses_material_fts_au AFTER UPDATE OF search_text ON courses_material BEGIN "
    "INSERT INTO courses_material_fts(courses_material_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO courses_material_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO courses_material_fts(courses_material_fts) VALUES ('rebuild')",
]

SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS courses_material_fts_ai",
    "DROP TRIGGER IF EXISTS courses_material_fts_ad",
    "DROP TRIGGER IF EXISTS courses_material_fts_au",
    "DROP TABLE IF EXISTS courses_material_fts",
]


def create_index(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_INDEX)
    elif vendor == "sqlite":
        for statement in SQLITE_FTS:
            schema_editor.execute(statement)


def drop_index(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS courses_material_search_gin")
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [("courses", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
