"""The SQL of the library's full-text index, one index per database engine.

Why a plain module: migration 0002 creates the index from it, and the SQLite repair after
every `migrate` (`search.search_index_repair`, wired in `CoursesConfig.ready`) re-creates
the triggers a table rebuild dropped. Both read this module; nothing imports a migration
at run time.

PostgreSQL: a GIN index on the very expression `SearchVector("search_text",
config="simple")` compiles to, so `material_search` uses it. SQLite: an FTS5
external-content table over `courses_material.search_text`, kept in step by triggers
(so bulk inserts and raw updates stay indexed too).
"""

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

