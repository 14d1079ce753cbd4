"""The database itself refuses changes to audit entries (the app refuses them too).

PostgreSQL: a trigger rejects UPDATE and DELETE of rows (TRUNCATE, used by the test
framework's flush, is a table operation and stays possible for the owner).
SQLite: a trigger rejects UPDATE (DELETE stays possible so that the test framework can
flush tables; the application refuses deletes). An operator with owner rights can drop
these triggers; the hash chain (consults/audit.py) is what detects such tampering.
"""

from django.db import migrations

PG_CREATE = ["""
CREATE OR REPLACE FUNCTION live_auditentry_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$ LANGUAGE plpgsql
""", """
CREATE TRIGGER live_auditentry_append_only
    BEFORE UPDATE OR DELETE ON live_auditentry
    FOR EACH ROW EXECUTE FUNCTION live_auditentry_refuse_change()
"""]
PG_DROP = [
    "DROP TRIGGER IF EXISTS live_auditentry_append_only ON live_auditentry",
    "DROP FUNCTION IF EXISTS live_auditentry_refuse_change()",
]
SQLITE_CREATE = """
CREATE TRIGGER IF NOT EXISTS live_auditentry_append_only
BEFORE UPDATE ON live_auditentry
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS live_auditentry_append_only;"


def create_trigger(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in PG_CREATE:
            schema_editor.execute(statement, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE)


def drop_trigger(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in PG_DROP:
            schema_editor.execute(statement, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [("live", "0003_consults")]

    operations = [migrations.RunPython(create_trigger, drop_trigger, elidable=False)]
