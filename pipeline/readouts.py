"""Read-outs of the fitted weights (SPEC section 6): preference probability, judge
similarity, per-pair SHAP. The app and scripts call these; the first two also exist as
SQL views (`preference_probability`, `judge_similarity`) for ad-hoc queries.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from . import db as dbmod
from .properties import N_PROPERTIES, PROPERTY_NAMES

OVERALL = "Overall"
METHODS = ("pearson", "spearman")
EXACT_MAX_DIFFERING = 14     # up to this many differing properties: exact Shapley (2^k coalitions, < 0.2 s)
SAMPLED_COALITIONS = 2 ** 14  # beyond: this many sampled coalitions (values within ~1e-3, about 1 s)


# ------------------------------------------------------------------ probability


def probability(weight):
    """100 * sigmoid(w): chance (in %) that response 1 wins when better on this property only."""
    return 100 * expit(weight)


def preference_probability(db=None, *, judges=None, groups=None) -> pd.DataFrame:
    """The `preference_probability` view, optionally for some judges and groups."""
    sql = "SELECT * FROM preference_probability WHERE 1 = 1"
    params = []
    for col, values in (("judge", judges), ("group_name", groups)):
        if values:
            sql += f" AND list_contains(?, {col})"
            params.append(list(values))
    with dbmod.reading(db) as con:
        return con.execute(sql + " ORDER BY judge, group_name, property_index", params).df()


# ------------------------------------------------------------------- similarity


def scenario_groups(con) -> list[str]:
    """Groups that count towards Overall: kind 'scenario' (as the judge_similarity view decides)."""
    rows = con.execute("""
        SELECT group_name FROM (
            SELECT group_name, group_kind FROM fit_runs WHERE group_kind IS NOT NULL
            UNION SELECT DISTINCT group_name, group_kind FROM pair_groups)
        GROUP BY group_name HAVING min(group_kind) = 'scenario' ORDER BY group_name
    """).fetchall()
    return [r[0] for r in rows]


def judge_order(con) -> list[str]:
    """Judges with fits, humans first, then by size (unknown sizes first, as the biggest), then name."""
    rows = con.execute("""
        SELECT f.judge FROM (SELECT DISTINCT judge FROM fits) f
        LEFT JOIN judges j USING (judge)
        ORDER BY coalesce(j.kind = 'human', f.judge LIKE 'human%') DESC, j.size_b DESC NULLS FIRST, f.judge
    """).fetchall()
    return [r[0] for r in rows]


def _weights(con, groups: list[str]) -> pd.DataFrame:
    """Long fits: judge, group_name, property_index, weight."""
    return con.execute("""
        SELECT f.judge, f.group_name, p.property_index, f.weight
        FROM fits f JOIN properties p USING (property)
        WHERE list_contains(?, f.group_name)
    """, [groups]).df()


def _corr(weights: pd.DataFrame, judges: list[str], method: str) -> pd.DataFrame:
    """Judge x judge correlation of the 29 weights of one group (NaN where a judge has none)."""
    wide = weights.pivot(index="property_index", columns="judge", values="weight")
    return wide.reindex(columns=judges).corr(method=method)


def judge_similarity(db=None, group: str = OVERALL, method: str = "pearson",
                     judges: list[str] | None = None) -> pd.DataFrame:
    """Square judge x judge similarity matrix for a group, or 'Overall'.

    Pearson (the paper's) or Spearman correlation of the two judges' 29 weights;
    Overall is the mean over the scenario groups (query-specific groups excluded), taken
    over the groups where both judges have fits. Rows and columns follow `judges`, else
    `judge_order`. `attrs` hold the group, the method and the groups averaged.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    with dbmod.reading(db) as con:
        order = judge_order(con)
        groups = scenario_groups(con) if group == OVERALL else [group]
        weights = _weights(con, groups)
    judges = list(judges) if judges else order
    unknown = [j for j in judges if j not in order]
    if unknown:
        raise ValueError(f"no fits for judge(s): {', '.join(unknown)}")
    per_group = [_corr(w, judges, method) for _, w in weights.groupby("group_name")]
    if per_group:
        stacked = np.stack([m.to_numpy() for m in per_group])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN cell stays NaN, as meant
            values = np.nanmean(stacked, axis=0)
    else:
        values = np.full((len(judges), len(judges)), np.nan)
    out = pd.DataFrame(values, index=pd.Index(judges, name="judge_a"), columns=pd.Index(judges, name="judge_b"))
    out.attrs.update(group=group, method=method, groups=sorted(weights["group_name"].unique()))
    return out


# ------------------------------------------------------------------------- SHAP


@dataclass
class PairExplanation:
    """SHAP values of one pair for one judge's fit: values.sum() == fx - base_value."""

    pair_id: int | None
    judge: str | None
    group_name: str | None
    features: np.ndarray      # (29,) the pair's feature vector x
    weights: np.ndarray       # (29,) the judge's posterior mean weights w
    values: np.ndarray        # (29,) SHAP value of each property
    base_value: float         # f(0) = sigmoid(0) = 0.5: the all-zero background
    fx: float                 # f(x) = sigmoid(x . w): P(response 1 preferred)
    exact: bool               # exact Shapley values, or estimates from sampled coalitions
    source: str | None = None  # fits.source of the weights: 'fit' or an import

    def frame(self) -> pd.DataFrame:
        """One row per property, biggest contribution first."""
        df = pd.DataFrame({"property": PROPERTY_NAMES, "feature": self.features.astype(int),
                           "weight": self.weights, "shap": self.values})
        return df.reindex(df["shap"].abs().sort_values(ascending=False).index).reset_index(drop=True)

    def as_dict(self) -> dict:
        """The shape the app's explore layer uses."""
        return {"frame": self.frame(), "base": self.base_value, "fx": self.fx, "weights_source": self.source,
                "exact": self.exact}


def _model(w: np.ndarray):
    """The explained function: P(response 1 preferred) = sigmoid(x . w)."""
    return lambda X: expit(np.asarray(X, dtype=float) @ w)


def shap_values(x: np.ndarray, w: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, float, float, bool]:
    """(values, base value, f(x), exact) for one feature vector, with the shap library.

    Background is the single all-zero vector (SPEC 6), so a property where the pair
    doesn't differ is not 'varying' and gets exactly 0, and the values add up to
    f(x) - f(0) exactly. With one background row, the k differing properties have 2^k
    coalitions: up to EXACT_MAX_DIFFERING, shap's KernelExplainer enumerates them all
    (without regularisation that is the exact Shapley value); beyond, it samples
    SAMPLED_COALITIONS of them (values within ~1e-3). Why Kernel rather than shap's
    Exact or Permutation explainers: those compile numba kernels on first use, about
    ten seconds per process here, for a model this small.
    """
    import shap

    x = np.asarray(x, dtype=float).reshape(1, N_PROPERTIES)
    w = np.asarray(w, dtype=float).reshape(N_PROPERTIES)
    f = _model(w)
    k = int(np.count_nonzero(x))
    exact = k <= EXACT_MAX_DIFFERING
    explainer = shap.KernelExplainer(f, np.zeros((1, N_PROPERTIES)))
    if exact:  # every coalition: no sampling
        values = explainer.shap_values(x, nsamples=2 ** k + 2, l1_reg=False, silent=True)
    else:
        with _global_numpy_seed(seed):  # KernelExplainer samples with np.random
            values = explainer.shap_values(x, nsamples=SAMPLED_COALITIONS, l1_reg=False, silent=True)
    return (np.asarray(values, dtype=float).reshape(N_PROPERTIES), float(np.ravel(explainer.expected_value)[0]),
            float(f(x)[0]), exact)


@contextmanager
def _global_numpy_seed(seed: int):
    """Seed numpy's global generator for a block, then put its state back."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def explain_vector(x, w) -> PairExplanation:
    """SHAP explanation of a feature vector under weights w (no database)."""
    values, base, fx, exact = shap_values(x, w)
    return PairExplanation(None, None, None, np.asarray(x, float), np.asarray(w, float), values, base, fx, exact)


def pair_shap(db=None, *, judge: str, group: str, pair_id: int) -> PairExplanation:
    """SHAP explanation of one stored pair under a judge's fitted weights in a group."""
    with dbmod.reading(db) as con:
        w, source = _fit_vector(con, judge, group)
        x = _feature_vector(con, pair_id)
    values, base, fx, exact = shap_values(x, w)
    return PairExplanation(pair_id, judge, group, x, w, values, base, fx, exact, source)


def _fit_vector(con, judge: str, group: str) -> tuple[np.ndarray, str]:
    rows = con.execute("""
        SELECT p.property_index, f.weight, f.source FROM fits f JOIN properties p USING (property)
        WHERE f.judge = ? AND f.group_name = ?
    """, [judge, group]).fetchall()
    if len(rows) != N_PROPERTIES:
        raise ValueError(f"no fit for judge {judge!r} in group {group!r}")
    w = np.zeros(N_PROPERTIES)
    for i, weight, _ in rows:
        w[i] = weight
    return w, rows[0][2]


def _feature_vector(con, pair_id: int) -> np.ndarray:
    rows = con.execute("""
        SELECT p.property_index, f.value FROM features f JOIN properties p USING (property)
        WHERE f.pair_id = ?
    """, [pair_id]).fetchall()
    if not rows:
        raise ValueError(f"pair {pair_id} has no features (unknown, or not usable for fitting)")
    x = np.zeros(N_PROPERTIES)
    for i, value in rows:
        x[i] = value
    return x




__all__ = ["OVERALL", "PairExplanation", "explain_vector", "judge_order", "judge_similarity", "pair_shap",
           "preference_probability", "probability", "scenario_groups", "shap_values"]
