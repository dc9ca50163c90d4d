"""The read-only SQL runner: what it refuses, and that DuckDB itself refuses the rest."""

from __future__ import annotations

import time

import duckdb
import pytest

from pipeline import db as dbmod
from pipeline import sqlguard
from pipeline.sqlguard import QueryFailed, QueryRefused, QueryTimeout, run_query


@pytest.fixture(scope="module")
def db(empty_db_with_rows):
    return empty_db_with_rows


@pytest.fixture(scope="module")
def empty_db_with_rows(tmp_path_factory):
    """A small database: the schema plus a few rows (fast to build, enough to query)."""
    path = tmp_path_factory.mktemp("sqlguard") / "guard.duckdb"
    with dbmod.writing(path) as con:
        con.execute("INSERT INTO judges (judge, kind) VALUES ('human', 'human'), ('gpt-4-turbo', 'llm')")
    return path


def test_select_runs(db):
    r = run_query(db, "SELECT judge, kind FROM judges ORDER BY judge")
    assert list(r.frame["judge"]) == ["gpt-4-turbo", "human"]
    assert not r.truncated and r.kind == "SELECT"


@pytest.mark.parametrize("sql", [
    "WITH j AS (SELECT * FROM judges) SELECT count(*) FROM j",
    "FROM judges",
    "DESCRIBE pairs",
    "SHOW TABLES",
    "SUMMARIZE judges",
    "PRAGMA table_info('pairs')",
    "EXPLAIN SELECT * FROM judges",
    "SELECT 1;",
    "-- a comment\nSELECT 1",
])
def test_read_only_statements_allowed(db, sql):
    assert run_query(db, sql).n_rows >= 1


@pytest.mark.parametrize("sql, says", [
    ("DROP TABLE pairs", "DROP"),
    ("drop view judge_agreement", "DROP"),
    ("INSERT INTO judges (judge) VALUES ('x')", "INSERT"),
    ("UPDATE judges SET kind = 'x'", "UPDATE"),
    ("DELETE FROM judges", "DELETE"),
    ("CREATE TABLE t AS SELECT 1", "CREATE"),
    ("CREATE TEMP TABLE t AS SELECT 1", "CREATE"),
    ("ALTER TABLE judges ADD COLUMN z INT", "ALTER"),
    ("COPY judges TO '/tmp/leak.csv'", "COPY"),
    ("COPY judges FROM '/etc/passwd'", "COPY"),
    ("EXPORT DATABASE '/tmp/leak'", "EXPORT"),
    ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
    ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "LOAD"),
    ("SET enable_external_access = true", "SET"),
    ("SET threads = 64", "SET"),
    ("PRAGMA threads = 4", "PRAGMA"),
    ("CHECKPOINT", "CHECKPOINT"),
    ("EXPLAIN DELETE FROM judges", "EXPLAIN"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", "read_csv_auto"),
    ("SELECT * FROM read_text('/etc/passwd')", "read_text"),
    ("SELECT * FROM read_parquet('/tmp/x.parquet')", "read_parquet"),
    ("SELECT * FROM glob('/etc/*')", "glob"),
    ("SELECT * FROM '/etc/passwd'", "FROM"),
    ("SELECT 1; DROP TABLE pairs", "2 statements"),
    ("SELECT 1; SELECT 2", "2 statements"),
    ("", "Nothing to run"),
])
def test_refused_with_a_clear_message(db, sql, says):
    with pytest.raises(QueryRefused) as exc:
        run_query(db, sql)
    message = str(exc.value)
    assert says in message
    assert "read-only" in message or "Nothing to run" in message


def test_database_unchanged_after_refusals(db):
    for sql in ("DROP TABLE judges", "DELETE FROM judges", "INSERT INTO judges (judge) VALUES ('x')"):
        with pytest.raises(QueryRefused):
            run_query(db, sql)
    assert run_query(db, "SELECT count(*) AS n FROM judges").frame["n"][0] == 2


def test_connection_refuses_files_and_writes_even_past_the_check(db):
    """Defence in depth: the guarded connection itself has external access off and is read-only."""
    con = sqlguard.connect_guarded(db)
    try:
        for sql in ("SELECT * FROM read_csv('/etc/passwd')", "COPY judges TO '/tmp/x.csv'",
                    "ATTACH '/tmp/other.duckdb' AS o", "LOAD httpfs"):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql)
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("DELETE FROM judges")
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()


def test_permission_error_maps_to_refusal(db, monkeypatch):
    """A file access that slipped past the check still comes back as a clear refusal."""
    monkeypatch.setattr(sqlguard, "_check_file_access", lambda sql: None)
    with pytest.raises(QueryRefused, match="external access is off"):
        run_query(db, "SELECT * FROM read_csv('/etc/passwd')")


def test_row_limit(db):
    r = run_query(db, "SELECT * FROM range(25000)", max_rows=1000)
    assert r.n_rows == 1000 and r.truncated
    assert any("first 1,000 rows" in n for n in r.notes)
    r = run_query(db, "SELECT * FROM range(10)", max_rows=10)
    assert r.n_rows == 10 and not r.truncated


def test_time_limit(db):
    t0 = time.perf_counter()
    with pytest.raises(QueryTimeout, match="limit"):
        run_query(db, "SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.range * b.range % 7 = 3",
                  timeout_s=0.5)
    assert time.perf_counter() - t0 < 10


def test_errors_are_reported_not_raised_raw(db):
    with pytest.raises(QueryFailed, match="nonexistent"):
        run_query(db, "SELECT nonexistent FROM judges")


def test_missing_database(tmp_path):
    with pytest.raises(dbmod.DatabaseMissing):
        run_query(tmp_path / "none.duckdb", "SELECT 1")


def test_schema_lists_tables_and_views(db):
    schema = sqlguard.describe_schema(db)
    kinds = dict(zip(schema["name"], schema["kind"]))
    assert kinds["pairs"] == "table" and kinds["judge_agreement"] == "view"
    assert {"pair_id", "query"} <= set(schema.loc[schema["name"] == "pairs", "column"])


def test_guarded_connection_coexists_with_app_reads(db):
    """The app's ordinary read-only connection and the guarded one can be open at once."""
    with dbmod.reading(db) as con:
        r = run_query(db, "SELECT count(*) AS n FROM judges")
        assert con.execute("SELECT count(*) FROM judges").fetchone()[0] == r.frame["n"][0]


def test_examples_run(db):
    for name, sql in sqlguard.EXAMPLES.items():
        run_query(db, sql)  # no refusal, no error, on an almost empty database
