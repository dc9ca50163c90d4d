"""The Statistics page's data: response measures and each model's style, property scores,
prerequisites, property correlation, judge agreement (with intervals), length effect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import polars as pl
from scipy.stats import rankdata
from threadpoolctl import threadpool_limits

from ..properties.measures import MEASURES
from ..properties.sets import SET_PARTS
from ..answers.readouts import check_method
from .base import DEFAULT_PROPERTY_SET, SET_ORDER, Db, column, frame, polars_frame, reading
from .ordering import sort_judges_by_size

PROPERTY_STATS = "SELECT * FROM property_stats ORDER BY property_index"
PREREQUISITES = "SELECT * FROM prerequisite_counts"
SET_PROPERTIES = "SELECT p.property FROM properties p WHERE list_contains($parts, p.property_set) ORDER BY " + SET_ORDER
# Each feature of the set as (pair, column, value); columns in the set's order.
SET_FEATURE_CELLS = """
    WITH cols AS (SELECT p.property, (row_number() OVER (ORDER BY """ + SET_ORDER + """) - 1)::INTEGER AS col
                  FROM properties p WHERE list_contains($parts, p.property_set))
    SELECT f.pair_id, c.col, f.value FROM features f JOIN cols c USING (property)
"""
# Every label as (pair, judge column, choice): the agreement matrices are built from it.
LABEL_CELLS = """
    WITH cols AS (SELECT judge, (row_number() OVER (ORDER BY judge) - 1)::INTEGER AS col
                  FROM (SELECT DISTINCT judge FROM labels))
    SELECT l.pair_id, c.col, l.preferred AS value FROM labels l JOIN cols c USING (judge)
"""
JUDGE_COLUMNS = "SELECT DISTINCT judge FROM labels ORDER BY judge"
LENGTH_EFFECT = """
    SELECT e.judge, j.kind, j.size_b, e.n, e.longer_win_rate
    FROM length_effect e LEFT JOIN judges j USING (judge) ORDER BY e.longer_win_rate DESC, e.judge
"""
AGREEMENT_COLUMNS = ["judge_a", "judge_b", "n", "agreement", "kappa", "agreement_low", "agreement_high",
                     "kappa_low", "kappa_high", "kappa_position", "kappa_position_low", "kappa_position_high"]
Z95 = 1.959964  # as sql/judge_agreement.sql
COVERAGE = """
    SELECT (SELECT count(*) FROM pairs) AS n_pairs,
           (SELECT count(*) FROM pairs WHERE annotated) AS n_annotated,
           (SELECT count(*) FROM pairs WHERE coalesce(model_1, '') <> '' OR coalesce(model_2, '') <> '') AS n_with_models,
           (SELECT count(DISTINCT pair_id) FROM response_counts) AS n_measured  -- 2 rows a pair, not 24
"""
LABELLED_JUDGES = "SELECT judge, count(*) AS n FROM labels GROUP BY judge ORDER BY n DESC, judge"
MEASURE_SUMMARY = """
    SELECT measure, count(*) AS responses, avg(value) AS mean,
           quantile_cont(value, 0.1) AS p10, median(value) AS median, quantile_cont(value, 0.9) AS p90,
           max(value) AS max, avg(CASE WHEN value > 0 THEN 1.0 ELSE 0.0 END) AS share_nonzero
    FROM response_measures GROUP BY measure
