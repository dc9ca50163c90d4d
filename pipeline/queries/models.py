"""The Models page's data: each response model's battles, win rates and style profile, and how
two models' responses differ (as Feedback Forensics' model analysis does, from the data alone).

A profile is read from `response_measures` (one row per response side and measure: tokens,
words, headers, ...) where the database has that table, else from the style features, which
every pair has: the share of a model's battles in which its response has clearly more of a
style property than the other response.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .base import Db, column, frame, reading, scalar

Z95 = 1.959963984540054  # the normal 97.5% quantile: 95% intervals
LENGTH_MEASURES = ("tokens", "words", "characters")  # compared by their mean; the rest by a share with >= 1

MEASURES_EXIST = """
    SELECT count(*) FROM duckdb_tables()
    WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'response_measures'
"""
# Each model's battles: the pairs it wrote a response of (a model can be on both sides of a pair).
BATTLES = """
    SELECT model, count(*) AS battles FROM (
        SELECT model_1 AS model FROM pairs UNION ALL SELECT model_2 FROM pairs)
    WHERE model IS NOT NULL GROUP BY model ORDER BY battles DESC, lower(model)
"""
WIN_RATES = """
    SELECT judge, model, n, wins, win_rate FROM model_win_rates
    WHERE $model::VARCHAR IS NULL OR model = $model ORDER BY judge, model
"""
# Per model and measure: responses, mean, variance, share with at least one (for the shares' intervals).
MEASURE_SUMMARY = """
    WITH r AS (
        SELECT CASE m.side WHEN 1 THEN p.model_1 ELSE p.model_2 END AS model, m.measure, m.value::DOUBLE AS value
        FROM response_measures m JOIN pairs p USING (pair_id))
    SELECT model, measure, count(*) AS n, avg(value) AS mean, coalesce(var_samp(value), 0) AS var,
           median(value) AS median, avg((value > 0)::INTEGER) AS share
    FROM r WHERE model IS NOT NULL AND list_contains($models::VARCHAR[], model)
    GROUP BY model, measure
"""
# Per model and style property: the model's side of each feature (+1: its response has clearly more).
FEATURE_SUMMARY = """
    WITH r AS (
        SELECT p.model_1 AS model, f.property, f.value AS more, q.property_index
        FROM features f JOIN pairs p USING (pair_id) JOIN properties q USING (property)
        WHERE q.property_set = 'style'
        UNION ALL
        SELECT p.model_2, f.property, -f.value, q.property_index
        FROM features f JOIN pairs p USING (pair_id) JOIN properties q USING (property)
        WHERE q.property_set = 'style')
    SELECT model, property AS measure, min(property_index) AS property_index, count(*) AS n,
           avg((more = 1)::INTEGER) AS share, avg((more = -1)::INTEGER) AS share_less
    FROM r WHERE model IS NOT NULL AND list_contains($models::VARCHAR[], model)
    GROUP BY model, property
"""
JUDGES_WITH_WIN_RATES = "SELECT DISTINCT judge FROM model_win_rates ORDER BY judge"
PROFILE_COLUMNS = ["measure", "n", "mean", "median", "share"]
DIFF_COLUMNS = ["measure", "statistic", "a", "b", "difference", "ci_low", "ci_high", "n_a", "n_b", "differs"]


def has_measures(con) -> bool:
    """Whether the database has the `response_measures` table (added by a later schema step)."""
    return bool(scalar(con, MEASURES_EXIST))


def models(db: Db = None) -> pd.DataFrame:
    """model, battles: every response model, most battles first."""
    with reading(db) as con:
        return frame(con, BATTLES)


def source(db: Db = None) -> str:
    """'measures' where response_measures exists, else 'features' (the style features)."""
    with reading(db) as con:
        return "measures" if has_measures(con) else "features"


def win_rates(db: Db = None, model: str | None = None) -> pd.DataFrame:
    """judge, model, n (labelled battles), wins, win_rate, ci_low, ci_high (Wilson 95%)."""
    with reading(db) as con:
        df = frame(con, WIN_RATES, {"model": model})
    low, high = wilson(df["wins"].to_numpy(float), df["n"].to_numpy(float))
    return df.assign(ci_low=low, ci_high=high)


def wilson(wins: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's 95% interval of a share (it stays in [0, 1] at 0 or n wins, unlike the normal one)."""
    n = np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.asarray(wins, float) / n
        centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
        half = Z95 * np.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n ** 2)) / (1 + Z95 ** 2 / n)
    return centre - half, centre + half


