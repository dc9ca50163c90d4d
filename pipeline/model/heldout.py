"""k-fold averaging and held-out metrics of the dissection model (SPEC section 6).

The folds are scikit-learn's `KFold` (shuffled, seeded): one split shared by all the
judges of a group, because they share X and are fitted as one batch (`StratifiedKFold`
would need one split per judge, since each judge's labels differ, and lose the batch).
The held-out predictions are p = sigmoid(x . w) with w the posterior mean of a fit that
never saw the pair. Each judge's metrics are computed once, on its pooled out-of-fold
predictions, with scikit-learn's definitions, so they mean what its docs say (computed for
all judges in one pass of array operations: `pooled_metrics`; the tests check every judge
against the sklearn functions named here):

- accuracy: share of labels whose choice sign(x . w) predicts (x . w == 0 counts half);
- log_loss: `sklearn.metrics.log_loss`;
- auc: `sklearn.metrics.roc_auc_score` (NaN when the held-out labels are all one choice);
- calibration_error: expected calibration error over 10 equal-width bins of p, from
  `sklearn.calibration.calibration_curve` (|observed rate - mean p| per bin, weighted by
  the bin's share of the pairs).

Each judge's accuracy and log loss come with their baselines on the same folds
(`baseline_metrics`): a model that knows nothing of the pairs and predicts, for every
test pair of a fold, the training folds' rate of choosing response 1 (its accuracy is
that of always answering the more frequent choice). Where one response position wins
most labels, a high accuracy says little unless it beats that baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from scipy.stats import rankdata
from sklearn.model_selection import KFold

from . import ep
from .bayes import HELDOUT_TOL, fit_prepared
from .posterior import PosteriorSummary, check_inputs

CALIBRATION_BINS = 10
METRICS = ("accuracy", "log_loss", "auc", "calibration_error", "baseline_accuracy", "baseline_log_loss")


@dataclass
class HeldOut:
    """Held-out metrics per judge (J,), NaN where a judge has no held-out label."""

    accuracy: np.ndarray
    log_loss: np.ndarray
    auc: np.ndarray
    calibration_error: np.ndarray
    baseline_accuracy: np.ndarray   # always the training folds' more frequent choice
    baseline_log_loss: np.ndarray   # the training folds' choice rate as the prediction

    def row(self, j: int) -> dict[str, float | None]:
        """One judge's metrics, None for NaN (for the database)."""
        return {m: (None if np.isnan(v := float(getattr(self, m)[j])) else v) for m in METRICS}


def fold_ids(n: int, k: int, seed: int) -> tuple[np.ndarray, int]:
    """Fold id of every pair from KFold(k, shuffle=True, random_state=seed); k is capped at n."""
    if k < 2:
        raise ValueError("k-fold needs k >= 2")
    k = min(k, n)
    fold = np.zeros(n, int)
    if k >= 2:
        for f, (_, test) in enumerate(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros((n, 1)))):
            fold[test] = f
    return fold, k


def _kfold_fits(X, Y, M, k, seed, **kw):
    """The k x J fits on the training splits (batched by ep.prepare_folds): per-fold
    summaries and held-out metrics."""
    n, J = X.shape[0], len(Y)
    fold, k = fold_ids(n, k, seed)
    if k < 2:  # a single pair: nothing to hold out
        return [fit_prepared(ep.prepare(X, Y, M), **kw)], HeldOut(*(np.full(J, np.nan) for _ in METRICS))
    fits = [fit_prepared(data, **kw) for data in ep.prepare_folds(X, Y, M, fold, k)]
    rows = PosteriorSummary(*(np.concatenate([getattr(f, a) for f in fits]) for a in ("mean", "sd", "ci_low", "ci_high")))
    per_fold = [rows[f * J: (f + 1) * J] for f in range(k)]  # fold-major rows
    scores = heldout_metrics(X, Y, M, fold, per_fold)
    base = baseline_metrics(Y, M, fold, k)
    scores.baseline_accuracy, scores.baseline_log_loss = base.accuracy, base.log_loss
    return per_fold, scores


def heldout_metrics(X, Y, M, fold, per_fold: list[PosteriorSummary]) -> HeldOut:
    """The metrics of every judge's held-out predictions (see the module docstring), for all
    judges at once: each pair is scored by the fit of the fold that left it out, then the
    pooled out-of-fold predictions of a judge give its four numbers."""
    score = np.empty(Y.shape)
    for f, summ in enumerate(per_fold):
        test = fold == f
        score[:, test] = summ.mean @ X[test].T
    return pooled_metrics(Y, M, score)