"""
MEASURE_VALUES = "SELECT value FROM response_measures WHERE measure = $measure"
MODEL_STYLE = "SELECT * FROM model_style ORDER BY responses DESC, model"


def _cells(con, sql: str, params: dict, n_cols: int) -> np.ndarray:
    """A long (pair_id, col, value) query as a dense pairs x n_cols matrix (0 where a pair
    lacks a column; only pairs that have a row at all).

    polars takes DuckDB's Arrow result without a copy, and numpy fills the matrix in one
    indexed write: that replaces a pandas pivot (seconds at 100,000 pairs x 50 judges)."""
    cells = polars_frame(con, sql, params)
    if cells.is_empty():
        return np.zeros((0, n_cols), dtype=np.float32)
    ids = cells["pair_id"].to_numpy()
    lo, hi = int(ids.min()), int(ids.max())
    if hi - lo < 50_000_000:  # ids are dense in practice: index by id, drop the gaps
        rows = ids - lo
        present = np.zeros(hi - lo + 1, dtype=bool)
    else:
        rows = cells.select(pl.col("pair_id").rank("dense").cast(pl.Int64) - 1).to_series().to_numpy()
        present = np.zeros(int(rows.max()) + 1, dtype=bool)
    present[rows] = True
    out = np.zeros((len(present), n_cols), dtype=np.float32)
    out[rows, cells["col"].to_numpy()] = cells["value"].to_numpy()
    return out[present]


def property_stats(db: Db = None) -> pd.DataFrame:
    with reading(db) as con:
        return frame(con, PROPERTY_STATS)


def prerequisite_counts(db: Db = None) -> pd.DataFrame:
    with reading(db) as con:
        return frame(con, PREREQUISITES)


def property_correlation(db: Db = None, method: str = "pearson",
                         property_set: str = DEFAULT_PROPERTY_SET) -> pd.DataFrame:
    """Property x property correlation of a set's features over the pairs that have them
    (square DataFrame, the set's order)."""
    check_method(method)
    parts = list(SET_PARTS.get(property_set, (property_set,)))
    with reading(db) as con:
        names = column(con, SET_PROPERTIES, {"parts": parts})
        x = _cells(con, SET_FEATURE_CELLS, {"parts": parts}, len(names)).astype(float)
    if not len(x):
        return pd.DataFrame()
    if method == "spearman":
        x = rankdata(x, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"), threadpool_limits(1):  # see agreement()
        corr = np.corrcoef(x, rowvar=False) if len(x) > 1 else np.full((len(names), len(names)), np.nan)
    corr = np.atleast_2d(corr)
    constant = x.std(axis=0) == 0
    corr[constant, :] = np.nan  # a property that never differs has no correlation (as pandas says)
    corr[:, constant] = np.nan
    return pd.DataFrame(corr, index=names, columns=names)


def agreement(db: Db = None, judges: Sequence[str] | None = None) -> pd.DataFrame:
    """judge_a, judge_b, n, agreement, kappa for every ordered pair of judges that labelled
    common pairs, and the diagonal as 1: the `judge_agreement` view's numbers.

    The view joins the labels with themselves: 250 million rows at 100,000 pairs x 50
    judges, seconds. Here the same counts come from one pairs x judges matrix per choice
    (matrix products of 100,000 x 50: milliseconds); tests/queries check both agree."""
    with reading(db) as con:
        names = column(con, JUDGE_COLUMNS)
        choices = _cells(con, LABEL_CELLS, {}, len(names))
    if not names:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    one, two = (choices == 1).astype(np.float32), (choices == 2).astype(np.float32)
    labelled = one + two
    # float32 products count exactly (below 2**24); the ratios are taken in float64. One BLAS
    # thread: for a 50 x 50 result, threads only contend (0.6 s instead of 8 ms on a busy machine).
    with threadpool_limits(1):
        n = (labelled.T @ labelled).astype(float)               # pairs both judges labelled
        same = (one.T @ one + two.T @ two).astype(float)
        ones = (one.T @ labelled).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = same / n                            # same choice
        pa = ones / n                               # a's rate of response 1 on those pairs
        pb = pa.T
        chance = pa * pb + (1 - pa) * (1 - pb)
        kappa = np.where(chance == 1, np.nan, (share - chance) / (1 - chance))
        bounds = agreement_intervals(share, n, chance)
    a, b = np.nonzero(n > 0)
    df = pd.DataFrame({"judge_a": np.array(names, dtype=object)[a], "judge_b": np.array(names, dtype=object)[b],
                       "n": n[a, b].astype("int64"), "agreement": share[a, b], "kappa": kappa[a, b],
                       **{k: v[a, b] for k, v in bounds.items()}})
    diag = df["judge_a"] == df["judge_b"]
    df.loc[diag, ["agreement", "kappa", "kappa_position"]] = 1.0
    df.loc[diag, [c for c in bounds if c != "kappa_position"]] = np.nan  # no interval for a judge with itself
    if judges:
        df = df[df["judge_a"].isin(judges) & df["judge_b"].isin(judges)]
    return df[AGREEMENT_COLUMNS].reset_index(drop=True)


def wilson(share, n, z: float = Z95):
    """Wilson's interval of a share of n (arrays or numbers): (low, high)."""
    mid = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(np.maximum(share * (1 - share), 0) / n + z * z / (4 * n * n))
    return mid - half, mid + half


def agreement_intervals(share, n, chance, z: float = Z95) -> dict:
    """The judge_agreement view's 95% intervals and position-adjusted kappa (see its SQL):
    Wilson for the share; Cohen's kappa +- z sqrt(p_o (1 - p_o) / n) / (1 - p_e) within [-1, 1];
    the position-adjusted kappa 2 p_o - 1 with Wilson's interval mapped by 2x - 1."""
    low, high = wilson(share, n, z)
    kappa = np.where(chance == 1, np.nan, (share - chance) / (1 - chance))
    se = np.where(chance == 1, np.nan, np.sqrt(np.maximum(share * (1 - share), 0) / n) / (1 - chance))
    return {"agreement_low": low, "agreement_high": high,
            "kappa_low": np.maximum(-1, kappa - z * se), "kappa_high": np.minimum(1, kappa + z * se),
            "kappa_position": 2 * share - 1, "kappa_position_low": 2 * low - 1, "kappa_position_high": 2 * high - 1}


def agreement_with(df: pd.DataFrame, judge: str) -> pd.DataFrame:
    """One judge's agreement with each other judge: other judge, n, agreement, kappa (most alike first)."""
    mine = df[(df["judge_a"] == judge) & (df["judge_b"] != judge)]
    return (mine[["judge_b", "n", "agreement", "kappa"]].rename(columns={"judge_b": "other judge"})
            .sort_values("agreement", ascending=False))


def agreement_order(df: pd.DataFrame, sizes: Mapping[str, float] | None = None) -> list[str]:
    """The judges of an agreement frame, human first, then by size."""
    return sort_judges_by_size(pd.unique(df["judge_a"]), sizes)


def length_effect(db: Db = None) -> pd.DataFrame:
    """judge, kind, size_b, n, longer_win_rate (how often the longer response wins), and its
    95% Wilson interval (longer_low, longer_high)."""
    with reading(db) as con:
        df = frame(con, LENGTH_EFFECT)
    df["longer_low"], df["longer_high"] = wilson(df["longer_win_rate"].to_numpy(float), df["n"].to_numpy(float))
    return df


def coverage(db: Db = None) -> dict:
    """What the Statistics page can show: n_pairs, n_annotated (with the paper's annotations),
    n_with_models (pairs that name a response model), n_measured, and the labelled judges
    (name -> labels, most first)."""
    with reading(db) as con:
        cur = con.execute(COVERAGE)
        out = dict(zip([d[0] for d in cur.description], cur.fetchone()))
        out["judges"] = dict(con.execute(LABELLED_JUDGES).fetchall())
    return out


def measure_summary(db: Db = None) -> pd.DataFrame:
    """Per measure (in `MEASURES` order): responses, mean, p10, median, p90, max, share_nonzero."""
    with reading(db) as con:
        df = frame(con, MEASURE_SUMMARY)
    order = {m: i for i, m in enumerate(MEASURES)}
    return df.sort_values("measure", key=lambda s: s.map(lambda m: order.get(m, len(order)))).reset_index(drop=True)


def measure_histogram(db: Db = None, measure: str = "tokens", bins: int = 30) -> pd.DataFrame:
    """One measure's distribution over all responses: bin_start, bin_end, responses. The bins
    span 0 to the 99th percentile; the last bin also holds the longer tail (`tail` says so)."""
    with reading(db) as con:
        values = polars_frame(con, MEASURE_VALUES, {"measure": measure})["value"].to_numpy()
    if not len(values):
        return pd.DataFrame(columns=["bin_start", "bin_end", "responses", "tail"])
    top = max(float(np.quantile(values, 0.99)), 1.0)
    integral = np.all(values == np.round(values))
    edges = (np.unique(np.ceil(np.linspace(0, top + 1, bins + 1))) if integral else np.linspace(0, top, bins + 1))
    counts, _ = np.histogram(np.minimum(values, edges[-1] - 1e-9), bins=edges)
    tail = np.zeros(len(counts), dtype=bool)
    tail[-1] = bool((values >= edges[-1]).any())
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "responses": counts, "tail": tail})


def model_style(db: Db = None) -> pd.DataFrame:
    """The `model_style` view, models with most responses first."""
    with reading(db) as con:
        return frame(con, MODEL_STYLE)


def mean_scores(stats: pd.DataFrame) -> pd.DataFrame:
    """The rated properties of property_stats (mean score 0..3), for the bar chart."""
    return stats[stats["measure"] == "mean score"].dropna(subset=["mean_score"])


def long_matrix(matrix: pd.DataFrame, a: str, b: str, value: str, digits: int = 2) -> pd.DataFrame:
    """A square matrix as rows (a, b, value), rounded, for a heatmap."""
    m = matrix.copy()
    m.index.name = a
    long = m.reset_index().melt(id_vars=a, var_name=b, value_name=value)
    long[value] = long[value].round(digits)
    return long


__all__ = ["agreement", "agreement_intervals", "agreement_order", "coverage", "length_effect", "long_matrix",
           "mean_scores", "measure_histogram", "measure_summary", "model_style", "prerequisite_counts",
           "property_correlation", "property_stats", "wilson"]
