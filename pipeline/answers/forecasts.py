"""Manipulation forecasts (issue 10, part 3): what if a model's responses became better, or
worse, on one property and nothing else changed?

For a judge J (its fit in a group and property set), a response model M and a property p:
over the pairs of the group in which M meets another model, the features are turned to
M's side (M as response 1), the feature p is set to "M better" (at least +1) or "M worse"
(at most -1), and J's fitted model predicts M's win rate again. The shift is the mean
change of sigmoid(x . w) over those pairs.

The interval carries the weights' uncertainty: weights are drawn from the fit's posterior,
approximated by independent normals (posterior mean and sd per weight; the fits table
keeps no correlations), and the shift is computed for every draw; the 2.5% and 97.5%
quantiles make the 95% interval, the mean over draws the point forecast. Imported fits
have no sd, so their forecasts have no interval.

This is a forecast from the fitted model, not a measured benchmark run: it assumes J's
choices follow the model and that a change on p leaves every other property as it was.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import expit

from ..store import db as dbmod
from ..model.bradley_terry import one_blas_thread
from ..queries import whatif as q

DRAWS = 400
SEED = 0
DEFAULT_SET = "paper"
DEFAULT_GROUP = "All"
DIRECTIONS = ("better", "worse")
BLOCK = 512  # distinct feature rows computed at a time: their arrays stay in the CPU cache
SAFE = 300.0  # |exponent| up to which exp(-l) exp(-a) neither overflows nor underflows to 0


class ForecastError(ValueError):
    """The request can't be answered (no fit, unknown model); says why."""


@dataclass
class Forecast:
    property: str
    direction: str
    n_pairs: int
    win_rate: float          # predicted win rate of the model as it is (mean over draws)
    shift: float             # predicted change of that win rate
    ci_low: float | None
    ci_high: float | None


@dataclass
class WhatIfReport:
    judge: str
    model: str
    group: str
    property_set: str
    n_pairs: int
    rows: list[Forecast] = field(default_factory=list)
    seconds: float = 0.0

    def ranked(self, direction: str | None = None) -> list[Forecast]:
        rows = [r for r in self.rows if direction is None or r.direction == direction]
        return sorted(rows, key=lambda r: -r.shift)


def shifts(Xm: np.ndarray, mean: np.ndarray, sd: np.ndarray | None, *, draws: int = DRAWS,
           seed: int = SEED) -> tuple[np.ndarray, dict[tuple[int, str], np.ndarray]]:
    """Win-rate draws of the model as it is, and shift draws per (property index, direction).

    Xm: (n, P) features from the model's side (+1: the model's response has more of it).
    """
    mean = np.asarray(mean, dtype=float)
    if sd is None or not np.isfinite(sd).all() or not (np.asarray(sd) > 0).any():
        W = mean[None, :]
    else:
        rng = np.random.default_rng(seed)
        W = mean + rng.standard_normal((draws, len(mean))) * np.asarray(sd, dtype=float)
    Xm = np.asarray(Xm, dtype=float)
    n = len(Xm)
    out = {(j, d): np.zeros(len(W)) for j in range(len(mean)) for d in DIRECTIONS}
    if n == 0:
        return np.full(len(W), np.nan), out
    # Pairs with the same feature row predict the same: each distinct row is computed
    # once, weighted by how often it occurs (ternary features repeat a lot).
    U, count = np.unique(Xm, axis=0, return_counts=True)
    wins_now = np.zeros(len(W))
    for start in range(0, len(U), BLOCK):
        block = _Block(U[start:start + BLOCK], count[start:start + BLOCK], W)
        wins_now += block.now.sum(0)
        for j in range(U.shape[1]):
            block.move(j, W[:, j], out)
    for key in out:
        out[key] /= n
    return wins_now / n, out


