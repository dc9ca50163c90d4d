"""The Models page's data: each response model's battles, win rates and style profile, and how
two models' responses differ (as Feedback Forensics' model analysis does, from the data alone).

A profile is read from `response_measures` (one row per response side and measure: tokens,
words, headers, ...; pipeline/properties/measures.py): a model's responses are the sides it
wrote, one per battle.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..properties.measures import MEASURES
from .base import Db, column, frame, reading

Z95 = 1.959963984540054  # the normal 97.5% quantile: 95% intervals
LENGTH_MEASURES = ("tokens", "words", "characters")  # compared by their mean; the rest by a share with >= 1

# Each model's battles (the pairs it wrote a response of; a model can be on both sides of a pair),
# with the median and mean tokens of those responses (NULL where no response is measured).
BATTLES = """
    WITH sides AS (
        SELECT pair_id, 1 AS side, model_1 AS model FROM pairs UNION ALL SELECT pair_id, 2, model_2 FROM pairs)
    SELECT s.model, count(*) AS battles, median(m.value) AS median_tokens, avg(m.value) AS mean_tokens
    FROM sides s LEFT JOIN response_measures m ON m.pair_id = s.pair_id AND m.side = s.side AND m.measure = 'tokens'
    WHERE s.model IS NOT NULL GROUP BY s.model ORDER BY battles DESC, lower(s.model)
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
JUDGES_WITH_WIN_RATES = "SELECT DISTINCT judge FROM model_win_rates ORDER BY judge"
PROFILE_COLUMNS = ["measure", "n", "mean", "median", "share"]
DIFF_COLUMNS = ["measure", "statistic", "a", "b", "difference", "ci_low", "ci_high", "n_a", "n_b", "differs"]


def models(db: Db = None) -> pd.DataFrame:
    """model, battles, median_tokens, mean_tokens: every response model, most battles first."""
    with reading(db) as con:
        return frame(con, BATTLES)


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


def _summary(con, names: list[str]) -> pd.DataFrame:
    """Per model and measure, in the measures' fixed order (tokens, words, characters, then the
    style counts)."""
    df = frame(con, MEASURE_SUMMARY, {"models": names})
    rank = {m: i for i, m in enumerate(MEASURES)}
    return df.sort_values("measure", key=lambda m: m.map(lambda x: rank.get(x, len(rank))), kind="stable")


def profile(db: Db = None, model: str = "") -> pd.DataFrame:
    """A model's style profile: measure, n (responses), mean, median, share (of responses with at
    least one)."""
    with reading(db) as con:
        return _summary(con, [model])[PROFILE_COLUMNS].reset_index(drop=True)


def compare(db: Db = None, model_a: str = "", model_b: str = "") -> pd.DataFrame:
    """On which measures two models' responses differ: A's statistic minus B's, with a 95%
    interval. The mean for tokens/words/characters (Welch's normal interval); for the style
    counts, the share of responses with at least one (Newcombe's interval). `differs`: the
    interval excludes 0."""
    with reading(db) as con:
        df = _summary(con, [model_a, model_b])
    a, b = (df[df["model"] == m].set_index("measure") for m in (model_a, model_b))
    rows = [_difference(measure, a.loc[measure], b.loc[measure]) for measure in a.index if measure in b.index]
    return pd.DataFrame(rows, columns=DIFF_COLUMNS)


def _difference(measure: str, a: pd.Series, b: pd.Series) -> dict:
    na, nb = int(a["n"]), int(b["n"])
    if measure in LENGTH_MEASURES:
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
