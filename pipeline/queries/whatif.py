"""Queries of the manipulation forecasts: the fitted weights and a model's pairs that
`pipeline.forecasts` reads, and the stored forecasts the What-if page shows.
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
# Every pair of the group in which the model meets another model; side = +1 when it is response 1.
_IN_GROUP = """(SELECT pair_id FROM pairs WHERE $all
                UNION ALL SELECT pair_id FROM pair_groups WHERE NOT $all AND group_name = $group)"""
MODEL_PAIRS = f"""
    SELECT pair_id, CASE WHEN model_1 = $model THEN 1 ELSE -1 END AS side
    FROM pairs
    WHERE (model_1 = $model OR model_2 = $model) AND model_1 IS DISTINCT FROM model_2
      AND pair_id IN {_IN_GROUP}
    ORDER BY pair_id
"""
MODEL_FEATURES = f"""
    SELECT f.pair_id, f.property, CAST(f.value AS DOUBLE) AS value
    FROM features f JOIN pairs p USING (pair_id)
    WHERE (p.model_1 = $model OR p.model_2 = $model) AND list_contains($properties, f.property)
      AND f.pair_id IN {_IN_GROUP}
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


def model_pairs(con: duckdb.DuckDBPyConnection, model: str, group: str, props: list[str], *,
                all_pairs: bool) -> tuple[dict, dict]:
    params = {"model": model, "group": group, "all": all_pairs}
    pairs = con.execute(MODEL_PAIRS, params).fetchnumpy()
    feats = con.execute(MODEL_FEATURES, {**params, "properties": props}).fetchnumpy()
    return ({k: np.asarray(v) for k, v in pairs.items()}, {k: np.asarray(v) for k, v in feats.items()})


# ------------------------------------------------------------------ stored results (the page)


def stored(db: Db, judge: str, model: str, group: str, property_set: str) -> pd.DataFrame:
    with reading(db) as con:
        return frame(con, STORED, {"judge": judge, "group": group, "property_set": property_set, "model": model})


def choices(db: Db = None) -> dict:
    """What the page can ask about: fitted (judge, group, set) and the response models."""
    with reading(db) as con:
        return {"fitted": fitted(con), "models": models(con)}
