"""Interval methods and held-out loss for Bradley-Terry boards, each a separate, reusable piece.

The board's parameters theta (strengths in the sum-to-zero basis, then control weights) are
fitted by `bradley_terry.newton` on a design D (one row per battle: the models' basis rows
differenced, then the controls) with outcomes y in [0, 1] (0.5: a tie counted as half a win).

- `hessian_cov`: the inverse Hessian at the mode, the classical normal approximation.
- `sandwich_cov`: H^-1 B H^-1 with B the sum of the per-battle score outer products, robust
  to a misspecified model (as arena-rank's `sandwich` intervals; Huber-White).
- `bootstrap_draws`: battles resampled with replacement and refitted, seeded; percentile
  intervals (as arena-rank's `bootstrap`).
- `heldout_log_loss`: k-fold (seeded) mean log loss of the model on battles it did not see,
  so boards with different controls can be compared on how well they explain the judge.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit, log_expit

CI_METHODS = ("hessian", "sandwich", "bootstrap")
CI_LABELS = {
    "hessian": "normal approximation from the Hessian at the mode (95%)",
    "sandwich": "sandwich (Huber-White) normal approximation (95%)",
    "bootstrap": "bootstrap percentile interval over resampled battles (95%, {n} resamples, seed {seed})",
}

Fitter = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, bool]]


def hessian_cov(D: np.ndarray, y: np.ndarray, theta: np.ndarray, ridge: float) -> np.ndarray:
    mu = expit(D @ theta)
    H = (D * (mu * (1 - mu))[:, None]).T @ D + ridge * np.eye(D.shape[1])
    return np.linalg.inv(H)


def sandwich_cov(D: np.ndarray, y: np.ndarray, theta: np.ndarray, ridge: float) -> np.ndarray:
    """H^-1 B H^-1: B from each battle's score (y - mu) d, so a judge that the model fits badly
    (overdispersed, a different functional form) gets wider, honest intervals."""
    mu = expit(D @ theta)
    Hinv = hessian_cov(D, y, theta, ridge)
    G = D * (y - mu)[:, None]
    return Hinv @ (G.T @ G) @ Hinv


def bootstrap_draws(D: np.ndarray, y: np.ndarray, fitter: Fitter, *, n: int, seed: int,
                    rows: np.ndarray | None = None) -> np.ndarray:
    """(n, p) refitted parameters over battles resampled with replacement (multinomial weights).

    `rows` (optional): battle -> row of D, when D holds each distinct battle once (a raw board of
    m models has at most m(m-1) rows): each resample is then summed onto those rows."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, D.shape[1]))
    for i in range(n):
        w = rng.multinomial(len(y), np.full(len(y), 1.0 / len(y))).astype(float)
        if rows is not None:
            trials = np.bincount(rows, weights=w, minlength=len(D))
            wins = np.bincount(rows, weights=w * y, minlength=len(D))
            live = trials > 0
            out[i] = fitter(D[live], wins[live], trials[live])[0]
            continue
        live = w > 0
        out[i] = fitter(D[live], y[live] * w[live], w[live])[0]
    return out


def percentile(draws: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    tail = 100 * (1 - level) / 2
    return np.percentile(draws, tail, axis=0), np.percentile(draws, 100 - tail, axis=0)


def log_loss(D: np.ndarray, y: np.ndarray, theta: np.ndarray) -> float:
    eta = D @ theta
    return float(-(y * log_expit(eta) + (1 - y) * log_expit(-eta)).mean())


def heldout_log_loss(D: np.ndarray, y: np.ndarray, fitter: Fitter, *, folds: int = 5, seed: int = 0,
                     rows: np.ndarray | None = None) -> float:
    """Mean log loss over k seeded folds of the battles; a model never seen in training gets the
    prior's strength 0 there (its design column is all zero in training). With `rows` (battle ->
    row of a D of distinct battles), each fold's training battles are summed onto those rows."""
    n = len(y)
    if n < folds:
        return float("nan")
    fold = np.random.default_rng(seed).permutation(n) % folds
    total = 0.0
    for k in range(folds):
        train, test = fold != k, fold == k
        if rows is None:
            theta = fitter(D[train], y[train], np.ones(int(train.sum())))[0]
            total += log_loss(D[test], y[test], theta) * test.sum()
            continue
        trials = np.bincount(rows[train], minlength=len(D)).astype(float)
        wins = np.bincount(rows[train], weights=y[train], minlength=len(D))
        live = trials > 0
        theta = fitter(D[live], wins[live], trials[live])[0]
        total += log_loss(D[rows[test]], y[test], theta) * test.sum()
    return total / n


__all__ = ["CI_LABELS", "CI_METHODS", "bootstrap_draws", "heldout_log_loss", "hessian_cov", "log_loss",
           "percentile", "sandwich_cov"]
