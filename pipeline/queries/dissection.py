"""The Dissection page's data: probability of preferred per judge, group and property."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .base import DEFAULT_PROPERTY_SET, SET_ORDER, Db, frame, reading
from .catalog import GROUP_KINDS
from .ordering import group_sort_key, in_order, sort_groups

# One query behind both dissection views: the `preference_probability` view (the
# probabilities are computed there, once) with the property's registry entry, the
# weight's sd, and the run's pair count and held-out accuracy. property_order: the
# set's fixed order (a union set lists its first set's properties first).
FIT_ROWS = """
    SELECT v.judge, v.group_name, f.property_set, v.property, p.property_index, p.kind, p.description,
           v.weight, f.sd, v.probability, v.prob_low, v.prob_high, v.source, r.n_pairs, r.accuracy,
           row_number() OVER (PARTITION BY v.judge, v.group_name ORDER BY """ + SET_ORDER + """) - 1 AS property_order
    FROM preference_probability v
    JOIN fits f ON f.judge = v.judge AND f.group_name = v.group_name AND f.property = v.property
               AND f.property_set = v.property_set
    JOIN properties p ON p.property = v.property
    LEFT JOIN fit_runs r ON r.judge = v.judge AND r.group_name = v.group_name AND r.property_set = f.property_set
    WHERE f.property_set = $property_set
      AND ($judges IS NULL OR list_contains($judges, v.judge))
      AND ($groups IS NULL OR list_contains($groups, v.group_name))
"""
FIT_COLUMNS = ["judge", "group_name", "property_set", "property", "property_index", "kind", "description",
               "weight", "sd", "probability", "prob_low", "prob_high", "source", "n_pairs", "accuracy",
               "property_order"]


def fit_rows(db: Db = None, *, judges: Sequence[str] | None = None, groups: Sequence[str] | None = None,
             property_set: str = DEFAULT_PROPERTY_SET) -> pd.DataFrame:
    """The fits of a property set with their probabilities (optionally some judges, groups),
    ordered by judge (as given), group (the app's order), property (the set's order)."""
    params = {"property_set": property_set, "judges": None if judges is None else list(judges),
              "groups": None if groups is None else list(groups)}
    with reading(db) as con:
        df = frame(con, FIT_ROWS, params)
        kinds = dict(con.execute(GROUP_KINDS).fetchall())
    if df.empty:
        return pd.DataFrame(columns=FIT_COLUMNS)
    rank = {j: i for i, j in enumerate(judges or [])}
    df["_j"] = df["judge"].map(lambda j: rank.get(j, len(rank)))
    df["_g"] = df["group_name"].map(lambda g: group_sort_key(g, kinds.get(g)))
    df = df.sort_values(["_j", "judge", "_g", "property_order"], kind="stable")
    return df.reset_index(drop=True)[FIT_COLUMNS]


def preference_probability(db: Db = None, group: str = "", judges: Sequence[str] = (),
                           property_set: str = DEFAULT_PROPERTY_SET) -> pd.DataFrame:
    """Probability of preferred (100 * sigmoid(weight)) per judge and property in one group.

    Columns: FIT_COLUMNS (prob_low / prob_high NULL for imported fits without intervals).
    """
    judges = list(judges)
    if not judges:
        return pd.DataFrame(columns=FIT_COLUMNS)
    return fit_rows(db, judges=judges, groups=[group], property_set=property_set)


def judge_across_groups(db: Db = None, judge: str = "", property_set: str = DEFAULT_PROPERTY_SET) -> pd.DataFrame:
    """One judge's probability of preferred for every property in every fitted group."""
    out = fit_rows(db, judges=[judge], property_set=property_set)
    with reading(db) as con:
        kinds = dict(con.execute(GROUP_KINDS).fetchall())
    out.insert(2, "group_kind", out["group_name"].map(lambda g: kinds.get(g, "scenario")))
    return out


def wide_table(df: pd.DataFrame, *, columns: str, order: Sequence[str], column_order: Sequence[str]) -> pd.DataFrame:
    """Probabilities as property x `columns` (judge or group_name), rounded, in the given orders."""
    wide = df.pivot_table(index="property", columns=columns, values="probability", aggfunc="first")
    cols = in_order([c for c in column_order if c in wide.columns], column_order)
    return wide.reindex(index=list(order), columns=cols).round(1)


def fit_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per judge: pairs fitted, held-out accuracy and the weights' source; columns that are
    empty for every judge (imported weights have no pairs or accuracy) are left out."""
    runs = df.groupby("judge", sort=False)[["n_pairs", "accuracy", "source"]].first().reset_index()
    return runs[[c for c in runs.columns if c in ("judge", "source") or runs[c].notna().any()]]


def group_order(df: pd.DataFrame) -> list[str]:
    """The groups of a judge_across_groups frame, in the app's order."""
    if df.empty:
        return []
    return sort_groups(df["group_name"], dict(zip(df["group_name"], df["group_kind"])))


def property_order(df: pd.DataFrame) -> list[str]:
    """The properties of a fit frame in the set's fixed order."""
    if df.empty:
        return []
    return list(dict.fromkeys(df.sort_values("property_order", kind="stable")["property"]))


CSV_COLUMNS = ["judge", "group_name", "property_set", "property", "probability", "prob_low", "prob_high",
               "weight", "sd", "source"]
