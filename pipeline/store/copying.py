"""`copy --to`: every table of one database, rows and all, into another (file <-> lake).

The source is read at one snapshot (or one published file) and streamed in Arrow batches,
so memory stays bounded; the target is written in one transaction (one snapshot on a lake)
and must hold no data yet. The target's schema is made by its own backend (keys on a file,
none on a lake); schema_version is the target's own, the property registry is replaced by
the source's rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import duckdb

from . import db as dbmod
from .errors import DatabaseError

BATCH_ROWS = 100_000
_SKIP = {"schema_version"}
_DATA_TABLES = ("sources", "pairs", "labels", "judges", "fits")


class CopyRefused(DatabaseError):
    """The copy cannot start: the target holds data, or is the source itself."""


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                                      "AND schema_name = 'main' ORDER BY table_name").fetchall()]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                                      "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
                                      [table]).fetchall()]


def _holds_data(con: duckdb.DuckDBPyConnection) -> int:
    have = set(_tables(con))
    return sum(con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _DATA_TABLES if t in have)


def copy_database(source: str | os.PathLike | None, target: str | os.PathLike, *, at: int | None = None,
                  job: str | None = None) -> CopyReport:
    """Every table of `source` (at snapshot `at` of a lake) into `target`, which holds no data yet."""
    src_where, dst_where = dbmod.locate(source), dbmod.locate(target)
    if src_where == dst_where:
        raise CopyRefused(f"the source and the target are the same database ({src_where.display})")
    report = CopyReport()
    with dbmod.reading(source, at=at) as src:
        tables = [t for t in _tables(src) if t not in _SKIP]
        with dbmod.writing(target, job=job or f"copy from {src_where.display}") as dst:
            held = _holds_data(dst)
            if held:
                raise CopyRefused(f"the target {dst_where.display} already holds {held} rows of data: copy into "
                                  "a new file or lake (nothing was written)")
            for table in tables:
                report.rows[table] = _copy_table(src, dst, table)
    return report


def _copy_table(src: duckdb.DuckDBPyConnection, dst: duckdb.DuckDBPyConnection, table: str) -> int:
    cols = [c for c in _columns(dst, table) if c in set(_columns(src, table))]
    listed = ", ".join(f'"{c}"' for c in cols)
    dst.execute(f'DELETE FROM "{table}"')  # the registry rows the new schema was made with
    reader = src.execute(f'SELECT {listed} FROM "{table}"').to_arrow_reader(BATCH_ROWS)
    dst.register("copy_batch_source", reader)
    try:
        dst.execute(f'INSERT INTO "{table}" ({listed}) SELECT {listed} FROM copy_batch_source')
    finally:
        dst.unregister("copy_batch_source")
    return int(dst.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
