"""Queries of the leaderboards: the inputs `pipeline.answers.leaderboard` fits, and the stored results
the Leaderboard page shows. Fixed SQL with `$name` parameters, never formatted text.

A group named 'All' holds every pair (the loader stores it); a database without it (made
before the open-world migration filled it) reads every pair for 'All' instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from .base import Db, column, frame, polars_frame, reading

LEADERBOARD_COLUMNS = {
    "judge": pa.string(), "group_name": pa.string(), "control": pa.string(), "model": pa.string(),
    "strength": pa.float64(), "ci_low": pa.float64(), "ci_high": pa.float64(), "rank": pa.int32(),
    "n_battles": pa.int32(), "elo": pa.float64(), "rank_change": pa.int32(), "win_rate": pa.float64(),
    "mean_tokens": pa.float64()}
RUN_COLUMNS = {
    "judge": pa.string(), "group_name": pa.string(), "control": pa.string(), "n_battles": pa.int32(),
    "n_models": pa.int32(), "n_models_left_out": pa.int32(), "min_battles": pa.int32(),
    "ci_method": pa.string(), "note": pa.string(), "ties": pa.string(), "n_ties": pa.int32(),
    "control_form": pa.string(), "heldout_log_loss": pa.float64(), "heldout_log_loss_raw": pa.float64(),
    "controls_dropped": pa.string()}
CONTROL_COLUMNS = {
    "judge": pa.string(), "group_name": pa.string(), "control": pa.string(), "property": pa.string(),
    "weight": pa.float64(), "ci_low": pa.float64(), "ci_high": pa.float64()}

PROPERTIES = "SELECT property, property_set FROM properties ORDER BY property_set, property_index"
# Properties with at least one feature row: the only controls a board can fit.
WITH_DATA = """
    SELECT property, property_set FROM properties
    WHERE property IN (SELECT DISTINCT property FROM features)
    ORDER BY property_set, property_index
"""
LABELLED_JUDGES = "SELECT DISTINCT judge FROM labels ORDER BY judge"
GROUP_NAMES = "SELECT DISTINCT group_name FROM pair_groups ORDER BY group_name"

# $all: read every pair (no 'All' rows stored); otherwise the group's members.
_IN_GROUP = """(SELECT pair_id FROM pairs WHERE $all
                UNION ALL SELECT pair_id FROM pair_groups WHERE NOT $all AND group_name = $group)"""
BATTLES = f"""
    SELECT l.judge, l.pair_id, p.model_1, p.model_2, l.preferred
    FROM labels l JOIN pairs p USING (pair_id)
    WHERE list_contains($judges, l.judge) AND p.model_1 IS NOT NULL AND p.model_2 IS NOT NULL
      AND p.model_1 <> p.model_2 AND l.pair_id IN {_IN_GROUP}
    ORDER BY l.judge, l.pair_id
"""
# Tie votes of the judges: every tie for 'All' (most ties are rows stored for no other vote), a
# group's own ties (those whose pair is stored and in the group) otherwise.
TIES = f"""
    SELECT judge, model_1, model_2, CAST(coalesce(pair_id, -1) AS BIGINT) AS pair_id
    FROM ties
    WHERE list_contains($judges, judge) AND model_1 IS NOT NULL AND model_2 IS NOT NULL AND model_1 <> model_2
      AND ($group = 'All' OR pair_id IN {_IN_GROUP})
"""
HAS_MEASURES = "SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'response_counts'"  # read through its view
# The measures of both responses (side 1, 2) of the group's pairs, from response_counts' columns
# (a row per response: no long rows to pivot); the columns are named by `measures`, each checked
# against MEASURE_COLUMNS first.
MEASURE_COLUMNS = ("SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                   "AND schema_name = 'main' AND table_name = 'response_counts' AND column_name NOT IN ('pair_id', 'side')")
MEASURES = f"""
    SELECT pair_id, side, {{columns}}
    FROM response_counts
    WHERE side IN (1, 2) AND pair_id IN {_IN_GROUP}{{only}}
"""
_ONLY = " AND pair_id IN (SELECT unnest($ids::BIGINT[]))"  # the measures of some pairs (a forecast's)
# Without response_counts (a database from before the measures were kept), the texts they are counted from.
TEXTS = f"""
    SELECT pair_id, response_1, response_2 FROM pairs WHERE pair_id IN {_IN_GROUP} ORDER BY pair_id
"""
FEATURES = f"""
    SELECT pair_id, property, CAST(value AS DOUBLE) AS value
    FROM features
    WHERE list_contains($properties, property) AND pair_id IN {_IN_GROUP}
"""

STORED = """
    SELECT judge, group_name, control, model, strength, ci_low, ci_high, rank, n_battles, elo, rank_change,
           win_rate, mean_tokens
    FROM leaderboard
    WHERE judge = $judge AND group_name = $group AND control = $control
    ORDER BY rank, model
"""
SIDE_BY_SIDE = """
    SELECT r.model, r.rank AS raw_rank, r.strength AS raw_strength, r.elo AS raw_elo,
           c.rank AS rank, c.strength AS strength, c.ci_low AS ci_low, c.ci_high AS ci_high, c.elo AS elo,
           c.rank_change AS rank_change, coalesce(c.n_battles, r.n_battles) AS n_battles,
           coalesce(c.win_rate, r.win_rate) AS win_rate, coalesce(c.mean_tokens, r.mean_tokens) AS mean_tokens,
           r.ci_low AS raw_ci_low, r.ci_high AS raw_ci_high
    FROM (SELECT * FROM leaderboard WHERE judge = $judge AND group_name = $group AND control = 'none') r
    FULL JOIN (SELECT * FROM leaderboard WHERE judge = $judge AND group_name = $group AND control = $control) c
      USING (model)
    ORDER BY coalesce(c.rank, 100000), r.rank, model