class _Block:
    """Some distinct feature rows (count: pairs with that row) and their predictions under every draw.

    sigmoid(l + a) = 1 / (1 + exp(-l) exp(-a)), and count * that = 1 / (1/count +
    exp(-l)/count * exp(-a)): with exp(-l)/count kept, a change of one feature costs a
    multiply, an add and a division per row and draw, not an exp, and the sum over rows is
    a column sum. Used while every exponent stays within SAFE (no overflow, no inf * 0);
    beyond, the sigmoid itself, pair row by pair row.
    """

    def __init__(self, U: np.ndarray, count: np.ndarray, W: np.ndarray):
        self.U, self.count = U, count[:, None].astype(float)
        self.logits = U @ W.T                                   # (rows, draws)
        self.tame = bool(np.abs(self.logits).max() <= SAFE)
        if self.tame:
            self.add = 1.0 / self.count
            self.scaled = np.exp(-self.logits) * self.add
            self.now = 1.0 / (self.add + self.scaled)        # expected wins of each distinct row
        else:
            self.now = self.count * expit(self.logits)

    def move(self, j: int, w: np.ndarray, out: dict) -> None:
        """Add the change of expected wins when feature j turns "better" or "worse" from the model's side."""
        v = self.U[:, j]
        values, which = np.unique(v, return_inverse=True)
        deltas = [{"better": max(x, 1.0) - x, "worse": min(x, -1.0) - x} for x in values]
        reach = max(abs(d) for ds in deltas for d in ds.values()) * np.abs(w).max()
        if not self.tame or len(values) > 16 or reach > SAFE:
            for direction in DIRECTIONS:  # per row, as the definition reads
                delta = (np.maximum(v, 1.0) if direction == "better" else np.minimum(v, -1.0)) - v
                rows = np.flatnonzero(delta)
                moved = self.count[rows] * expit(self.logits[rows] + delta[rows, None] * w[None, :])
                out[(j, direction)] += moved.sum(0) - self.now[rows].sum(0)
            return
        for k, by_direction in enumerate(deltas):  # rows sharing a value of feature j share its change
            if not any(by_direction.values()):
                continue
            rows = np.flatnonzero(which == k)
            part, part_add, before = self.scaled[rows], self.add[rows], self.now[rows].sum(0)
            buf = np.empty_like(part)
            for direction, delta in by_direction.items():
                if not delta or not w.any():  # nothing changes
                    continue
                np.multiply(part, np.exp(-delta * w), out=buf)  # in place: these arrays are the whole cost
                buf += part_add
                np.reciprocal(buf, out=buf)
                out[(j, direction)] += buf.sum(0) - before


def _matrix(feats: dict, n_props: int) -> np.ndarray:
    """(pairs with every feature of the set) x P, from the model's side, in pair_id order."""
    ids, row = np.unique(feats["pair_id"], return_inverse=True)
    X = np.full((len(ids), n_props), np.nan)
    X[row, feats["col"]] = feats["value"]
    side = np.empty(len(ids))
    side[row] = feats["side"]
    X *= side[:, None]
    return X[~np.isnan(X).any(1)]


def read_inputs(db, judge: str, model: str, group: str, property_set: str):
    with dbmod.reading(db) as con:
        fitted = q.fitted(con)
        if not any(f[0] == judge for f in fitted):
            raise ForecastError(f"judge {judge!r} has no fits: run `python -m pipeline fit` first "
                                f"(fitted: {', '.join(sorted({f[0] for f in fitted})) or 'none'})")
        if (judge, group, property_set) not in fitted:
            have = sorted({f"{g} / {s}" for j, g, s in fitted if j == judge})
            raise ForecastError(f"judge {judge!r} has no fit in group {group!r} with property set "
                                f"{property_set!r} (it has: {', '.join(have)})")
        models = q.models(con)
        if model not in models:
            raise ForecastError(f"unknown response model: {model} (known: {', '.join(models[:20])}"
                                + (" ..." if len(models) > 20 else "") + ")")
        rows = q.weights(con, judge, group, property_set)
        props = [r[0] for r in rows]
        all_pairs = group not in q.group_names(con)
        feats = q.model_features(con, model, group, props, all_pairs=all_pairs)
    mean = np.array([r[1] for r in rows], dtype=float)
    sd = None if any(r[2] is None for r in rows) else np.array([r[2] for r in rows], dtype=float)
    return props, mean, sd, _matrix(feats, len(props))


