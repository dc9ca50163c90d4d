"""A brand-new database is a copy of an empty one of this schema (`store/template.py`): the
copy holds what migrating the new file step by step gives, and where the temporary folder takes
no file, the new file is migrated as before."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from dbquery import rows, scalar
from pipeline.store import db as dbmod
from pipeline.store import schema

CATALOG = [
    "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
    "WHERE table_schema = 'main' ORDER BY ALL",
    "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' ORDER BY ALL",
    "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints() WHERE schema_name = 'main' "
    "ORDER BY ALL",
    "SELECT index_name, table_name, sql FROM duckdb_indexes() ORDER BY ALL",
    "SELECT * FROM properties ORDER BY ALL",
    "SELECT version, name FROM schema_version ORDER BY version",
]


def _new(path):
    with dbmod.writing(path) as con:
        con.execute("SELECT 1")
    return path


def _migrated(path):
    """A new file migrated step by step, as every new file was before the template."""
    con = duckdb.connect(str(path), config={"storage_compatibility_version": dbmod.STORAGE_VERSION})
    schema.migrate(con)
    con.close()
    return path


def _count_migrations(monkeypatch) -> list:
    calls = []
    real = schema.migrate
    monkeypatch.setattr(schema, "migrate", lambda con: calls.append(1) or real(con))
    return calls


def test_a_new_database_holds_what_migrating_it_gives(tmp_path, monkeypatch):
    _new(tmp_path / "first.duckdb")  # the empty database is built (once per schema), if it was not yet
    calls = _count_migrations(monkeypatch)
    made = _new(tmp_path / "made.duckdb")
    assert calls == []  # copied, not migrated
    assert list(Path(tempfile.gettempdir()).glob("prefdissect-empty-*.duckdb"))  # the empty one, kept for the next
    assert not list(Path(tempfile.gettempdir()).glob("prefdissect-empty-*.part"))
    expected = _migrated(tmp_path / "migrated.duckdb")
    for sql in CATALOG:
        assert rows(made, sql) == rows(expected, sql), sql
    # the steps are applied to this file now, not when the empty one was built
    assert scalar(made, "SELECT min(applied_at) > now()::TIMESTAMP - INTERVAL 1 MINUTE FROM schema_version")
    assert dbmod.storage_version(duckdb.connect(str(made), read_only=True)) == \
        dbmod.storage_version(duckdb.connect(str(expected), read_only=True))


def test_a_temporary_folder_that_takes_no_file_means_migrating_as_before(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the temporary folder should be")
    monkeypatch.setattr(tempfile, "tempdir", str(blocked))
    calls = _count_migrations(monkeypatch)
    made = _new(tmp_path / "made.duckdb")
    assert calls == [1]  # no empty database could be built there: the new file was migrated
    expected = _migrated(tmp_path / "migrated.duckdb")
    for sql in CATALOG:
        assert rows(made, sql) == rows(expected, sql), sql
    assert blocked.read_text().startswith("a file")  # nothing was written where no folder is
