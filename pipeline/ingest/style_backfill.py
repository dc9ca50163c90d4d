"""Style features for pairs stored without them (older files, or a load before style existed).

`fit --properties style|paper+style` calls `backfill` before it reads the features.
"""

from __future__ import annotations

import polars as pl

from ..properties.style import STYLE_NAMES, style_features
from ..store import db as dbmod


def pairs_without_style(con) -> list[int]:
    """Ids of stored pairs that lack some style feature row."""
    return [r[0] for r in con.execute("""
        SELECT pair_id FROM pairs
        EXCEPT
        SELECT pair_id FROM features WHERE list_contains(?, property) GROUP BY pair_id HAVING count(*) = ?
        ORDER BY 1""", [STYLE_NAMES, len(STYLE_NAMES)]).fetchall()]


def backfill(db=None, *, chunk: int = 50_000) -> int:
    """Compute and store the style features of pairs stored without them (older files,
    or a load before style existed). Returns how many pairs got them; 0 writes nothing.
    The texts are read first, the rows written in one short transaction."""
    with dbmod.reading(db) as con:
        todo = pairs_without_style(con)
        if not todo:
            return 0
        parts = []
        for start in range(0, len(todo), chunk):  # bounded memory: texts of `chunk` pairs at a time
            texts = pl.from_arrow(con.sql(
                "SELECT pair_id, response_1, response_2 FROM pairs WHERE list_contains(?, pair_id)",
                params=[todo[start:start + chunk]]).to_arrow_table())
            parts.append(style_features(texts))
    rows = pl.concat(parts).to_arrow()  # noqa: F841 - read by DuckDB below
    with dbmod.writing(db) as con:
        con.execute("DELETE FROM features WHERE list_contains(?, property) AND list_contains(?, pair_id)",
                    [STYLE_NAMES, todo])
        con.execute("INSERT INTO features (pair_id, property, value) "
                    "SELECT pair_id, property, value FROM rows WHERE pair_id IN (SELECT pair_id FROM pairs)")
    return len(todo)
