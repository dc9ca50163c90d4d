"""Statements that keep a table's key by code rather than by constraint.

A DuckLake table has no PRIMARY KEY or UNIQUE, so `INSERT ... ON CONFLICT` and `INSERT OR
REPLACE` fail there. The statements built here run the same on a DuckDB table with keys and
on a lake table without: `insert_new` adds only keys the table lacks (an anti-join), `merge`
updates the rows whose key is there and inserts the others (MERGE INTO). Both keep one
source row per key first, since a MERGE or an anti-join would insert two equal source keys.

`source` is a relation: a table name, or a parenthesised SELECT whose `?` the caller binds.
The caller executes the text itself, so DuckDB finds an Arrow table or DataFrame named in
`source` among the caller's locals. Names are the code's own, never a user's.
"""

from __future__ import annotations

from collections.abc import Sequence


def _one_per_key(source: str, key: Sequence[str], order: str | None) -> str:
    """The source with one row per key: the first by `order` (any one when no order is given)."""
    by = f" ORDER BY {order}" if order else ""
    return f"(SELECT * FROM {source} QUALIFY row_number() OVER (PARTITION BY {', '.join(key)}{by}) = 1)"


def _matches(key: Sequence[str]) -> str:
    return " AND ".join(f"t.{k} = s.{k}" for k in key)


def insert_new(table: str, source: str, columns: Sequence[str], key: Sequence[str], *,
               order: str | None = None) -> str:
    """INSERT the source rows whose key `table` does not hold yet (as ON CONFLICT DO NOTHING);
    of source rows sharing a key only the first by `order` goes in."""
    cols = ", ".join(columns)
    return (f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {_one_per_key(source, key, order)} AS s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {_matches(key)})")


def merge(table: str, source: str, columns: Sequence[str], key: Sequence[str], update: dict[str, str], *,
          order: str | None = None) -> str:
    """Upsert: a source row whose key `table` holds sets `update` (column -> SQL over `t`, the
    stored row, and `s`, the source row); the others are inserted with `columns`. Of source
    rows sharing a key only the first by `order` counts (give `... DESC` to keep the last)."""
    sets = ", ".join(f"{c} = {expr}" for c, expr in update.items())
    values = ", ".join(f"s.{c}" for c in columns)
    return (f"MERGE INTO {table} AS t USING {_one_per_key(source, key, order)} AS s ON {_matches(key)} "
            f"WHEN MATCHED THEN UPDATE SET {sets} WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) VALUES ({values})")


__all__ = ["insert_new", "merge"]
