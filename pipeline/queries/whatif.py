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
# The judge's battles in the group (a style transfer's fit and the model's pairs), with their query.
TRANSFER_BATTLES = f"""
    SELECT l.pair_id, p.query, p.model_1, p.model_2, l.preferred
    FROM labels l JOIN pairs p USING (pair_id)
    WHERE l.judge = $judge AND p.model_1 IS NOT NULL AND p.model_2 IS NOT NULL AND p.model_1 <> p.model_2
      AND l.pair_id IN {_IN_GROUP}
    ORDER BY l.pair_id
"""
# The same battles, of the given models only (a forecast of one model, its board fitted already).
TRANSFER_BATTLES_OF = f"""
    SELECT l.pair_id, p.query, p.model_1, p.model_2, l.preferred
    FROM labels l JOIN pairs p USING (pair_id)
    WHERE l.judge = $judge AND p.model_1 IS NOT NULL AND p.model_2 IS NOT NULL AND p.model_1 <> p.model_2
      AND (list_contains($models, p.model_1) OR list_contains($models, p.model_2)) AND l.pair_id IN {_IN_GROUP}
    ORDER BY l.pair_id
"""
# Every response of a model in the group: its pair, query and side (for its measures).
MODEL_RESPONSES = f"""
    SELECT pair_id, query, CAST(CASE WHEN model_1 = $model THEN 1 ELSE 2 END AS INTEGER) AS side
    FROM pairs
    WHERE (model_1 = $model OR model_2 = $model) AND pair_id IN {_IN_GROUP}
    ORDER BY pair_id
"""
TRANSFER_COLUMNS = {
    "judge": pa.string(), "group_name": pa.string(), "property_set": pa.string(), "model": pa.string(),
    "as_model": pa.string(), "scenario": pa.string(), "n_pairs": pa.int32(), "observed": pa.float64(),
    "forecast": pa.float64(), "ci_low": pa.float64(), "ci_high": pa.float64(), "observed_as": pa.float64()}
STORED_TRANSFERS = """
    SELECT scenario, as_model, property_set, n_pairs, observed, forecast, ci_low, ci_high, observed_as
    FROM style_transfers
    WHERE judge = $judge AND group_name = $group AND model = $model
    ORDER BY scenario
"""
# A reference model: response 1 (or 2) of every pair it is in, in every pair of the database.
REFERENCES = """
    SELECT model FROM (SELECT model_1 AS model, count(*) AS n FROM pairs WHERE model_1 IS NOT NULL GROUP BY model_1)
    WHERE n = (SELECT count(*) FROM pairs)
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


def transfer_battles(con: duckdb.DuckDBPyConnection, judge: str, group: str, *, all_pairs: bool,
                     models: list[str] | None = None) -> dict:
    """The judge's battles between two named models in the group; with `models`, those of these models only."""
    params = {"judge": judge, "group": group, "all": all_pairs}
    sql = TRANSFER_BATTLES if models is None else TRANSFER_BATTLES_OF
    got = con.execute(sql, params if models is None else params | {"models": models}).fetchnumpy()
    return {k: np.asarray(v) for k, v in got.items()}


def model_responses(con: duckdb.DuckDBPyConnection, model: str, group: str, *, all_pairs: bool) -> dict:
    got = con.execute(MODEL_RESPONSES, {"model": model, "group": group, "all": all_pairs}).fetchnumpy()
    return {k: np.asarray(v) for k, v in got.items()}


# ------------------------------------------------------------------ stored results (the page)


def stored_transfers(db: Db, judge: str, model: str, group: str) -> pd.DataFrame:
    with reading(db) as con:
        return frame(con, STORED_TRANSFERS, {"judge": judge, "group": group, "model": model})


def references(db: Db = None) -> list[str]:
    """Models that are response 1 in every pair (a reference, as in AlpacaEval)."""
    with reading(db) as con:
        return column(con, REFERENCES)


def stored(db: Db, judge: str, model: str, group: str, property_set: str) -> pd.DataFrame:
    with reading(db) as con:
        return frame(con, STORED, {"judge": judge, "group": group, "property_set": property_set, "model": model})


def choices(db: Db = None) -> dict:
    """What the page can ask about: fitted (judge, group, set) and the response models."""
    with reading(db) as con:
        return {"fitted": fitted(con), "models": models(con)}
