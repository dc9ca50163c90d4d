"""Read-outs of fitted weights (SPEC section 6), as pure functions of numbers: preference
probability, judge similarity, per-pair SHAP values. No database here: the queries in
`pipeline.queries` read the weights and features and call these. The first two also
exist as SQL views (`preference_probability`, `judge_similarity`) for ad-hoc queries.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from ..properties.paper import PROPERTY_NAMES

OVERALL = "Overall"          # the similarity averaged over the scenario groups
METHODS = ("pearson", "spearman")
EXACT_MAX_DIFFERING = 14     # up to this many differing properties: exact Shapley (2^k coalitions, < 0.2 s)
SAMPLED_COALITIONS = 2 ** 14  # beyond: this many sampled coalitions (values within ~1e-3, about 1 s)


# ------------------------------------------------------------------ probability


def probability(weight):
    """100 * sigmoid(w): chance (in %) that response 1 wins when better on this property only."""
    return 100 * expit(weight)


# ------------------------------------------------------------------- similarity


def check_method(method: str) -> str:
    """The correlation method, or a ValueError naming the ones there are."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return method


def similarity_matrix(weights: pd.DataFrame, judges: Sequence[str], method: str = "pearson") -> pd.DataFrame:
    """Square judge x judge similarity from long weights (judge, group_name, property, weight).

    Per group: the correlation (Pearson, the paper's, or Spearman) of two judges' weights;
    over several groups: the mean of the per-group values where both judges have fits
    (how 'Overall' is made from the scenario groups). NaN where no group has both.
    `attrs['groups']` lists the groups averaged.
    """
    check_method(method)
    judges = list(judges)
    per_group = []
    for _, w in weights.groupby("group_name"):
        wide = w.pivot(index="property", columns="judge", values="weight")
        per_group.append(wide.reindex(columns=judges).corr(method=method).to_numpy())
    if per_group:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN cell stays NaN, as meant
            values = np.nanmean(np.stack(per_group), axis=0)
        values = np.clip(values, -1.0, 1.0)  # rounding can put a perfect correlation at 1.0000000000000004
    else:
        values = np.full((len(judges), len(judges)), np.nan)
    out = pd.DataFrame(values, index=pd.Index(judges, name="judge_a"), columns=pd.Index(judges, name="judge_b"))
    out.attrs.update(method=method, groups=sorted(weights["group_name"].unique()) if len(weights) else [])
    return out


# ------------------------------------------------------------------------- SHAP


@dataclass
class PairExplanation:
    """SHAP values of one pair for one judge's fit: values.sum() == fx - base_value."""

    pair_id: int | None
    judge: str | None
    group_name: str | None
    features: np.ndarray      # (k,) the pair's feature vector x
    weights: np.ndarray       # (k,) the judge's posterior mean weights w
    values: np.ndarray        # (k,) SHAP value of each property
    base_value: float         # f(0) = sigmoid(0) = 0.5: the all-zero background
    fx: float                 # f(x) = sigmoid(x . w): P(response 1 preferred)
    exact: bool               # exact Shapley values, or estimates from sampled coalitions
    source: str | None = None  # fits.source of the weights: 'fit' or an import
    names: tuple[str, ...] = ()  # the properties, in order (default: the paper's 29)
    property_set: str | None = None

    def frame(self) -> pd.DataFrame:
        """One row per property, biggest contribution first."""
        names = list(self.names) or PROPERTY_NAMES
        df = pd.DataFrame({"property": names, "feature": self.features.astype(int),
                           "weight": self.weights, "shap": self.values})
        return df.reindex(df["shap"].abs().sort_values(ascending=False).index).reset_index(drop=True)

    def as_dict(self) -> dict:
        """The shape the app's pages draw."""
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
    import shap  # heavy (seconds): the app imports it in the background at start (ui/warmup.py)

    w = np.asarray(w, dtype=float).ravel()
    n = w.size
    x = np.asarray(x, dtype=float).reshape(1, n)
    f = _model(w)
    k = int(np.count_nonzero(x))
    exact = k <= EXACT_MAX_DIFFERING
    explainer = shap.KernelExplainer(f, np.zeros((1, n)))
    if exact:  # every coalition: no sampling
        values = explainer.shap_values(x, nsamples=2 ** k + 2, l1_reg=False, silent=True)
    else:
        with _global_numpy_seed(seed):  # KernelExplainer samples with np.random
            values = explainer.shap_values(x, nsamples=SAMPLED_COALITIONS, l1_reg=False, silent=True)
    return (np.asarray(values, dtype=float).reshape(n), float(np.ravel(explainer.expected_value)[0]),
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


def explain_vector(x, w, *, names: Sequence[str] = (), pair_id: int | None = None, judge: str | None = None,
                   group: str | None = None, source: str | None = None,
                   property_set: str | None = None) -> PairExplanation:
    """SHAP explanation of a feature vector under weights w."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    values, base, fx, exact = shap_values(x, w)
    return PairExplanation(pair_id, judge, group, x, w, values, base, fx, exact, source, tuple(names),
                           property_set)


__all__ = ["METHODS", "OVERALL", "PairExplanation", "check_method", "explain_vector", "probability",
           "shap_values", "similarity_matrix"]
