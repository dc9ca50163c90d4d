"""The SQL bounds decide from an allowlist what a query may read (issue 20, class 6).

Before: `FROM duckdb_databases` (no parentheses), `SELECT * FROM pragma_database_list`,
`pg_settings` and a group condition `EXISTS (SELECT 1 FROM duckdb_databases WHERE path LIKE
'/tmp/%')` were accepted and showed (or let one probe) the database's path. Now every
spelling of a catalog table outside the allowlist is refused, on the SQL page and in
conditions, and every table and view of the project stays queryable.
"""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.sqlguard import ConditionRefused, QueryRefused, check_condition, check_sql, run_query
from pipeline.sqlguard.allowlist import CATALOG_VIEWS, project_relations

# DuckDB's own relations that show paths, settings, secrets or files (each resolves in a bare DuckDB).
LEAKY = ["duckdb_databases", "pragma_database_list", "pg_settings", "duckdb_settings", "duckdb_secrets",
         "duckdb_temporary_files", "duckdb_extensions", "pg_database", "duckdb_memory"]
SCHEMAS = {"duckdb_databases": ["system.main.", "main."], "pragma_database_list": ["system.main.", "main."],
           "pg_settings": ["pg_catalog.", "system.pg_catalog."], "pg_database": ["pg_catalog."]}

ISSUE_EXAMPLES = ["SELECT * FROM pragma_database_list", "FROM duckdb_databases",
                  "SELECT name, setting FROM pg_settings WHERE setting LIKE '%/%'"]


@pytest.mark.parametrize("sql", ISSUE_EXAMPLES)
def test_the_issue_examples_leak_in_a_bare_duckdb_and_are_refused(sql, tmp_path):
    con = duckdb.connect(str(tmp_path / "where.duckdb"))
    leaked = " ".join(str(v) for row in con.execute(sql).fetchall() for v in row)
    con.close()
    assert str(tmp_path) in leaked          # the leak is real ...
    with pytest.raises(QueryRefused):        # ... and refused
        check_sql(sql)


def test_a_condition_cannot_probe_the_path():
    with pytest.raises(ConditionRefused, match="duckdb_databases"):
        check_condition("EXISTS (SELECT 1 FROM duckdb_databases WHERE path LIKE '/tmp/%')")


def _case(name: str, flips: list[bool]) -> str:
    return "".join(c.upper() if f else c for c, f in zip(name, flips + [False] * len(name)))


@st.composite
def spellings(draw) -> str:
    """One catalog relation, spelled with random case, quoting and schema prefix."""
    name = draw(st.sampled_from(LEAKY))
    name = _case(name, draw(st.lists(st.booleans(), max_size=len(name))))
    if draw(st.booleans()):
        name = f'"{name}"'
    prefix = draw(st.sampled_from([""] + SCHEMAS.get(name.strip('"').lower(), ["main.", "system.main."])))
    if draw(st.booleans()) and prefix:
        prefix = ".".join(f'"{p}"' for p in prefix.rstrip(".").split(".")) + "."
    return prefix + name


QUERIES = ["SELECT * FROM {t}", "FROM {t}", "SELECT * FROM {t} AS judges", "SELECT * FROM (SELECT * FROM {t}) s",
           "SELECT (SELECT count(*) FROM {t})", "SELECT * FROM pairs WHERE EXISTS (SELECT 1 FROM {t})",
           "WITH c AS (SELECT * FROM {t}) SELECT * FROM c", "WITH pairs AS (SELECT * FROM {t}) FROM pairs",
           "SELECT * FROM pairs JOIN {t} ON true", "SELECT 1 UNION ALL SELECT count(*) FROM {t}",
           "SUMMARIZE {t}", "SUMMARIZE SELECT * FROM {t}", "EXPLAIN SELECT * FROM {t}",
           "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r, {t} WHERE n < 2) FROM r",
           "SELECT * FROM pairs WHERE pair_id IN (SELECT 1 FROM {t} x WHERE x.path LIKE '/%')"]
CONDITIONS = ["EXISTS (SELECT 1 FROM {t})", "pair_id IN (SELECT 1 FROM {t})",
              "(SELECT count(*) FROM {t}) > 0", "pair_id < 50 OR EXISTS (SELECT * FROM (SELECT * FROM {t}))",
              "EXISTS (WITH c AS (FROM {t}) FROM c)"]
SHADOWS = ["WITH {n} AS (SELECT 1) SELECT * FROM {t}", "SELECT * FROM (WITH {n} AS (SELECT 1) FROM {n}), {t}"]

settings.register_profile("allowlist", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


@settings(settings.get_profile("allowlist"))
@given(t=spellings(), query=st.sampled_from(QUERIES))
def test_every_spelling_of_catalog_access_is_refused_by_the_sql_page(t, query):
    with pytest.raises(QueryRefused):
        check_sql(query.format(t=t))


@settings(settings.get_profile("allowlist"))
@given(t=spellings(), cond=st.sampled_from(CONDITIONS))
def test_every_spelling_of_catalog_access_is_refused_in_a_condition(t, cond):
    with pytest.raises(ConditionRefused):
        check_condition(cond.format(t=t))


@settings(settings.get_profile("allowlist"))
@given(t=spellings(), query=st.sampled_from(SHADOWS))
def test_a_cte_cannot_shadow_a_catalog_name(t, query):
    with pytest.raises(QueryRefused):
        check_sql(query.format(t=t, n=t.rsplit(".", 1)[-1]))


def test_every_project_relation_stays_queryable():
    names = project_relations()
    assert {"pairs", "labels", "fits", "judge_similarity", "model_win_rates", "llm_calls"} <= names
    for name in sorted(names):
        assert check_sql(f"SELECT * FROM {name}").kind == "SELECT"
        assert check_sql(f'SELECT * FROM main."{name.upper()}" LIMIT 1').kind == "SELECT"
        check_condition(f"pair_id IN (SELECT 1 FROM {name})")
    for name in sorted(CATALOG_VIEWS):
        check_sql(f"SELECT * FROM {name}")
    for sql in ("SELECT * FROM information_schema.tables", "SELECT * FROM information_schema.columns",
                "WITH c AS (SELECT * FROM pairs) SELECT * FROM c", "SELECT * FROM duckdb_tables()"):
        check_sql(sql)


def test_the_views_run_on_a_real_database(empty_db):
    """Each view of sql/ runs through run_query on a database with the schema."""
    views = duckdb.connect(str(empty_db), read_only=True)
    names = [r[0] for r in views.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    views.close()
    assert names
    result = run_query(empty_db, " UNION ALL ".join(f"SELECT '{n}' AS v, count(*) AS n FROM {n}" for n in names))
    assert sorted(result.frame["v"]) == sorted(names)
