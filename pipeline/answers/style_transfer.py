"""Forecasts a model could reach (issue 17): M's win rate under judge J if its responses had
another model's measured style (`--as M2`), or were scaled on a measure (`--scale tokens=1.5`).

1. J's controlled leaderboard model is fitted on J's battles in the group, with the style set
   as controls (form 'sign': each property's own rule on the measures; or 'continuous').
2. M's measures in each of its battles are replaced: on queries M2 also answered, by M2's
   measures on that query; elsewhere each measure is mapped onto M2's distribution by
   quantile (M's q-th quantile becomes M2's q-th). `--scale` multiplies them instead.
3. The features are recomputed from the new measures by each property's rule, and the model
   predicts M's win in each battle with M's and its opponents' strengths held fixed.
   forecast = M's measured win rate + the mean predicted change.
4. The interval: the parameters (strengths and weights) drawn from the fit's normal
   approximation (`BTResult.cov`), 2.5% and 97.5% quantiles of the forecast over draws.

What it assumes: the judge's choices follow the fitted model; only the measured style
changes (content and quality stay M's); the style of M2 carries over query by query.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy.special import expit

from ..model import bradley_terry as bt
from ..properties.measures import MEASURES as ALL_MEASURES
from ..store import db as dbmod
from ..queries import whatif as q
from . import board_controls as bc

DRAWS = 400
SEED = 0


class TransferError(ValueError):
    """The scenario can't be forecast (unknown model, measure, factor); says why."""


@dataclass
class Transfer:
    judge: str
    group: str
    property_set: str
    model: str
    as_model: str | None
    scenario: str
    n_pairs: int
    observed: float
    forecast: float
    ci_low: float
    ci_high: float
    observed_as: float | None
    seconds: float = 0.0


def parse_scale(text: str) -> dict[str, float]:
    """'tokens=1.5,headers=2' -> {'tokens': 1.5, 'headers': 2.0}; unknown measures and factors <= 0 refused."""
    out = {}
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in ALL_MEASURES:
            raise TransferError(f"--scale: unknown measure {name!r} (known: {', '.join(ALL_MEASURES)})")
        try:
            factor = float(value)
        except ValueError:
            raise TransferError(f"--scale: {part!r} needs a number after '=' (e.g. tokens=1.5)") from None
        if not np.isfinite(factor) or factor <= 0:
            raise TransferError(f"--scale: the factor of {name} must be a number above 0, got {value.strip()!r}")
        out[name] = factor
    if not out:
        raise TransferError("--scale needs MEASURE=FACTOR, e.g. tokens=1.5")
    return out


@dataclass(frozen=True)
class StyleBoard:
    """Step 1, a judge's style board as the forecasts fit it: the fit and the scaling of its
    continuous features. It is most of a forecast's time (a million battles: 15 of 20 s) and the
    same for every model and scenario, so the What if page keeps it (`style_transfer(board=...)`)."""

    judge: str
    group: str
    form: str
    fit: bt.BTResult
    scaling: tuple | None


def style_board(db, judge: str, group: str = "All", form: str = "continuous") -> StyleBoard:
    """Fit J's controlled board on all J's battles in the group, the style set as controls."""
    if form not in bc.FORMS:
        raise TransferError(f"--control-form {form!r} is not one of: {', '.join(bc.FORMS)}")
    with dbmod.reading(db) as con:
        all_pairs = group not in q.group_names(con)
        battles = q.transfer_battles(con, judge, group, all_pairs=all_pairs)
        if len(battles["pair_id"]) == 0:
            raise TransferError(f"judge {judge!r} has no labelled battles between named models in group {group!r}")
        ids, M1, M2 = bc.measure_matrix(con, ALL_MEASURES, group, all_pairs=all_pairs)
    pos = np.searchsorted(ids, battles["pair_id"])
    X, scaling = _features(M1[pos], M2[pos], form)
    y = (battles["preferred"] == 1).astype(float)
    props = [p.name for p in bc.style.STYLE_PROPERTIES]
    try:
        fit = bt.fit(battles["model_1"], battles["model_2"], y, X, props, min_battles=1)
    except bt.BTError as exc:
        raise TransferError(f"judge {judge!r}: {exc}") from None
    return StyleBoard(judge, group, form, fit, scaling)


