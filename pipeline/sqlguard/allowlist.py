"""What a query may read, decided from an allowlist rather than a list of known leaks.

A name after FROM or JOIN (a BASE_TABLE in DuckDB's syntax tree) is accepted only when it is
- one of the project's tables or views, read from the schema itself (the migrations and
  sql/ built in a private in-memory DuckDB, plus `llm_calls`, which llm/mirror.py makes),
  unqualified or in `main.`;
- one of a few catalog views that show names and columns, never paths
  (`duckdb_tables`, `duckdb_views`, `duckdb_columns`, ... and
  `information_schema.tables`/`columns`/`schemata`);
- the name of a CTE of the same statement.
Everything else is refused however it is spelled: DuckDB folds case even in quoted names,
so names are compared in lower case; any catalog (`system.`, `memory.`, the file's own
alias), any other schema (`pg_catalog.`, `temp.`) and any table function reached without
parentheses (`FROM pragma_database_list`) fall outside the list. A CTE may not take the
name of a table, view or table function DuckDB itself provides (`WITH duckdb_databases AS
...`): otherwise a reference outside the CTE's scope would reach the real one.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import duckdb

# Catalog views that describe names, types and columns only (no path, setting or secret).
CATALOG_VIEWS = frozenset({
    "duckdb_tables", "duckdb_views", "duckdb_columns", "duckdb_schemas", "duckdb_constraints",
    "duckdb_indexes", "duckdb_functions", "duckdb_types", "duckdb_keywords", "duckdb_sequences",
    "duckdb_dependencies",
})
INFORMATION_SCHEMA = frozenset({"tables", "columns", "schemata"})
PROJECT_SCHEMAS = ("", "main")

_lock = threading.Lock()


@lru_cache(maxsize=1)
def project_relations() -> frozenset[str]:
    """The project's tables and views (lower case), from the schema built in memory."""
    from ..llm.mirror import LLM_CALLS_DDL
    from ..store import schema

    with _lock:
        con = duckdb.connect(":memory:")
        try:
            schema.migrate(con)
            con.execute(LLM_CALLS_DDL)
            names = con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT internal "
                "UNION SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal").fetchall()
        finally:
            con.close()
    return frozenset(n[0].lower() for n in names)


@lru_cache(maxsize=1)
def system_names() -> frozenset[str]:
    """Every table, view and table function a bare DuckDB knows (lower case): no CTE may take one."""
    con = duckdb.connect(":memory:", config={"autoload_known_extensions": False,
                                             "autoinstall_known_extensions": False})
    try:
        rows = con.execute(
            "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views() "
            "UNION SELECT function_name FROM duckdb_functions() WHERE function_type = 'table'").fetchall()
    finally:
        con.close()
    return frozenset(r[0].lower() for r in rows)


def cte_names(nodes) -> set[str]:
    """The (lower-case) names of every CTE defined anywhere in the statement."""
    names: set[str] = set()
    for node in nodes:
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map") or ():
                if isinstance(entry, dict):
                    names.add(str(entry.get("key", "")).lower())
    return names


def spelled(node: dict) -> str:
    """The table name as written, with its catalog and schema."""
    parts = [node.get("catalog_name") or "", node.get("schema_name") or "", node.get("table_name") or ""]
    return ".".join(p for p in parts if p)


def table_allowed(node: dict, ctes: set[str]) -> bool:
    """May the query read this BASE_TABLE node?"""
    catalog = str(node.get("catalog_name") or "").lower()
    schema = str(node.get("schema_name") or "").lower()
    name = str(node.get("table_name") or "").lower()
    if catalog:
        return False
    if schema == "information_schema":
        return name in INFORMATION_SCHEMA
    if schema not in PROJECT_SCHEMAS:
        return False
    if not schema and name in ctes:
        return True
    return name in project_relations() or name in CATALOG_VIEWS


def shadowing_cte(ctes: set[str]) -> str | None:
    """A CTE named like something of DuckDB's own that is not on the allowlist, if any."""
    for name in sorted(ctes):
        if name in system_names() and name not in CATALOG_VIEWS and name not in project_relations():
            return name
    return None
