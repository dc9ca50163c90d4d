"""Judges, groups and property sets: who and what the database holds, in the app's order."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..properties.sets import PROPERTY_SETS
from ..answers.readouts import OVERALL
from .base import DEFAULT_PROPERTY_SET, Db, column, frame, reading
from .ordering import HUMAN, sort_groups, sort_judge_names, sort_judges_by_size

# The strongest LLM judge in the paper, under the names it goes by (the release says
# gpt-4-turbo; the published fitted_paras say gpt-4-1106-preview).
PREFERRED_LLM_JUDGES = ("gpt-4-turbo", "gpt-4-1106-preview", "gpt-4-0125-preview", "gpt-4-turbo-preview")

# A group's kind as stored by fit and the loader: 'all', 'scenario', 'query-specific',
# 'custom'. A name stored as two kinds takes the first by name (as judge_similarity does).
GROUP_KINDS_CTE = """
    kinds AS (
        SELECT group_name, min(group_kind) AS group_kind
        FROM (SELECT group_name, group_kind FROM fit_runs WHERE group_kind IS NOT NULL
              UNION SELECT DISTINCT group_name, group_kind FROM pair_groups)
        GROUP BY group_name)
"""
GROUP_KINDS = "WITH " + GROUP_KINDS_CTE + " SELECT group_name, group_kind FROM kinds"

JUDGES = """
    WITH names AS (SELECT judge FROM judges UNION SELECT judge FROM labels UNION SELECT judge FROM fits),
    lab AS (SELECT judge, count(*) AS n_labels FROM labels GROUP BY judge),
    fitted AS (SELECT judge, count(DISTINCT group_name) AS n_groups_fitted FROM fits
               WHERE property_set = $property_set GROUP BY judge),
    acc AS (SELECT judge, avg(accuracy) AS mean_accuracy, avg(baseline_accuracy) AS mean_baseline_accuracy
            FROM fit_runs
            WHERE status = 'fitted' AND property_set = $property_set GROUP BY judge)
    SELECT n.judge, j.kind, j.size_b, j.source, j.note,
           coalesce(lab.n_labels, 0) AS n_labels, coalesce(fitted.n_groups_fitted, 0) AS n_groups_fitted,
           acc.mean_accuracy, acc.mean_baseline_accuracy, j.position_consistency, j.added_at
    FROM names n
    LEFT JOIN judges j USING (judge)
    LEFT JOIN lab USING (judge)
    LEFT JOIN fitted USING (judge)
    LEFT JOIN acc USING (judge)
"""
JUDGE_COLUMNS = ["judge", "kind", "size_b", "source", "note", "n_labels", "n_groups_fitted", "mean_accuracy",
                 "mean_baseline_accuracy", "position_consistency", "added_at"]

# Judges with fits of the set: all ($group NULL), in one group, or ('Overall') in a scenario group.
FITTED_JUDGES = "WITH " + GROUP_KINDS_CTE + """
    SELECT DISTINCT f.judge FROM fits f LEFT JOIN kinds k USING (group_name)
    WHERE f.property_set = $property_set
      AND ($group IS NULL OR f.group_name = $group OR ($group = $overall AND k.group_kind = 'scenario'))
"""
FITTED_GROUPS = "SELECT DISTINCT group_name FROM fits WHERE property_set = $property_set"
GROUPS = "WITH " + GROUP_KINDS_CTE + """,
    members AS (SELECT g.group_name, count(*) AS n_pairs, count(*) FILTER (WHERE p.usable) AS n_usable
                FROM pair_groups g JOIN pairs p USING (pair_id) GROUP BY g.group_name),
    fitted AS (SELECT group_name, count(DISTINCT judge) AS n_fitted_judges FROM fits
               WHERE property_set = $property_set GROUP BY group_name)
    SELECT n.group_name, coalesce(k.group_kind, 'scenario') AS group_kind,
           coalesce(m.n_pairs, 0)::BIGINT AS n_pairs, coalesce(m.n_usable, 0)::BIGINT AS n_usable,
           coalesce(f.n_fitted_judges, 0)::BIGINT AS n_fitted_judges
    FROM (SELECT group_name FROM members UNION SELECT group_name FROM fits) n
    LEFT JOIN kinds k USING (group_name)
    LEFT JOIN members m USING (group_name)
    LEFT JOIN fitted f USING (group_name)
"""
GROUP_COLUMNS = ["group_name", "group_kind", "n_pairs", "n_usable", "n_fitted_judges"]
FIT_RUNS = """
    SELECT judge, group_name, property_set, status, n_pairs, accuracy, baseline_accuracy, log_loss,
           baseline_log_loss, share_response_1, constant_model_1, method, folds, note, fitted_at
    FROM fit_runs
    WHERE ($judge IS NULL OR judge = $judge) AND ($property_set IS NULL OR property_set = $property_set)
"""
SETS_WITH_FITS = """
    SELECT property_set, count(DISTINCT judge) AS n_judges, count(DISTINCT group_name) AS n_groups
    FROM fits WHERE property_set NOT LIKE '%@%'  -- '<set>@models': adjusted fits, read by asking for them
    GROUP BY property_set
