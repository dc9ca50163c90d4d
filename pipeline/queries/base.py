"""What every query module shares: the read connection, the default property set, frames.

Every query is a module-level SQL constant with `$name` parameters bound by DuckDB, never
text formatted into SQL. The schema is the migrated one (pipeline/store/schema), so a query
names its tables directly: a database that lacks them is not ours, and `status` says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import duckdb
import pandas as pd
import polars as pl

from ..store import db as dbmod

DEFAULT_PROPERTY_SET = "paper"

Db = str | os.PathLike | None


@contextmanager
def reading(db: Db = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """db.reading: the newest published snapshot, read-only. It never waits for a writer;
    its troubles are pipeline.store.errors.DatabaseError kinds with one line each."""
    with dbmod.reading(db) as con:
        yield con


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping | None = None) -> pd.DataFrame:
    """A query's result as pandas (what Altair and st.dataframe draw)."""
    return con.execute(sql, dict(params or {})).df()


def polars_frame(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping | None = None) -> pl.DataFrame:
    """A query's result as polars. DuckDB hands polars its Arrow batches without a copy, and
    polars pivots and groups millions of rows (100,000 pairs x 29 features) in a fraction of
    what pandas takes; heavy page work uses this."""
    return pl.from_arrow(con.execute(sql, dict(params or {})).to_arrow_table())


def column(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping | None = None) -> list:
    """The first column of a query's rows."""
    return [r[0] for r in con.execute(sql, dict(params or {})).fetchall()]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping | None = None):
    row = con.execute(sql, dict(params or {})).fetchone()
    return row[0] if row else None


# A property set's properties in their fixed order (alias `p` for `properties`): the
# paper's first, then style, then the rest; within a set, its property_index.
SET_ORDER = "CASE p.property_set WHEN 'paper' THEN 0 WHEN 'style' THEN 1 ELSE 2 END, p.property_set, p.property_index"