"""
RUNS = """
    SELECT judge, group_name, control, n_battles, n_models, n_models_left_out, min_battles, ci_method, note,
           ties, n_ties, control_form, heldout_log_loss, heldout_log_loss_raw, controls_dropped, fitted_at
    FROM leaderboard_runs
    WHERE ($judge IS NULL OR judge = $judge) AND ($group IS NULL OR group_name = $group)
    ORDER BY judge, group_name, control
"""
CONTROLS = """
    SELECT property, weight, ci_low, ci_high
    FROM leaderboard_controls
    WHERE judge = $judge AND group_name = $group AND control = $control
    ORDER BY abs(weight) DESC, property
"""
CHOICES = """
    SELECT DISTINCT judge, group_name, control FROM leaderboard_runs WHERE n_models > 0
    ORDER BY judge, group_name, control
"""


# ------------------------------------------------------------------ inputs of a fit


def properties(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [tuple(r) for r in con.execute(PROPERTIES).fetchall()]


def labelled_judges(con: duckdb.DuckDBPyConnection) -> list[str]:
    return column(con, LABELLED_JUDGES)


def group_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return column(con, GROUP_NAMES)


def battles(con: duckdb.DuckDBPyConnection, judges: list[str], group: str, *, all_pairs: bool) -> dict:
    """Columns judge, pair_id, model_1, model_2, preferred as numpy arrays."""
    out = con.execute(BATTLES, {"judges": judges, "group": group, "all": all_pairs}).fetchnumpy()
    return {k: np.asarray(v) for k, v in out.items()}


def ties(con: duckdb.DuckDBPyConnection, judges: list[str], group: str, *, all_pairs: bool) -> dict:
    """Columns judge, model_1, model_2, pair_id (NaN-free: -1 where the tie's row was not stored)."""
    out = con.execute(TIES, {"judges": judges, "group": group, "all": all_pairs}).fetchnumpy()
    return {k: np.asarray(v) for k, v in out.items()}


def has_measures(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(HAS_MEASURES).fetchone()[0])


def measures(con: duckdb.DuckDBPyConnection, names: list[str], group: str, *, all_pairs: bool,
             pair_ids: Sequence[int] | None = None) -> dict:
    """pair_id, side and one float array per measure name (NaN where it was not taken): a row per
    response of the group's pairs (with `pair_ids`, of those pairs only)."""
    have = {r[0] for r in con.execute(MEASURE_COLUMNS).fetchall()}
    unknown = [n for n in names if n not in have]
    if unknown:
        raise ValueError(f"no measure named {unknown[0]!r}; the measures are {sorted(have)}")
    columns = ", ".join(f"coalesce(CAST(\"{n}\" AS DOUBLE), 'NaN'::DOUBLE) AS \"{n}\"" for n in names) or "NULL AS none"
    params = {"group": group, "all": all_pairs} | ({} if pair_ids is None else {"ids": list(pair_ids)})
    out = con.execute(MEASURES.format(columns=columns, only="" if pair_ids is None else _ONLY), params).fetchnumpy()
    return {k: np.asarray(v) for k, v in out.items()}


def texts(con: duckdb.DuckDBPyConnection, group: str, *, all_pairs: bool):
    """A polars frame pair_id, response_1, response_2 of the group's pairs."""
    return polars_frame(con, TEXTS, {"group": group, "all": all_pairs})


def features(con: duckdb.DuckDBPyConnection, props: list[str], group: str, *, all_pairs: bool) -> dict:
    out = con.execute(FEATURES, {"properties": props, "group": group, "all": all_pairs}).fetchnumpy()
    return {k: np.asarray(v) for k, v in out.items()}


# ------------------------------------------------------------------ stored results (the page)


def choices(db: Db = None) -> pd.DataFrame:
    """judge, group_name, control of every stored leaderboard with models."""
    with reading(db) as con:
        return frame(con, CHOICES)


def inputs(db: Db = None) -> dict:
    """What a new leaderboard can be fitted for: labelled judges, groups, and the property sets and
    properties with data (a set is offered when every one of its properties has features)."""
    with reading(db) as con:
        props = properties(con)
        have = [tuple(r) for r in con.execute(WITH_DATA).fetchall()]
        full = sorted({s for _, s in props if {p for p, t in props if t == s} <= {p for p, _ in have}})
        return {"judges": labelled_judges(con), "groups": group_names(con),
                "sets": full, "properties": [p for p, _ in have]}


def side_by_side(db: Db, judge: str, group: str, control: str) -> pd.DataFrame:
    """Raw next to controlled, one row per model (the controlled columns NULL for control 'none')."""
    with reading(db) as con:
        return frame(con, SIDE_BY_SIDE, {"judge": judge, "group": group, "control": control})


def stored(db: Db, judge: str, group: str, control: str) -> pd.DataFrame:
    with reading(db) as con:
        return frame(con, STORED, {"judge": judge, "group": group, "control": control})


def runs(db: Db = None, judge: str | None = None, group: str | None = None) -> pd.DataFrame:
    with reading(db) as con:
        return frame(con, RUNS, {"judge": judge, "group": group})


def control_weights(db: Db, judge: str, group: str, control: str) -> pd.DataFrame:
    with reading(db) as con:
        return frame(con, CONTROLS, {"judge": judge, "group": group, "control": control})