def _read(db, judge: str, model: str, as_model: str | None, group: str):
    """What a scenario reads beside the board: the battles of M (and M2), the responses of each,
    and the measures of their pairs only."""
    with dbmod.reading(db) as con:
        all_pairs = group not in q.group_names(con)
        mine = q.model_responses(con, model, group, all_pairs=all_pairs)
        theirs = q.model_responses(con, as_model, group, all_pairs=all_pairs) if as_model else None
        battles = q.transfer_battles(con, judge, group, all_pairs=all_pairs,
                                     models=[model] + ([as_model] if as_model else []))
        wanted = np.unique(np.concatenate([battles["pair_id"], mine["pair_id"],
                                           theirs["pair_id"] if theirs is not None else np.zeros(0, np.int64)]))
        ids, M1, M2 = bc.measure_matrix(con, ALL_MEASURES, group, all_pairs=all_pairs, pair_ids=wanted.tolist())
    return battles, mine, theirs, (ids, M1, M2)


def _measures_of(responses: dict, ids, M1, M2) -> tuple[np.ndarray, np.ndarray]:
    """(queries, measures (n, k)) of a model's responses."""
    pos = np.searchsorted(ids, responses["pair_id"])
    side = responses["side"]
    return responses["query"], np.where((side == 1)[:, None], M1[pos], M2[pos])


def _transfer(mine_q, mine_M: np.ndarray, theirs_q, theirs_M: np.ndarray) -> np.ndarray:
    """M's measures as M2's: M2's own on a shared query, else M's quantile of M2's distribution."""
    out = np.empty_like(mine_M)
    for j in range(mine_M.shape[1]):
        ranks = (np.argsort(np.argsort(mine_M[:, j], kind="stable"), kind="stable") + 0.5) / len(mine_M)
        out[:, j] = inverted_cdf(theirs_M[:, j], ranks)
    by_query = {}
    for qtext, row in zip(theirs_q, theirs_M):
        by_query.setdefault(qtext, row)
    for i, qtext in enumerate(mine_q):
        if qtext in by_query:
            out[i] = by_query[qtext]
    return out