"""


# ---------------------------------------------------------------------- judges


def judges(db: Db = None, property_set: str = DEFAULT_PROPERTY_SET) -> pd.DataFrame:
    """judge, kind, size_b, source, note, n_labels, n_groups_fitted (of the property set),
    mean_accuracy (held-out, of that set), mean_baseline_accuracy (its baseline), position_consistency,
    added_at; ordered as `ordering.sort_judges_by_size` says."""
    with reading(db) as con:
        df = frame(con, JUDGES, {"property_set": property_set})
    if df.empty:
        return pd.DataFrame(columns=JUDGE_COLUMNS)
    order = sort_judges_by_size(df["judge"], dict(zip(df["judge"], df["size_b"])))
    return df.set_index("judge").loc[order].reset_index()[JUDGE_COLUMNS]


def fitted_judges(db: Db = None, group: str | None = None,
                  property_set: str = DEFAULT_PROPERTY_SET) -> list[str]:
    """Judges with fits of the property set (in `group` when given; 'Overall': in any
    scenario group), human first."""
    with reading(db) as con:
        names = column(con, FITTED_JUDGES, {"group": group, "property_set": property_set, "overall": OVERALL})
    return sort_judge_names(names)


def default_judges(db: Db = None, available: Sequence[str] | None = None,
                   property_set: str = DEFAULT_PROPERTY_SET) -> list[str]:
    """The human and the strongest LLM judge present.

    Strongest: gpt-4-turbo (or its dated name) when present, else the non-human judge
    (LLM kind preferred) with the best mean held-out accuracy of its fits, then the
    largest, then by name.
    """
    pool = list(available) if available is not None else fitted_judges(db, property_set=property_set)
    if not pool:
        return []
    out = [HUMAN] if HUMAN in pool else []
    others = [j for j in pool if j != HUMAN]
    if not others:
        return out or pool[:1]
    for name in PREFERRED_LLM_JUDGES:
        if name in others:
            return out + [name]
    info = judges(db, property_set)
    info = info[info["judge"].isin(others)].copy()
    if info.empty:
        return out + [others[0]]
    info["_llm"] = info["kind"].fillna("").str.lower().eq("llm")
    info["_acc"] = info["mean_accuracy"].astype(float).fillna(-1.0)
    info["_size"] = info["size_b"].astype(float).fillna(-1.0)
    best = info.sort_values(["_llm", "_acc", "_size", "judge"], ascending=[False, False, False, True])
    return out + [best["judge"].iloc[0]]


def last_added(info: pd.DataFrame, among: Sequence[str]) -> str | None:
    """The judge added last among `among` (by judges.added_at), else the last of them."""
    info = info[info["judge"].isin(among)].sort_values("added_at", ascending=False, na_position="last")
    return info["judge"].iloc[0] if not info.empty else (list(among)[-1] if among else None)


# ---------------------------------------------------------------------- groups


def group_kinds(db: Db = None) -> dict[str, str]:
    """group_name -> group_kind ('all', 'scenario', 'query-specific', 'custom') as stored."""
    with reading(db) as con:
        return dict(con.execute(GROUP_KINDS).fetchall())


def groups(db: Db = None, property_set: str = DEFAULT_PROPERTY_SET) -> pd.DataFrame:
    """group_name, group_kind, n_pairs, n_usable, n_fitted_judges (of the set), in the app's order."""
    with reading(db) as con:
        df = frame(con, GROUPS, {"property_set": property_set})
    if df.empty:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    order = sort_groups(df["group_name"], dict(zip(df["group_name"], df["group_kind"])))
    return df.set_index("group_name").loc[order].reset_index()[GROUP_COLUMNS]


def fitted_groups(db: Db = None, property_set: str = DEFAULT_PROPERTY_SET) -> list[str]:
    """Groups with fits of the property set: All, scenario (paper order), query-specific, custom."""
    with reading(db) as con:
        names = column(con, FITTED_GROUPS, {"property_set": property_set})
        kinds = dict(con.execute(GROUP_KINDS).fetchall())
    return sort_groups(names, kinds)


def fit_runs(db: Db = None, judge: str | None = None, property_set: str | None = None) -> pd.DataFrame:
    """The fit_runs rows (all, or one judge's, of one set or all), groups in the app's order."""
    with reading(db) as con:
        df = frame(con, FIT_RUNS, {"judge": judge, "property_set": property_set})
        kinds = dict(con.execute(GROUP_KINDS).fetchall())
    if df.empty:
        return df
    rank = {g: i for i, g in enumerate(sort_groups(df["group_name"], kinds))}
    df["_g"] = df["group_name"].map(rank)
    return df.sort_values(["judge", "property_set", "_g"]).drop(columns="_g").reset_index(drop=True)


# ---------------------------------------------------------------- property sets


def property_sets(db: Db = None) -> pd.DataFrame:
    """property_set, n_judges, n_groups: the sets that have fits, 'paper' first."""
    with reading(db) as con:
        df = frame(con, SETS_WITH_FITS)
    rank = {s: i for i, s in enumerate(PROPERTY_SETS)}  # paper, style, paper+style, custom
    df["_r"] = df["property_set"].map(lambda s: (rank.get(s, len(rank)), s))
    return df.sort_values("_r").drop(columns="_r").reset_index(drop=True)


__all__ = ["OVERALL", "PREFERRED_LLM_JUDGES", "default_judges", "fit_runs", "fitted_groups", "fitted_judges",
           "group_kinds", "groups", "judges", "property_sets"]
