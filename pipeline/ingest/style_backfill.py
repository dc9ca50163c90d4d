"""Measures and style features for pairs stored without them (older files, a load before
style existed, texts changed in place).

`fit --properties style|paper+style` calls `backfill` before it reads the features;
`backfill_measures` fills only missing measures (an older file also gets them at the
migration its next write runs, `store/schema/m0003_measures.py`).
"""

from __future__ import annotations

import polars as pl

from ..properties import measures
from ..properties.style import STYLE_NAMES, features_from_measures
from ..store import db as dbmod


def pairs_without_style(con) -> list[int]:
    """Ids of stored pairs that lack some style feature row."""
    return [r[0] for r in con.execute("""
        SELECT pair_id FROM pairs
        EXCEPT
        SELECT pair_id FROM features WHERE list_contains(?, property) GROUP BY pair_id HAVING count(*) = ?
        ORDER BY 1""", [STYLE_NAMES, len(STYLE_NAMES)]).fetchall()]


def backfill(db=None, *, chunk: int = 50_000) -> int:
    """Compute and store the style features of pairs stored without them, from measures
    computed again from their texts (which replace the stored ones: the texts may have
    changed), and the measures of pairs without them. Returns how many pairs got style
    features; nothing to do writes nothing. The texts are read first, the rows written in
    one short transaction."""
    with dbmod.reading(db) as con:
        todo = pairs_without_style(con)
        unmeasured = sorted(set(measures.pairs_without_measures(con)) - set(todo))
        if not todo and not unmeasured:
            return 0
        parts = [measures.measure_frame(measures.read_texts(con, todo[start:start + chunk]))
                 for start in range(0, len(todo), chunk)]  # bounded memory: texts of `chunk` pairs at a time
    wide = pl.concat(parts) if parts else None
    with dbmod.writing(db) as con:
        if wide is not None:
            rows = features_from_measures(wide).to_arrow()  # noqa: F841 - read by DuckDB below
            con.execute("DELETE FROM features WHERE list_contains(?, property) AND list_contains(?, pair_id)",
                        [STYLE_NAMES, todo])
            con.execute("INSERT INTO features (pair_id, property, value) "
                        "SELECT pair_id, property, value FROM rows WHERE pair_id IN (SELECT pair_id FROM pairs)")
            con.execute("DELETE FROM response_counts WHERE list_contains(?, pair_id)", [todo])
            measures.store(con, wide.filter(pl.col("pair_id").is_in(
                con.execute("SELECT pair_id FROM pairs WHERE list_contains(?, pair_id)", [todo]).fetchnumpy()["pair_id"])))
        measures.fill_missing(con, unmeasured)
    return len(todo)


def backfill_measures(db=None) -> int:
    """Compute and store the measures of stored pairs that lack some; returns how many pairs
    (0 writes nothing)."""
    with dbmod.reading(db) as con:
        if not measures.pairs_without_measures(con):
            return 0
    with dbmod.writing(db) as con:
        return measures.fill_missing(con)
