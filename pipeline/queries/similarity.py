"""The Similarity page's data: correlation of judges' weights, per group or Overall."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..answers.readouts import OVERALL, check_method, similarity_matrix
from .base import DEFAULT_PROPERTY_SET, Db, column, frame, reading
from .catalog import GROUP_KINDS_CTE
from .ordering import sort_judge_names, sort_judges_by_size

# The groups that count towards Overall: kind 'scenario' (as the judge_similarity view decides).
SCENARIO_GROUPS = "WITH " + GROUP_KINDS_CTE + """
    SELECT group_name FROM kinds WHERE group_kind = 'scenario' ORDER BY group_name
"""
# Judges with fits of the set, with their sizes (for the order).
FITTED_SIZES = """
    SELECT f.judge, any_value(j.size_b) AS size_b FROM fits f LEFT JOIN judges j USING (judge)
    WHERE f.property_set = $property_set GROUP BY f.judge
"""
WEIGHTS = """
    SELECT judge, group_name, property, weight FROM fits
    WHERE property_set = $property_set AND list_contains($groups, group_name)
"""


def judge_similarity(db: Db = None, group: str = OVERALL, method: str = "pearson",
                     judges: Sequence[str] | None = None,
                     property_set: str = DEFAULT_PROPERTY_SET) -> pd.DataFrame:
    """Square judge x judge similarity matrix for a group, or 'Overall'.

    Pearson (the paper's) or Spearman correlation of the two judges' weights; Overall is
    the mean over the scenario groups (query-specific and 'All' excluded), taken over the
    groups where both judges have fits. Rows and columns follow `judges`, else all judges
    with fits (human first, then by size). A judge without fits is a ValueError.
    """
    check_method(method)
    with reading(db) as con:
        sizes = dict(con.execute(FITTED_SIZES, {"property_set": property_set}).fetchall())
        groups = column(con, SCENARIO_GROUPS) if group == OVERALL else [group]
        weights = frame(con, WEIGHTS, {"property_set": property_set, "groups": groups})
    order = sort_judges_by_size(sizes, sizes)
    judges = list(judges) if judges else order
    unknown = [j for j in judges if j not in sizes]
    if unknown:
        raise ValueError(f"no fits for judge(s): {', '.join(unknown)}")
    out = similarity_matrix(weights, judges, method)
    out.attrs["group"] = group
    return out


def similarity(db: Db = None, group: str = OVERALL, method: str = "pearson",
               judges: Sequence[str] | None = None, property_set: str = DEFAULT_PROPERTY_SET) -> pd.DataFrame:
    """judge_similarity for the page: judges without fits (in that group) are left out, and
    the frame is empty when none remain."""
    check_method(method)
    with reading(db) as con:
        have = {j for j, _ in con.execute(FITTED_SIZES, {"property_set": property_set}).fetchall()}
    if not have:
        return pd.DataFrame()
    names = [j for j in judges if j in have] if judges else None
    if judges and not names:
        return pd.DataFrame()
    out = judge_similarity(db, group, method, names, property_set)
    out = out.dropna(how="all").dropna(axis=1, how="all")
    keep = [j for j in out.index if j in out.columns]
    out = out.loc[keep, keep]
    out.index.name = None
    out.columns.name = None
    out.attrs = {}
    return out


def order_judges(matrix: pd.DataFrame, by: str = "size", sizes: Mapping[str, float] | None = None) -> list[str]:
    """Row/column order for a judge x judge heatmap.

    'size': `ordering.sort_judges_by_size`; 'cluster': average-linkage hierarchical
    clustering on 1 - similarity, leaves in optimal order; 'name': human first, then by name.
    """
    names = list(matrix.index)
    if len(names) <= 2 or by == "name":
        return sort_judge_names(names)
    if by == "cluster":
        from scipy.cluster.hierarchy import leaves_list, linkage
        from scipy.spatial.distance import squareform

        sim = matrix.loc[names, names].to_numpy(dtype=float)
        sim = np.where(np.isnan(sim), 0.0, sim)
        sim = (sim + sim.T) / 2
        dist = np.clip(1.0 - sim, 0.0, 2.0)
        np.fill_diagonal(dist, 0.0)
        z = linkage(squareform(dist, checks=False), method="average", optimal_ordering=True)
        return [names[i] for i in leaves_list(z)]
    return sort_judges_by_size(names, sizes)


def similarity_long(matrix: pd.DataFrame, group: str, method: str) -> pd.DataFrame:
    """The square matrix as rows judge_a, judge_b, group_name, method, similarity (for charts, CSV)."""
    if matrix.empty:
        return pd.DataFrame(columns=["judge_a", "judge_b", "group_name", "method", "similarity"])
    m = matrix.copy()
    m.index.name = "judge_a"
    long = m.reset_index().melt(id_vars="judge_a", var_name="judge_b", value_name="similarity")
    long.insert(2, "group_name", group)
    long.insert(3, "method", method)
    return long


def similarity_to_others(matrix: pd.DataFrame, judge: str) -> pd.DataFrame:
    """One judge's row of a similarity matrix: judge, similarity (to each other judge)."""
    if judge not in matrix.index:
        return pd.DataFrame(columns=["judge", "similarity"])
    row = matrix.loc[judge].drop(judge).rename("similarity").rename_axis("judge").reset_index()
    row["similarity"] = row["similarity"].round(3)
    return row
