"""The key of every table, read from the single-file schema, for stores that cannot enforce it.

The DuckDB file's tables carry PRIMARY KEY and UNIQUE constraints (schema/m0*.sql); a
DuckLake table carries none, so there the code keeps the keys (`upsert`) and `duplicate_keys`
checks that it did. The schema is built once, in a scratch in-memory DuckDB, so the keys and
columns here never drift from the migration steps.
"""

from __future__ import annotations

from functools import lru_cache

import duckdb

from . import schema

# the columns of the tables (not views) of the connection's current database and schema
_COLUMNS = ("SELECT t.table_name, c.column_name, c.data_type, c.column_default, c.is_nullable "
            "FROM duckdb_tables() t JOIN duckdb_columns() c USING (table_oid) "
            "WHERE t.database_name = current_database() AND t.schema_name = current_schema() "
            "ORDER BY t.table_oid, c.column_index")


@lru_cache(maxsize=1)
def _scratch() -> tuple[dict[str, list[tuple[str, ...]]], dict[str, list[tuple]]]:
    """(keys, columns) of every table of the migrated schema, in creation and column order."""
    con = duckdb.connect(":memory:")
    try:
        schema.migrate(con)
        columns: dict[str, list[tuple]] = {}
        for table, *col in con.execute(_COLUMNS).fetchall():
            columns.setdefault(table, []).append(tuple(col))
        keys: dict[str, list[tuple[str, ...]]] = {t: [] for t in columns}
        for table, cols in con.execute(
                "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                "WHERE database_name = current_database() AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') "
                "ORDER BY table_oid, constraint_type = 'UNIQUE', constraint_index").fetchall():
            if tuple(cols) not in keys[table]:
                keys[table].append(tuple(cols))
    finally:
        con.close()
    return keys, columns


def table_keys() -> dict[str, list[tuple[str, ...]]]:
    """Table -> its keys (the primary key first, then each UNIQUE); a table without any maps to []."""
    return {t: list(k) for t, k in _scratch()[0].items()}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def keyless_ddl() -> list[str]:
    """CREATE TABLE for every table of the schema with its columns, types, defaults and NOT NULLs,
    and no PRIMARY KEY, UNIQUE, CHECK or FOREIGN KEY: the schema of a DuckLake."""
    out = []
    for table, columns in _scratch()[1].items():
        cols = []
        for name, data_type, default, nullable in columns:
            col = f"{_quote(name)} {data_type}"
            col += f" DEFAULT {default}" if default is not None else ""
            col += "" if nullable else " NOT NULL"
            cols.append(col)
        out.append(f"CREATE TABLE {_quote(table)} ({', '.join(cols)})")
    return out


def _present(con) -> dict[str, set[str]]:
    """Table -> its columns, of the tables in the connection's current database and schema."""
    found: dict[str, set[str]] = {}
    for table, column, *_ in con.execute(_COLUMNS).fetchall():
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