def newcombe(pa: float, na: int, pb: float, nb: int) -> tuple[float, float]:
    """Newcombe's 95% interval of a difference of two shares, from each share's Wilson interval:
    unlike the normal one it does not shrink to a point when a share is 0 or 1."""
    (la, lb), (ua, ub) = wilson(np.array([pa * na, pb * nb]), np.array([na, nb]))
    d = pa - pb
    return (d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2), d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2))


def _summary(con, names: list[str]) -> tuple[pd.DataFrame, str]:
    if has_measures(con):
        return frame(con, MEASURE_SUMMARY, {"models": names}), "measures"
    df = frame(con, FEATURE_SUMMARY, {"models": names}).sort_values("property_index")
    return df.assign(mean=np.nan, median=np.nan, var=np.nan), "features"


def profile(db: Db = None, model: str = "") -> tuple[pd.DataFrame, str]:
    """A model's style profile and where it comes from ('measures' or 'features').

    measures: measure, n (responses), mean, median, share (of responses with at least one).
    features: measure (a style property), n (battles), share (its response has clearly more),
    share_less (clearly fewer); mean and median are empty."""
    with reading(db) as con:
        df, origin = _summary(con, [model])
    cols = PROFILE_COLUMNS + (["share_less"] if origin == "features" else [])
    return df[cols].reset_index(drop=True), origin


def compare(db: Db = None, model_a: str = "", model_b: str = "") -> tuple[pd.DataFrame, str]:
    """On which style properties two models' responses differ: A's statistic minus B's, with a
    normal 95% interval. From measures: the mean for tokens/words/characters, the share of
    responses with at least one for the others. From features: the share of battles in which
    the model's response has clearly more. `differs`: the interval excludes 0."""
    with reading(db) as con:
        df, origin = _summary(con, [model_a, model_b])
    rows = []
    order = list(dict.fromkeys(df["measure"]))
    for measure in order:
        a = df[(df["model"] == model_a) & (df["measure"] == measure)]
        b = df[(df["model"] == model_b) & (df["measure"] == measure)]
        if a.empty or b.empty:
            continue
        rows.append(_difference(measure, a.iloc[0], b.iloc[0], origin))
    out = pd.DataFrame(rows, columns=DIFF_COLUMNS)
    return out, origin


def _difference(measure: str, a: pd.Series, b: pd.Series, origin: str) -> dict:
    na, nb = int(a["n"]), int(b["n"])
    if origin == "measures" and measure in LENGTH_MEASURES:
        stat, va, vb = "mean", float(a["mean"]), float(b["mean"])
        se = math.sqrt(float(a["var"]) / na + float(b["var"]) / nb)  # Welch's standard error
        d = va - vb
        low, high = d - Z95 * se, d + Z95 * se
    else:
        stat, va, vb = "share", float(a["share"]), float(b["share"])
        d = va - vb
        low, high = newcombe(va, na, vb, nb)
    return {"measure": measure, "statistic": stat, "a": va, "b": vb, "difference": d, "ci_low": low,
            "ci_high": high, "n_a": na, "n_b": nb, "differs": bool(low > 0 or high < 0)}


def judges_with_labels(db: Db = None) -> list[str]:
    """Judges whose labels give the models win rates."""
    with reading(db) as con:
        return column(con, JUDGES_WITH_WIN_RATES)
