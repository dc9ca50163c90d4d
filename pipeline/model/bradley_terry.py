"""Bradley-Terry strengths of response models, optionally with covariates (style control).

The model, for one judge's battles (a pair is a battle between `model_1` and `model_2`):

    P(response 1 preferred) = sigmoid(s[model_1] - s[model_2] + x . beta)

where s are the models' strengths (log-odds) and x the pair's feature differences
(response 1 against response 2) of the controlling properties, beta their weights. This is
LMArena's style control with any properties as covariates; without covariates it is the
plain Bradley-Terry model. There is no intercept: as in the dissection model, response 1
and response 2 are exchangeable.

Identifiability: adding a constant to every strength changes nothing, so strengths are
centred (they sum to zero). The fit works in an orthonormal basis of that sum-to-zero
subspace, so the intervals are those of the centred strengths.

Estimation: maximum likelihood by Newton's method, with a vague normal prior (sd 100 on
the log-odds scale) that only matters when a model wins or loses all its battles (the
plain MLE would be infinite then); elsewhere it moves strengths by far less than 1e-3.
Intervals (`ci`): normal approximation from the Hessian at the mode (95%: +-1.96 standard
errors, the default), the sandwich estimator, or a seeded bootstrap over battles
(`bt_intervals`, arena-rank's two methods). Outcomes may be fractional: 0.5 is a tie counted
as half a win for each side (LMArena's convention).

Elo-like scale, for people used to Arena: elo = 400 / ln(10) * s + 1000, so that a gap of
400 points means 10:1 odds, as in Elo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import null_space
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit

from . import bt_intervals as bti
from .blas import one_blas_thread

Z95 = 1.959963984540054
ELO_SCALE = 400.0 / np.log(10.0)
ELO_BASE = 1000.0
RIDGE = 1e-4            # precision of the vague prior (sd 100) on strengths and weights
MAX_NEWTON = 100
DECREMENT = 1e-18       # Newton stops when the loss can fall by less than this part of itself
CI_METHOD = "normal approximation from the Hessian at the mode (95%)"


class BTError(ValueError):
    """The battles can't be fitted (no models left, bad shapes); says why."""


@dataclass
class BTResult:
    models: list[str]                 # models kept, in the order of the arrays below
    strength: np.ndarray              # centred log-odds strengths
    se: np.ndarray
    n_battles: np.ndarray             # battles of each kept model that were fitted
    covariates: list[str]
    weight: np.ndarray                # covariate weights (log-odds per unit); NaN: no battle differs on it
    weight_se: np.ndarray
    n_fitted: int                     # battles fitted (between kept models)
    left_out: dict[str, int] = field(default_factory=dict)  # model -> its battles, when left out
    converged: bool = True
    ci_method: str = CI_METHOD
    low: np.ndarray | None = None          # percentile bounds (bootstrap); None: +-1.96 se
    high: np.ndarray | None = None
    weight_low: np.ndarray | None = None
    weight_high: np.ndarray | None = None
    heldout_log_loss: float | None = None  # k-fold, when asked for
    cov: np.ndarray | None = None          # covariance of [strength (centred), weights that vary]

    @property
    def ci_low(self) -> np.ndarray:
        return self.strength - Z95 * self.se if self.low is None else self.low

    @property
    def ci_high(self) -> np.ndarray:
        return self.strength + Z95 * self.se if self.high is None else self.high

    @property
    def weight_ci(self) -> tuple[np.ndarray, np.ndarray]:
        if self.weight_low is not None:
            return self.weight_low, self.weight_high
        return self.weight - Z95 * self.weight_se, self.weight + Z95 * self.weight_se

    @property
    def rank(self) -> np.ndarray:
        return ranks(self.strength)

    def by_model(self) -> dict[str, float]:
        return dict(zip(self.models, self.strength.tolist()))


def elo(strength):
    """The Elo-like scale of a log-odds strength."""
    return ELO_SCALE * np.asarray(strength, dtype=float) + ELO_BASE


def ranks(strength: np.ndarray) -> np.ndarray:
    """1 for the strongest; equal strengths share the better rank."""
    s = np.asarray(strength, dtype=float)
    return 1 + (s[None, :] > s[:, None]).sum(1)


