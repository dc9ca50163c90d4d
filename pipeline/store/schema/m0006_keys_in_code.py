"""Step 6: the tables lose their PRIMARY KEY, UNIQUE and CHECK constraints; the code keeps
the keys (pipeline/store/keys.py says which they are and finds duplicates).

Why: a lake (DuckLake) has no such constraints, and one schema for both backends means one
set of statements. And DuckDB 1.5.5, the release the lake's extensions are built for,
corrupts an untouched key index when it checkpoints a file in the storage format that
DuckDB 1.1 clients read (reopen a file, write any table, checkpoint: the next insert into
another keyed table fails with "ART ... node without metadata").

Each keyed table is rebuilt with the same columns, types, defaults and NOT NULLs.
"""

from __future__ import annotations

_KEYED = """
SELECT DISTINCT table_name FROM duckdb_constraints()
WHERE database_name = current_database() AND schema_name = 'main'
  AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'CHECK', 'FOREIGN KEY')
ORDER BY table_name
"""


def column_ddl(con, table: str, compression: dict[str, str] | None = None) -> str:
    """The column list of `table` as a CREATE TABLE body: names, types, defaults, NOT NULLs, and
    `compression`'s methods for the columns it names (DuckDB does not list a column's method: a
    rebuild of a table that names some passes them again, as m0008 does for pairs)."""
    cols = con.execute("SELECT column_name, data_type, column_default, is_nullable FROM duckdb_columns() "
                       "WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ? "
                       "ORDER BY column_index", [table]).fetchall()
    parts = []
    for name, dtype, default, nullable in cols:
        part = f'"{name}" {dtype}'
        if compression and name in compression:
            part += f" USING COMPRESSION {compression[name]}"
        if default is not None:
            part += f" DEFAULT {default}"
        if not nullable:
            part += " NOT NULL"
        parts.append(part)
    return ", ".join(parts)


def upgrade(con) -> None:
    for (table,) in con.execute(_KEYED).fetchall():
        body = column_ddl(con, table)
        con.execute(f'ALTER TABLE "{table}" RENAME TO "{table}__keyed"')
        con.execute(f'CREATE TABLE "{table}" ({body})')
        con.execute(f'INSERT INTO "{table}" SELECT * FROM "{table}__keyed"')
        con.execute(f'DROP TABLE "{table}__keyed"')
