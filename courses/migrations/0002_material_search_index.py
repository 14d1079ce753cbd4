"""Full-text index of the library, one per database engine.

PostgreSQL: a GIN index on the very expression `SearchVector("search_text",
config="simple")` compiles to, so `material_search` uses it. SQLite: an FTS5
external-content table over `courses_material.search_text`, kept in step by triggers
(so bulk inserts and raw updates stay indexed too). Other engines get no index and
`courses.library.search` falls back to a LIKE scan.
"""

from django.db import migrations

from courses.library.search_sql import (  # the one copy of the SQL
    PG_INDEX,
    SQLITE_DROP,
    SQLITE_FTS,
)


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