def _counts(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(a, minlength=n) + np.bincount(b, minlength=n)


def select_models(a: np.ndarray, b: np.ndarray, n_models: int, min_battles: int) -> np.ndarray:
    """Models kept: at least `min_battles` battles among kept models, all in one connected
    comparison graph (strengths of separate components can't be compared). Repeated until
    stable, since leaving a model out takes its battles from its opponents."""
    keep = np.ones(n_models, dtype=bool)
    while True:
        live = keep[a] & keep[b]
        counts = _counts(a[live], b[live], n_models)
        new = keep & (counts >= max(min_battles, 1))
        live = new[a] & new[b]
        if live.any():
            graph = coo_matrix((np.ones(live.sum()), (a[live], b[live])), shape=(n_models, n_models))
            _, comp = connected_components(graph, directed=False)
            sizes = np.bincount(comp[new], minlength=comp.max() + 1)
            new &= comp == np.argmax(sizes)
        else:
            new[:] = False
        if (new == keep).all():
            return keep
        keep = new


def _sum_zero_basis(m: int) -> np.ndarray:
    """An m x (m-1) orthonormal basis of {s : sum(s) = 0}."""
    return null_space(np.ones((1, m)))


def newton(D: np.ndarray, wins: np.ndarray, trials: np.ndarray | None = None,
           ridge: float = RIDGE, start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Mode and inverse Hessian of the ridge-penalised binomial logistic log-likelihood (no
    intercept): row i of D stands for trials[i] battles (default 1), wins[i] of them won.
    `start`: where to begin (a refit on resampled or held-in battles starts at the full fit)."""
    n, p = D.shape
    trials = np.ones(n) if trials is None else np.asarray(trials, dtype=float)
    losses = trials - wins
    theta = np.zeros(p) if start is None else np.asarray(start, dtype=float).copy()
    if p == 0:
        return theta, np.zeros((0, 0)), True

    def loss(t):
        eta = D @ t
        return -(log_expit(eta) @ wins + log_expit(-eta) @ losses) + 0.5 * ridge * t @ t

    # D weighted by each row's variance, written into one array for every step: a new one each
    # step (250 MB at a million battles) cost its page faults again, seconds on a busy machine
    weighted = np.empty_like(D, dtype=float)

    def hessian(t):
        mu = expit(D @ t)
        np.multiply(D, (trials * mu * (1 - mu))[:, None], out=weighted)
        return mu, weighted.T @ D + ridge * np.eye(p)

    current = loss(theta)
    converged = False
    for _ in range(MAX_NEWTON):
        mu, H = hessian(theta)
        grad = D.T @ (trials * mu - wins) + ridge * theta
        step = np.linalg.solve(H, grad)
        # The Newton decrement (grad . step) bounds what the loss can still fall. Far below the
        # loss's own rounding the step is noise: where the Hessian is ill-conditioned (a covariate
        # that barely varies), a gradient of 1e-12 still makes steps of 1e-9, and the step rule
        # below alone ran all MAX_NEWTON steps (a million battles: 90 instead of 6, 28 s).
        if grad @ step < DECREMENT * max(1.0, abs(current)):
            converged = True
            break
        t = 1.0
        while True:  # halve the step until the loss goes down (Newton can overshoot)
            trial = theta - t * step
            new = loss(trial)
            if new <= current + 1e-12 or t < 1e-8:
                break
            t *= 0.5
        theta, current = trial, new
        if np.max(np.abs(t * step)) < 1e-10:
            converged = True
            break
    return theta, np.linalg.inv(hessian(theta)[1]), converged


AGGREGATE_MAX_COVARIATES = 4  # beyond that nearly every battle is a row of its own: not worth sorting


def _aggregate(a: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray):
    """Battles with the same models and features, as one row with its trials and wins (the
    likelihood is the same; a raw board of m models has at most m(m-1) rows)."""
    ua, ub, uX, wins, trials, _ = aggregate(a, b, X, y)
    return ua, ub, uX, wins, trials


def aggregate(a: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray):
    """`_aggregate`, plus each battle's row (None when not aggregated)."""
    if X.shape[1] > AGGREGATE_MAX_COVARIATES:
        return a, b, X, y, np.ones(len(y)), None
    keys = np.column_stack([a, b, X])
    rows, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    trials = np.bincount(inverse, minlength=len(rows)).astype(float)
    wins = np.bincount(inverse, weights=y, minlength=len(rows))
    return rows[:, 0].astype(int), rows[:, 1].astype(int), rows[:, 2:], wins, trials, inverse


def fit(model_1: Sequence[str], model_2: Sequence[str], y: Sequence[float],
        X: np.ndarray | None = None, covariates: Sequence[str] = (), *, min_battles: int = 1,
        ridge: float = RIDGE, ci: str = "hessian", bootstrap: int = 100, seed: int = 0,
        heldout_folds: int = 0) -> BTResult:
    """Fit strengths (and covariate weights) from battles; y = 1 where response 1 won (0.5: a tie).

    Battles of a model against itself, or with a model missing, say nothing about
    strengths and are dropped. Models with fewer than `min_battles` battles, or outside
    the largest connected set of models, are left out (`BTResult.left_out`). `ci` picks the
    interval method (`bt_intervals.CI_METHODS`); `heldout_folds` > 1 adds the k-fold log loss.
    """
    if ci not in bti.CI_METHODS:
        raise BTError(f"unknown interval method {ci!r} (expected {', '.join(bti.CI_METHODS)})")
    m1 = np.asarray(model_1, dtype=object)
    m2 = np.asarray(model_2, dtype=object)
    y = np.asarray(y, dtype=float)
    k = len(covariates)
    X = np.zeros((len(y), 0)) if X is None else np.asarray(X, dtype=float).reshape(len(y), -1)
    if not (len(m1) == len(m2) == len(y) == len(X)) or X.shape[1] != k:
        raise BTError("battles, outcomes and covariates must have matching lengths")
    valid = np.array([a is not None and b is not None and a == a and b == b and a != b
                      for a, b in zip(m1, m2)], dtype=bool)
    m1, m2, y, X = m1[valid], m2[valid], y[valid], X[valid]
    names = sorted(set(m1.tolist()) | set(m2.tolist()), key=str)
    index = {name: i for i, name in enumerate(names)}
    a = np.array([index[v] for v in m1], dtype=int)
    b = np.array([index[v] for v in m2], dtype=int)
    all_counts = _counts(a, b, len(names))
    keep = select_models(a, b, len(names), min_battles)
    left_out = {names[i]: int(all_counts[i]) for i in np.flatnonzero(~keep)}
    kept = np.flatnonzero(keep)
    if len(kept) < 2:
        raise BTError(f"fewer than two models with at least {min_battles} battles against each other")
    new_index = -np.ones(len(names), dtype=int)
    new_index[kept] = np.arange(len(kept))
    live = keep[a] & keep[b]
    a, b, y, X = new_index[a[live]], new_index[b[live]], y[live], X[live]
    m = len(kept)
    Z = _sum_zero_basis(m)
    # A covariate on which no fitted battle differs has no estimate (NaN), not the prior's 0 +- 196.
    varies = np.flatnonzero((X != 0).any(0))
    ua, ub, uX, wins, trials, inverse = aggregate(a, b, X[:, varies], y)

    with one_blas_thread():
        theta, cov, converged = newton(np.hstack([Z[ua] - Z[ub], uX]), wins, trials, ridge)

        def fitter(D, w, t):
            return newton(D, w, t, ridge, start=theta)

        D = None
        if ci != "hessian" or (heldout_folds > 1 and inverse is None):
            D = np.hstack([Z[a] - Z[b], X[:, varies]])
        draws = None
        if ci == "sandwich":
            cov = bti.sandwich_cov(D, y, theta, ridge)
        elif ci == "bootstrap":
            if inverse is not None:  # resample battles, fit on their distinct rows
                draws = bti.bootstrap_draws(np.hstack([Z[ua] - Z[ub], uX]), y, fitter, n=max(int(bootstrap), 2),
                                            seed=seed, rows=inverse)
            else:
                draws = bti.bootstrap_draws(D, y, fitter, n=max(int(bootstrap), 2), seed=seed)
            cov = np.cov(draws, rowvar=False).reshape(len(theta), len(theta))
        loss = None
        if heldout_folds > 1 and inverse is not None:  # folds summed onto the distinct rows
            loss = bti.heldout_log_loss(np.hstack([Z[ua] - Z[ub], uX]), y, fitter, folds=heldout_folds, seed=seed,
                                        rows=inverse)
        elif heldout_folds > 1:
            loss = bti.heldout_log_loss(D, y, fitter, folds=heldout_folds, seed=seed)
    T = np.zeros((m + len(varies), len(theta)))  # basis -> centred strengths, weights as they are
    T[:m, : m - 1] = Z
    T[m:, m - 1:] = np.eye(len(varies))
    full_cov = T @ cov @ T.T
    strength = Z @ theta[: m - 1]
    weight = np.full(k, np.nan)
    weight_se = np.full(k, np.nan)
    weight[varies] = theta[m - 1:]
    weight_se[varies] = np.sqrt(np.clip(np.diag(full_cov)[m:], 0, None))
    result = BTResult(
        models=[names[i] for i in kept], strength=strength, se=np.sqrt(np.clip(np.diag(full_cov)[:m], 0, None)),
        n_battles=_counts(a, b, m), covariates=list(covariates), weight=weight, weight_se=weight_se,
        n_fitted=int(len(y)), left_out=left_out, converged=converged,
        ci_method=bti.CI_LABELS[ci].format(n=bootstrap, seed=seed), heldout_log_loss=loss, cov=full_cov)
    if draws is not None:
        low, high = bti.percentile(draws @ T.T)
        result.low, result.high = low[:m], high[:m]
        result.weight_low, result.weight_high = np.full(k, np.nan), np.full(k, np.nan)
        result.weight_low[varies], result.weight_high[varies] = low[m:], high[m:]
    return result


__all__ = ["BTError", "BTResult", "CI_METHOD", "ELO_BASE", "ELO_SCALE", "elo", "fit", "ranks", "select_models"]
