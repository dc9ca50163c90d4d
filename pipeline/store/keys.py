"""The key of every table, kept by the code (`upsert`), and checked by `duplicate_keys`.

No table enforces a key: a DuckLake table cannot, and since schema step 6 the DuckDB file's
tables do not either (one schema for both backends; see m0006_keys_in_code.py). The keys are
the ones steps 1-5 declared: they are read from the schema built up to step 5 in a scratch
in-memory DuckDB, and the columns from the whole schema, so neither drifts from the steps.
"""

from __future__ import annotations

from functools import lru_cache

import duckdb

from . import schema
from .schema.m0006_keys_in_code import column_ddl

# the columns of the tables (not views) of the connection's current database and schema
_COLUMNS = ("SELECT t.table_name, c.column_name "
            "FROM duckdb_tables() t JOIN duckdb_columns() c USING (table_oid) "
            "WHERE t.database_name = current_database() AND t.schema_name = current_schema() "
            "ORDER BY t.table_oid, c.column_index")


KEYED_UNTIL = 5   # the last schema step whose tables declared their keys in SQL
_VERSION_KEY = ("version",)  # schema_version's, made by schema.migrate itself
# The keys of tables made since step 6, which declares none in SQL
LATER_KEYS = {"response_counts": [("pair_id", "side")]}  # step 7


@lru_cache(maxsize=1)
def _scratch() -> tuple[dict[str, list[tuple[str, ...]]], list[str]]:
    """(keys, CREATE TABLE statements) of every table of the migrated schema, in creation order."""
    con = duckdb.connect(":memory:")
    try:
        schema.migrate(con)
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = "
                                            "current_database() AND schema_name = 'main' ORDER BY table_oid").fetchall()]
        ddl = [f"CREATE TABLE {_quote(t)} ({column_ddl(con, t)})" for t in tables]
    finally:
        con.close()
    keys: dict[str, list[tuple[str, ...]]] = {t: [] for t in tables}
    for table, key in _declared_keys():
        if table in keys and key not in keys[table]:
            keys[table].append(key)
    keys["schema_version"] = [_VERSION_KEY]
    for table, later in LATER_KEYS.items():
        keys[table] = list(later)
    return keys, ddl


def _declared_keys() -> list[tuple[str, tuple[str, ...]]]:
    """(table, key) of the schema as steps 1-5 left it, primary keys first."""
    con = duckdb.connect(":memory:")
    try:
        for step in schema.steps():
            if step.version <= KEYED_UNTIL:
                step.apply(con)
        return [(table, tuple(cols)) for table, cols in con.execute(
                "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                "WHERE database_name = current_database() AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') "
                "ORDER BY table_oid, constraint_type = 'UNIQUE', constraint_index").fetchall()]
    finally:
        con.close()


def table_keys() -> dict[str, list[tuple[str, ...]]]:
    """Table -> its keys (the primary key first, then each UNIQUE); a table without any maps to []."""
    return {t: list(k) for t, k in _scratch()[0].items()}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def keyless_ddl() -> list[str]:
    """CREATE TABLE for every table of the schema with its columns, types, defaults and NOT NULLs
    (since step 6 it declares nothing more): the schema of a new DuckLake."""
    return list(_scratch()[1])


def _present(con) -> dict[str, set[str]]:
    """Table -> its columns, of the tables in the connection's current database and schema."""
    found: dict[str, set[str]] = {}
    for table, column in con.execute(_COLUMNS).fetchall():
        found.setdefault(table, set()).add(column)
    return found


def duplicate_keys(con) -> list[str]:
    """One line per table and key whose values repeat in the connection's current database
    (empty when every key is unique). Tables or key columns it lacks are skipped; a key
    with a NULL in it repeats nothing, as with UNIQUE."""
    present = _present(con)
    out = []
    for table, keys in table_keys().items():
        for key in keys:
            if table not in present or not set(key) <= present[table]:
                continue
            cols = ", ".join(_quote(k) for k in key)
            not_null = " AND ".join(f"{_quote(k)} IS NOT NULL" for k in key)
            n, rows, example = con.execute(
                f"SELECT count(*), sum(n), arg_max(k, n) FROM (SELECT ({cols}) AS k, count(*) AS n "
                f"FROM {_quote(table)} WHERE {not_null} GROUP BY ALL HAVING count(*) > 1)").fetchone()
            if n:
                out.append(f"{table}: {n} value(s) of ({', '.join(key)}) appear more than once ({rows} rows), "
                           f"e.g. {_shown(example)}")
    return out


def _shown(value) -> str:
    """A key value as a reader writes it: (1, 'judge_a'), or 'judge_a' for a one-column key."""
    if isinstance(value, dict):
        parts = [repr(v) for v in value.values()]
        return parts[0] if len(parts) == 1 else f"({', '.join(parts)})"
    return repr(value)


__all__ = ["duplicate_keys", "keyless_ddl", "table_keys"]
