"""How two judges differ (issue 10, part 2): the `judge_difference` view, ranked.

For two judges fitted in the same group and property set, per property: the difference of
their weights (judge_a - judge_b, log-odds), its 95% interval and the posterior
probability that it is positive (normal approximation; see sql/judge_difference.sql).
`judge_difference` ranks the properties where they differ most first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..store import db as dbmod
from ..queries import differences as q

RANKINGS = ("difference", "evidence")
DRAWS = 4000


class DifferenceError(ValueError):
    """The two judges can't be compared here (no fits in that group / set); says why."""


def prob_first(df: pd.DataFrame, *, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
    """For each property, the probability that it is where the judges differ most (the
    largest |difference|), under the same normal approximation, by simulation. NaN
    without sds (imported fits)."""
    d = df["difference"].to_numpy(float)
    sd = df["sd"].to_numpy(float)
    if len(d) == 0 or np.isnan(sd).any():
        return np.full(len(d), np.nan)
    sample = d + np.random.default_rng(seed).standard_normal((draws, len(d))) * sd
    return np.bincount(np.abs(sample).argmax(1), minlength=len(d)) / draws


def rank(df: pd.DataFrame, by: str = "difference") -> pd.DataFrame:
    """By 'difference': the largest |difference| first. By 'evidence': the surest sign first
    (max(P, 1 - P)), then |difference|. Adds `rank` (1 = differ most) and `prob_first`."""
    if by not in RANKINGS:
        raise DifferenceError(f"unknown ranking {by!r} (use one of: {', '.join(RANKINGS)})")
    size = df["difference"].abs()
    if by == "evidence":
        sure = (df["prob_positive"] - 0.5).abs().fillna(-1.0)
        order = pd.DataFrame({"sure": sure, "size": size}).sort_values(["sure", "size"], ascending=False).index
    else:
        order = size.sort_values(ascending=False, kind="stable").index
    out = df.assign(prob_first=prob_first(df)).loc[order].reset_index(drop=True)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


def judge_difference(db=None, judge_a: str = "human", judge_b: str = "gpt-4-turbo", *, group: str = "All",
                     property_set: str = "paper", by: str = "difference") -> pd.DataFrame:
    """The ranked rows of judge_difference for two judges in a group and property set."""
    if judge_a == judge_b:
        raise DifferenceError(f"pick two different judges (both are {judge_a!r})")
    with dbmod.reading(db) as con:
        df = q.difference(con, judge_a, judge_b, group, property_set)
        if df.empty:
            have = q.fitted(con)
            for judge in (judge_a, judge_b):
                there = {(g, s) for j, g, s in have if j == judge}
                if (group, property_set) not in there:
                    where = ", ".join(sorted(f"{g} / {s}" for g, s in there)[:12]) or "nothing"
                    raise DifferenceError(f"judge {judge!r} has no fit in group {group!r} with property set "
                                          f"{property_set!r} (it has: {where})")
    return rank(df, by)


__all__ = ["DifferenceError", "RANKINGS", "judge_difference", "prob_first", "rank"]
