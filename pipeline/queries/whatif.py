"""Queries of the manipulation forecasts: the fitted weights and a model's pairs that
`pipeline.answers.forecasts` reads, and the stored forecasts the What-if page shows.
Fixed SQL with `$name` parameters, never formatted text.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from .base import Db, column, frame, reading

FORECAST_COLUMNS = {
    "judge": pa.string(), "group_name": pa.string(), "property_set": pa.string(), "model": pa.string(),
    "property": pa.string(), "direction": pa.string(), "n_pairs": pa.int32(), "win_rate": pa.float64(),
    "shift": pa.float64(), "ci_low": pa.float64(), "ci_high": pa.float64()}

# The fit's weights in the registry's order (sets in a union keep their own order).
WEIGHTS = """
    SELECT f.property, f.weight, f.sd
    FROM fits f LEFT JOIN properties p USING (property)
    WHERE f.judge = $judge AND f.group_name = $group AND f.property_set = $property_set
    ORDER BY p.property_set, p.property_index, f.property
"""
FITTED = """
    SELECT DISTINCT judge, group_name, property_set FROM fits ORDER BY judge, group_name, property_set
"""
# One read for the forecast: every feature of the set in the pairs of the group in which
# the model meets another model. side = +1 when the model is response 1; col = the
# property's place in $properties, so the caller fills a matrix without a pivot.
_IN_GROUP = """(SELECT pair_id FROM pairs WHERE $all
                UNION ALL SELECT pair_id FROM pair_groups WHERE NOT $all AND group_name = $group)"""
MODEL_FEATURES = f"""
    SELECT f.pair_id, CAST(CASE WHEN p.model_1 = $model THEN 1 ELSE -1 END AS DOUBLE) AS side,
           CAST(list_position($properties, f.property) - 1 AS INTEGER) AS col, CAST(f.value AS DOUBLE) AS value
    FROM pairs p JOIN features f USING (pair_id)
    WHERE (p.model_1 = $model OR p.model_2 = $model) AND p.model_1 IS DISTINCT FROM p.model_2
      AND list_contains($properties, f.property) AND p.pair_id IN {_IN_GROUP}
"""
MODELS = """
    SELECT model FROM (SELECT model_1 AS model FROM pairs UNION ALL SELECT model_2 FROM pairs)
    WHERE model IS NOT NULL GROUP BY model ORDER BY count(*) DESC, model
"""
GROUP_NAMES = "SELECT DISTINCT group_name FROM pair_groups ORDER BY group_name"
STORED = """
    SELECT property, direction, n_pairs, win_rate, shift, ci_low, ci_high, win_rate + shift AS forecast
    FROM forecasts
    WHERE judge = $judge AND group_name = $group AND property_set = $property_set AND model = $model
    ORDER BY shift DESC, property
"""


def weights(con: duckdb.DuckDBPyConnection, judge: str, group: str, property_set: str) -> list[tuple]:
    return con.execute(WEIGHTS, {"judge": judge, "group": group, "property_set": property_set}).fetchall()


def fitted(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in con.execute(FITTED).fetchall()]


def group_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return column(con, GROUP_NAMES)


def models(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Response models, the most frequent first."""
    return column(con, MODELS)


def model_features(con: duckdb.DuckDBPyConnection, model: str, group: str, props: list[str], *,
                   all_pairs: bool) -> dict[str, np.ndarray]:
    """Columns pair_id, side, col, value: one row per (pair, property) of the model's pairs."""
    got = con.execute(MODEL_FEATURES, {"model": model, "group": group, "all": all_pairs,
                                       "properties": props}).fetchnumpy()
    return {k: np.asarray(v) for k, v in got.items()}


# ------------------------------------------------------------------ stored results (the page)


def stored(db: Db, judge: str, model: str, group: str, property_set: str) -> pd.DataFrame:
    with reading(db) as con:
        return frame(con, STORED, {"judge": judge, "group": group, "property_set": property_set, "model": model})


def choices(db: Db = None) -> dict:
    """What the page can ask about: fitted (judge, group, set) and the response models."""
    with reading(db) as con:
        return {"fitted": fitted(con), "models": models(con)}
