"""The keys of the schema's tables, for a backend that has none (DuckLake).

(A stand-in: the full module, with table_keys and duplicate_keys, comes from branch h11-keys.)
"""

from __future__ import annotations

from functools import lru_cache

import duckdb

from . import schema
from .schema.m0006_keys_in_code import column_ddl


@lru_cache(maxsize=1)
def keyless_ddl() -> tuple[str, ...]:
    """CREATE TABLE statements of the migrated schema (which has no keys since step 6)."""
    con = duckdb.connect(":memory:")
    try:
        schema.migrate(con)
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                                            "ORDER BY table_name").fetchall()]
        return tuple(f'CREATE TABLE "{t}" ({column_ddl(con, t)})' for t in tables)
    finally:
        con.close()
