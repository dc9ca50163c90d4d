"""The workbench's schema on a DuckLake: the same tables and views as a file, without keys.

DuckLake has no PRIMARY KEY, UNIQUE or CHECK constraints, so a new lake gets each table of
the migrated schema with its columns, types, defaults and NOT NULLs only (keys.keyless_ddl),
and the code keeps the rows unique (pipeline.store.keys checks it). A lake is created at the
newest schema version; a later migration step runs on a lake with its key clauses removed.
"""

from __future__ import annotations

import re

import duckdb

from . import keys, schema

_TABLE_KEY = re.compile(r",\s*PRIMARY\s+KEY\s*\([^)]*\)", re.IGNORECASE)
_INLINE = re.compile(r"\s+(PRIMARY\s+KEY|UNIQUE)\b", re.IGNORECASE)
_CHECK = re.compile(r"\s+CHECK\s*\((?:[^()]|\([^()]*\))*\)", re.IGNORECASE)


def strip_keys(sql: str) -> str:
    """A migration step's SQL with its key and check clauses removed."""
    return _CHECK.sub("", _INLINE.sub("", _TABLE_KEY.sub("", sql)))


def _record(con: duckdb.DuckDBPyConnection, steps: list[schema.Step]) -> None:
    for step in steps:
        con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [step.version, step.name])


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Create or upgrade the schema in the caller's transaction; touch nothing when it is current
    (a write that only re-created the views would conflict with every other writer)."""
    if schema.current_version(con) is None:
        for ddl in keys.keyless_ddl():
            con.execute(ddl)
        _record(con, schema.steps())
        schema.sync_properties(con)
        schema.apply_views(con)
        return
    todo = schema.pending(con)
    for step in todo:
        if step.path.suffix != ".sql":
            raise RuntimeError(f"migration step {step.path.name} has no DuckLake form: recreate the lake with `copy`")
        con.execute(strip_keys(step.path.read_text()))
    _record(con, todo)
    if todo:
        schema.apply_views(con)
    schema.sync_properties(con)