def what_if(db=None, *, judge: str, model: str, group: str = DEFAULT_GROUP, property_set: str = DEFAULT_SET,
            properties: Sequence[str] | None = None, draws: int = DRAWS, seed: int = SEED,
            store: bool = True) -> WhatIfReport:
    """Forecast the win-rate shift of `model` under `judge` for every property (or the chosen)."""
    t0 = time.perf_counter()
    props, mean, sd, Xm = read_inputs(db, judge, model, group, property_set)
    if len(Xm) == 0:
        raise ForecastError(f"model {model!r} has no pairs with every {property_set!r} feature in group {group!r}")
    chosen = list(range(len(props)))
    if properties:
        unknown = [p for p in properties if p not in props]
        if unknown:
            raise ForecastError(f"not in property set {property_set!r}: {', '.join(unknown)}")
        chosen = [props.index(p) for p in dict.fromkeys(properties)]
    with one_blas_thread():
        base, draws_by = shifts(Xm, mean, sd, draws=draws, seed=seed)
    report = WhatIfReport(judge, model, group, property_set, len(Xm))
    interval = sd is not None
    for j in chosen:
        for direction in DIRECTIONS:
            d = draws_by[(j, direction)]
            lo, hi = np.quantile(d, [0.025, 0.975]) if interval else (None, None)
            report.rows.append(Forecast(props[j], direction, len(Xm), float(base.mean()), float(d.mean()),
                                        None if lo is None else float(lo), None if hi is None else float(hi)))
    if store:
        write_results(db, report)
    report.seconds = time.perf_counter() - t0
    return report


def forecast_frame(db, judge: str, model: str, group: str = DEFAULT_GROUP,
                   property_set: str = DEFAULT_SET) -> tuple[pd.DataFrame, bool]:
    """The stored forecasts of a judge x model (and whether they were stored), else computed
    now and not stored (cheap: one model's pairs); for the What-if page."""
    stored = q.stored(db, judge, model, group, property_set)
    if len(stored):
        return stored, True
    report = what_if(db, judge=judge, model=model, group=group, property_set=property_set, store=False)
    df = pd.DataFrame([vars(r) for r in report.rows])
    df["forecast"] = df["win_rate"] + df["shift"]
    return df.sort_values(["shift", "property"], ascending=[False, True]).reset_index(drop=True), False


def write_results(db, report: WhatIfReport) -> None:
    """Replace this judge x model x group x set's forecasts of these properties."""
    rows = [(report.judge, report.group, report.property_set, report.model, r.property, r.direction, r.n_pairs,
             r.win_rate, r.shift, r.ci_low, r.ci_high) for r in report.rows]
    cols = list(zip(*rows)) if rows else [[] for _ in q.FORECAST_COLUMNS]
    forecast_t = pa.table({name: pa.array(list(v), kind)  # noqa: F841 - read by DuckDB
                      for (name, kind), v in zip(q.FORECAST_COLUMNS.items(), cols)})
    names = ", ".join(q.FORECAST_COLUMNS)
    with dbmod.writing(db) as con:
        con.execute("DELETE FROM forecasts WHERE judge = ? AND group_name = ? AND property_set = ? AND model = ? "
                    "AND list_contains(?, property)", [report.judge, report.group, report.property_set,
                                                       report.model, sorted({r.property for r in report.rows})])
        con.execute(f"INSERT INTO forecasts ({names}) SELECT {names} FROM forecast_t")


__all__ = ["DIRECTIONS", "Forecast", "ForecastError", "WhatIfReport", "forecast_frame", "shifts", "what_if",
           "write_results"]