def inverted_cdf(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """np.quantile(values, q, method="inverted_cdf") for many q at once: one sort, then each q's
    index as numpy computes it (ceil(n q) - 1). numpy partitions the values at every q: at a
    million battles (190,000 responses of a model) the What if page's first visit took minutes."""
    ordered = np.sort(values)
    at = len(ordered) * np.asarray(q, dtype=float) - 1
    below = np.floor(at)
    index = np.where(at - below > 0, below + 1, below)
    return ordered[np.clip(index, 0, len(ordered) - 1).astype(np.intp)]


STYLE_COLUMNS = [ALL_MEASURES.index(m) for m in bc.MEASURES]  # the measures the style set counts


def _features(M1, M2, form: str, scaling=None) -> tuple[np.ndarray, tuple | None]:
    """The style features from all measures (only the style set's measures enter them)."""
    M1, M2 = M1[:, STYLE_COLUMNS], M2[:, STYLE_COLUMNS]
    if form == "sign":
        return bc.sign_features(M1, M2), None
    d = bc.normalised_difference(M1, M2)
    if scaling is None:
        _, mean, sd = bc.standardise(d)
        scaling = (mean, sd)
    return (d - scaling[0]) / scaling[1], scaling


def style_transfer(db=None, *, judge: str, model: str, as_model: str | None = None,
                   scale: dict[str, float] | None = None, group: str = "All", form: str = "continuous",
                   draws: int = DRAWS, seed: int = SEED, store: bool = True, board: StyleBoard | None = None
                   ) -> Transfer:
    """Forecast M's win rate under J as M2 (`as_model`) or with its measures scaled (`scale`).
    `board`: J's `style_board` for the group and form, fitted before (else it is fitted here)."""
    t0 = time.perf_counter()
    if (as_model is None) == (not scale):
        raise TransferError("give exactly one of --as MODEL and --scale MEASURE=FACTOR")
    if form not in bc.FORMS:
        raise TransferError(f"--control-form {form!r} is not one of: {', '.join(bc.FORMS)}")
    if board is not None and (board.judge, board.group, board.form) != (judge, group, form):
        raise ValueError(f"the board given is {board.judge!r}'s in {board.group!r} ({board.form}), "
                         f"not {judge!r}'s in {group!r} ({form})")
    battles, mine, theirs, (ids, M1, M2) = _read(db, judge, model, as_model, group)
    if len(mine["pair_id"]) == 0:
        raise TransferError(f"model {model!r} has no pairs in group {group!r}")
    if theirs is not None and len(theirs["pair_id"]) == 0:
        raise TransferError(f"--as {as_model!r}: that model has no pairs in group {group!r}, so no measured style")
    board = board or style_board(db, judge, group, form)
    fit = board.fit
    if model not in fit.models:
        raise TransferError(f"model {model!r} has no battles judged by {judge!r} in group {group!r}")
    pos = np.searchsorted(ids, battles["pair_id"])
    A1, A2 = M1[pos], M2[pos]
    y = (battles["preferred"] == 1).astype(float)
    m1, m2 = battles["model_1"], battles["model_2"]
    # M's battles: its measures replaced, the opponent's kept.
    on1, on2 = m1 == model, m2 == model
    sel = on1 | on2
    B1, B2 = A1[sel].copy(), A2[sel].copy()
    mine_now = np.where(on1[sel][:, None], B1, B2)
    if as_model is not None:
        tq, tM = _measures_of(theirs, ids, M1, M2)
        mq, mM = _measures_of(mine, ids, M1, M2)
        new_all = _transfer(mq, mM, tq, tM)
        by_pair = dict(zip(mine["pair_id"].tolist(), range(len(mM))))
        new = new_all[[by_pair[p] for p in battles["pair_id"][sel].tolist()]]
        scenario = f"as {as_model}"
    else:
        new = mine_now.copy()
        for name, factor in scale.items():
            new[:, ALL_MEASURES.index(name)] *= factor
        scenario = "scale " + ",".join(f"{k}={v:g}" for k, v in scale.items())
    first = on1[sel][:, None]
    X_old, _ = _features(B1, B2, form, board.scaling)  # as the board's features of these battles
    X_new, _ = _features(np.where(first, new, B1), np.where(first, B2, new), form, board.scaling)
    sign = np.where(on1[sel], 1.0, -1.0)
    index = {m: i for i, m in enumerate(fit.models)}
    a = np.array([index.get(v, -1) for v in m1[sel]])
    b = np.array([index.get(v, -1) for v in m2[sel]])
    keep = (a >= 0) & (b >= 0)
    varies = np.flatnonzero(~np.isnan(fit.weight))
    mean = np.r_[fit.strength, fit.weight[varies]]
    rng = np.random.default_rng(seed)
    theta = rng.multivariate_normal(mean, fit.cov, size=draws, method="eigh")
    S, W = theta[:, : len(fit.models)], theta[:, len(fit.models):]
    base = S[:, a[keep]] - S[:, b[keep]]                                  # (draws, battles)
    p_old = expit(sign[keep] * (base + W @ X_old[keep][:, varies].T))
    p_new = expit(sign[keep] * (base + W @ X_new[keep][:, varies].T))
    won = np.where(on1[sel], y[sel], 1 - y[sel])[keep]
    observed = float(won.mean())
    shift = (p_new - p_old).mean(1)
    lo, hi = np.quantile(observed + shift, [0.025, 0.975])
    observed_as = None
    if as_model is not None:
        w1, w2 = m1 == as_model, m2 == as_model
        if (w1 | w2).any():
            observed_as = float(np.where(w1, y, 1 - y)[w1 | w2].mean())
    result = Transfer(judge, group, "style" if form == "sign" else "style (continuous)", model, as_model, scenario,
                      int(keep.sum()), observed, float(observed + shift.mean()), float(lo), float(hi), observed_as)
    if store:
        write_transfer(db, result)
    result.seconds = time.perf_counter() - t0
    return result


def write_transfer(db, t: Transfer) -> None:
    row = (t.judge, t.group, t.property_set, t.model, t.as_model, t.scenario, t.n_pairs, t.observed, t.forecast,
           t.ci_low, t.ci_high, t.observed_as)
    transfer_t = pa.table({name: pa.array([v], kind)  # noqa: F841 - read by DuckDB
                           for (name, kind), v in zip(q.TRANSFER_COLUMNS.items(), row)})
    names = ", ".join(q.TRANSFER_COLUMNS)
    with dbmod.writing(db) as con:
        con.execute("DELETE FROM style_transfers WHERE judge = ? AND group_name = ? AND property_set = ? "
                    "AND model = ? AND scenario = ?", [t.judge, t.group, t.property_set, t.model, t.scenario])
        con.execute(f"INSERT INTO style_transfers ({names}) SELECT {names} FROM transfer_t")


__all__ = ["StyleBoard", "Transfer", "TransferError", "parse_scale", "style_board", "style_transfer",
           "write_transfer"]