def baseline_metrics(Y, M, fold, k: int) -> HeldOut:
    """The metrics of the constant baseline on the same folds: each test pair is given the
    rate at which the judge chose response 1 in the other folds (clipped away from 0 and 1
    as log_loss clips), so it predicts that fold's training majority (a 50% rate: half)."""
    y = (Y > 0.5) & M
    ones = np.stack([(y & (fold == f)).sum(1) for f in range(k)], 1)    # (J, k)
    seen = np.stack([(M & (fold == f)).sum(1) for f in range(k)], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = (ones.sum(1, keepdims=True) - ones) / (seen.sum(1, keepdims=True) - seen)
    eps = np.finfo(float).eps
    rate = np.clip(np.nan_to_num(rate, nan=0.5), eps, 1 - eps)  # no training label: a coin
    logit = np.log(rate) - np.log1p(-rate)
    return pooled_metrics(Y, M, logit[:, fold])


def pooled_metrics(Y, M, score) -> HeldOut:
    """accuracy, log loss, AUC and calibration error of scores x.w (J, n) against labels Y
    where M, per row; NaN for a row without labels (AUC: without both choices) or with a
    broken fit. These are scikit-learn's definitions, computed for all rows in a few array
    operations: one sklearn call per metric and judge costs ~5 ms of input checks, more than
    the fits themselves (tests/model/test_bayes.py checks every row against sklearn.metrics)."""
    M = M & np.isfinite(score)
    score = np.where(M, score, 0.0)
    y = Y.astype(bool) & M
    n = M.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        right = np.where(score > 0, y, np.where(score < 0, M & ~y, 0.5 * M))
        accuracy = right.sum(1) / n
        p = expit(score)
        # log_loss: probabilities clipped to [eps, 1 - eps], as sklearn does
        eps = np.finfo(float).eps
        q = np.clip(np.where(y, p, 1.0 - p), eps, 1 - eps)
        loss = -np.where(M, np.log(q), 0.0).sum(1) / n
        auc = _auc(y, M, p)
        ece = _calibration_error(y, M, p) / n
    empty = n == 0
    nan = np.full(len(n), np.nan)
    return HeldOut(*(np.where(empty, np.nan, v) for v in (accuracy, loss, auc, ece)), nan, nan.copy())


def _auc(y, M, p):
    """roc_auc_score per row: the Mann-Whitney statistic with tied scores counted half
    (midranks), which is the trapezoidal area sklearn computes; NaN without both choices.
    Unlabelled entries rank above every probability (they are set to 2), so the ranks of
    the labelled ones among themselves are unchanged."""
    ranks = rankdata(np.where(M, p, 2.0), method="average", axis=1)
    pos = y.sum(1)
    neg = M.sum(1) - pos
    u = np.where(y, ranks, 0.0).sum(1) - pos * (pos + 1) / 2.0
    return np.where((pos > 0) & (neg > 0), u / (pos * neg), np.nan)


def _calibration_error(y, M, p):
    """n times the expected calibration error: calibration_curve's 10 uniform bins of p
    (np.searchsorted on the inner edges, as sklearn bins), |sum of labels - sum of p| per
    bin, summed over bins (empty bins add nothing)."""
    J = len(p)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)[1:-1]
    key = np.searchsorted(edges, p) + CALIBRATION_BINS * np.arange(J)[:, None]
    size = J * CALIBRATION_BINS
    labels = np.bincount(key[M], weights=y[M].astype(float), minlength=size)
    probs = np.bincount(key[M], weights=p[M], minlength=size)
    return np.abs(labels - probs).reshape(J, CALIBRATION_BINS).sum(1)


def _average(per_fold: list[PosteriorSummary]) -> PosteriorSummary:
    fields = ("mean", "sd", "ci_low", "ci_high")
    return PosteriorSummary(*(np.mean([getattr(s, f) for s in per_fold], axis=0) for f in fields))


def fit_kfold_scored(X, Y, mask=None, *, k: int, seed: int = 0, **kw) -> tuple[PosteriorSummary, HeldOut]:
    """The paper's optional k-fold averaging: shuffle, fit on each of the k training
    splits, average the fields of the k summaries (means as the paper does; sd and
    interval ends averaged the same way, i.e. the uncertainty of one fit on (k-1)/k of
    the data). k is capped at the number of pairs. Also the held-out metrics per judge."""
    X, Y, M = check_inputs(X, Y, mask)
    per_fold, scores = _kfold_fits(X, Y, M, k, seed, **kw)
    return _average(per_fold), scores


def heldout_scores(X, Y, mask=None, *, k: int = 5, seed: int = 0, **kw) -> HeldOut:
    """k-fold cross-validated metrics per judge. The fits behind them are cheaper than the
    main fit: a looser tolerance (predictions need only ~1e-3 in the weights) and EP with
    the probit approximation of the logistic (`ep._tilted_probit`); pass tol=... or
    approx=False to change that."""
    X, Y, M = check_inputs(X, Y, mask)
    kw.setdefault("tol", HELDOUT_TOL)
    kw.setdefault("approx", True)  # sigmoid ~ Phi(kappa f): closed-form moments, ~3x faster fits
    return _kfold_fits(X, Y, M, k, seed, **kw)[1]


def fit_kfold(X, Y, mask=None, *, k: int, seed: int = 0, **kw) -> tuple[PosteriorSummary, np.ndarray]:
    """fit_kfold_scored with the held-out accuracy only (J,)."""
    summary, scores = fit_kfold_scored(X, Y, mask, k=k, seed=seed, **kw)
    return summary, scores.accuracy


def heldout_accuracy(X, Y, mask=None, *, k: int = 5, seed: int = 0, **kw) -> np.ndarray:
    """Held-out accuracy per judge (J,): each fold's labels predicted by sign(x . w) of a
    fit that never saw them (ties count half); NaN for a judge with no labels."""
    return heldout_scores(X, Y, mask, k=k, seed=seed, **kw).accuracy


__all__ = [
    "METRICS",
    "HeldOut",
    "baseline_metrics",
    "fit_kfold",
    "fit_kfold_scored",
    "fold_ids",
    "heldout_accuracy",
    "heldout_metrics",
    "heldout_scores",
    "pooled_metrics",
]
