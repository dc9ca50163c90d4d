"""Property-based: hostile SQL never writes, never reads a file, never raises but the typed refusal.

Statements are assembled from pieces that attacked the SQL page (file functions, COPY,
ATTACH, settings, comments that hide a second statement, path-revealing catalog
functions, unknown statement kinds) and from random text. `check_sql` and
`check_condition` may only accept or raise QueryRefused / QueryFailed; whatever they
accept is then run on the guarded connection: the database file stays byte-identical,
no canary file appears, and the secret file's content never comes back.
"""

from __future__ import annotations

import threading
import uuid

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import CASES, FAST
from pipeline.store import db as dbmod
from pipeline import sqlguard
from pipeline.sqlguard import ConditionRefused, QueryFailed, QueryRefused

SECRET = f"secret-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-sql")
    db = folder / "g.duckdb"
    with dbmod.writing(db) as con:
        con.execute("INSERT INTO judges (judge, kind) VALUES ('human', 'human')")
    secret = folder / "secret.csv"
    secret.write_text(f"x\n{SECRET}\n")
    return db, secret, folder / "canary"


def pieces(secret: str, canary: str) -> st.SearchStrategy[str]:
    file_refs = [f"read_csv('{secret}')", f"read_text('{secret}')", f"'{secret}'", f"glob('{secret}')",
                 f"read_blob('{secret}')", f"sniff_csv('{secret}')", f"read_parquet('{secret}')",
                 f"query('SELECT * FROM read_csv(''{secret}'')')", f"\"read_csv\"('{secret}')",
                 "duckdb_settings()", "duckdb_databases()", "duckdb_extensions()", "pragma_database_list()",
                 "duckdb_temporary_files()", "judges", "range(3)", "duckdb_tables()"]
    heads = ["SELECT * FROM", "FROM", "SELECT count(*) FROM", "DESCRIBE SELECT * FROM", "SUMMARIZE SELECT * FROM",
             "EXPLAIN SELECT * FROM", "WITH t AS (SELECT 1) SELECT * FROM", "SELECT * FROM judges, "]
    writers = [f"COPY judges TO '{canary}'", f"COPY (SELECT 1) TO '{canary}' (FORMAT csv)",
               f"EXPORT DATABASE '{canary}'", f"ATTACH '{canary}' AS c", "INSTALL httpfs", "LOAD httpfs",
               "SET enable_external_access = true", "PRAGMA enable_profiling", "UPDATE EXTENSIONS",
               "CREATE TABLE x AS SELECT 1", "DROP TABLE judges", "DELETE FROM judges", "CHECKPOINT",
               "PRAGMA database_list", "CALL checkpoint()", f"SET temp_directory = '{canary}'",
               "SELECT current_setting('temp_directory')", "SELECT getenv('HOME')", "DETACH memory",
               "PREPARE p AS SELECT 1", "BEGIN TRANSACTION", "VACUUM", "PIVOT judges ON kind"]
    joiners = [" ", "; ", "\n-- ", " /* ", " */ ", "\n", ";\n"]
    read = st.builds(lambda h, f, tail: f"{h} {f}{tail}", st.sampled_from(heads), st.sampled_from(file_refs),
                     st.sampled_from(["", " LIMIT 1", ";", " -- x", " WHERE 1=1"]))
    write = st.sampled_from(writers)
    junk = st.text(alphabet=st.sampled_from(list("SELECT FROM();'\"*-/\n,1=x")), max_size=40)
    one = st.one_of(read, write, junk)
    return st.builds(lambda a, j, b: a + j + b, one, st.sampled_from(joiners), one) | one


@FAST
@given(data=st.data())
def test_hostile_statements_are_refused_or_harmless(data, guarded):
    db, secret, canary = guarded
    sql = data.draw(pieces(str(secret), str(canary)))
    CASES["sql: statements"] += 1
    before = db.read_bytes()
    try:
        checked = sqlguard.check_sql(sql)
    except (QueryRefused, QueryFailed) as exc:
        assert "\n" not in str(exc).split("DuckDB said:")[0]
        return
    CASES["sql: accepted and run"] += 1
    con = sqlguard.connect_guarded(db)
    timer = threading.Timer(5, con.interrupt)
    timer.start()
    try:
        rows = con.execute(checked.text).fetchall()
    except duckdb.Error:
        rows = []
    finally:
        timer.cancel()
        con.close()
    assert SECRET not in repr(rows)
    assert str(db.parent) not in repr(rows)          # no server path comes back
    assert not canary.exists()
    assert db.read_bytes() == before


@FAST
@given(cond=st.one_of(
    st.text(max_size=60),
    st.builds(lambda a, b: a + b, st.sampled_from(["kind = 'human'", "1=1", "judge IN (SELECT judge FROM judges)",
                                                   "x = '", "(", ")", "--", "/*"]),
              st.sampled_from(["", ") UNION SELECT * FROM judges WHERE (1=1", "; DROP TABLE judges",
                               " OR read_csv('/etc/passwd') IS NULL", ") OR (1=1", " -- )", " /* ",
                               " AND EXISTS (FROM glob('/*'))", " AND current_setting('home_directory') > ''",
                               " ORDER BY 1", ")) OR ((1=1"]))))
def test_conditions_are_one_expression_or_refused(cond, guarded):
    db, _, _ = guarded
    CASES["sql: conditions"] += 1
    try:
        checked = sqlguard.check_condition(cond, table="judges")
    except ConditionRefused as exc:
        assert "\n" not in str(exc)
        return
    # what is accepted embeds as one WHERE: the statement around it is still one read-only SELECT
    statement = f"SELECT * FROM judges WHERE ({checked}) AND kind IS NOT NULL"
    assert sqlguard.check_sql(statement).kind == "SELECT"
    assert len(duckdb.extract_statements(statement)) == 1


def test_zz_report_cases():
    print("\nfuzz cases:", dict(CASES))
