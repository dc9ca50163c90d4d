"""k-fold averaging and held-out metrics of the dissection model (SPEC section 6).

The folds are scikit-learn's `KFold` (shuffled, seeded): one split shared by all the
judges of a group, because they share X and are fitted as one batch (`StratifiedKFold`
would need one split per judge, since each judge's labels differ, and lose the batch).
The held-out predictions are p = sigmoid(x . w) with w the posterior mean of a fit that
never saw the pair; the metrics are scikit-learn's, so they mean what their docs say:

- accuracy: share of labels whose choice sign(x . w) predicts (x . w == 0 counts half);
- log_loss: `sklearn.metrics.log_loss`;
- auc: `sklearn.metrics.roc_auc_score` (NaN when the held-out labels are all one choice);
- calibration_error: expected calibration error over 10 equal-width bins of p, from
  `sklearn.calibration.calibration_curve` (|observed rate - mean p| per bin, weighted by
  the bin's share of the pairs).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from sklearn.calibration import calibration_curve
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import KFold

from .bayes import HELDOUT_TOL, PosteriorSummary, _check, _Design, _fit_group

CALIBRATION_BINS = 10
METRICS = ("accuracy", "log_loss", "auc", "calibration_error")


@dataclass
class HeldOut:
    """Held-out metrics per judge (J,), NaN where a judge has no held-out label."""

    accuracy: np.ndarray
    log_loss: np.ndarray
    auc: np.ndarray
    calibration_error: np.ndarray

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
    """One batch of k x J fits on the training splits: per-fold summaries and held-out metrics."""
    n, J = X.shape[0], len(Y)
    design = _Design(X)
    fold, k = fold_ids(n, k, seed)
    if k < 2:  # a single pair: nothing to hold out
        nan = np.full(J, np.nan)
        return [_fit_group(design, Y, M, **kw)], HeldOut(nan, nan.copy(), nan.copy(), nan.copy())
    train = np.concatenate([M & (fold != f) for f in range(k)])
    summ = _fit_group(design, np.tile(Y, (k, 1)), train, **kw)
    per_fold = [summ[f * J: (f + 1) * J] for f in range(k)]
    return per_fold, heldout_metrics(X, Y, M, fold, per_fold)


def _calibration_error(y: np.ndarray, p: np.ndarray) -> float:
    true, pred = calibration_curve(y, p, n_bins=CALIBRATION_BINS, strategy="uniform")
    # calibration_curve drops empty bins; count the pairs per bin the way it bins them
    bins = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    counts = np.bincount(np.searchsorted(bins[1:-1], p), minlength=CALIBRATION_BINS)
    counts = counts[counts > 0]
    return float(np.sum(counts * np.abs(true - pred)) / counts.sum())


def heldout_metrics(X, Y, M, fold, per_fold: list[PosteriorSummary]) -> HeldOut:
    """The metrics of every judge's held-out predictions (see the module docstring)."""
    J = len(Y)
    score = np.empty(Y.shape)
    for f, summ in enumerate(per_fold):  # each pair scored by the fit of the fold that left it out
        test = fold == f
        score[:, test] = summ.mean @ X[test].T
    out = {m: np.full(J, np.nan) for m in METRICS}
    for j in range(J):
        m = M[j]
        if not m.any():
            continue
        y, s = Y[j, m], score[j, m]
        out["accuracy"][j] = np.mean(np.where(s > 0, y == 1, np.where(s < 0, y == 0, 0.5)))
        p = expit(s)
        out["log_loss"][j] = log_loss(y, p, labels=[0, 1])
        if 0 < y.sum() < len(y):
            out["auc"][j] = roc_auc_score(y, p)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a bin of one class warns nothing useful here
            out["calibration_error"][j] = _calibration_error(y, p)
    return HeldOut(**out)


def _average(per_fold: list[PosteriorSummary]) -> PosteriorSummary:
    fields = ("mean", "sd", "ci_low", "ci_high")
    return PosteriorSummary(*(np.mean([getattr(s, f) for s in per_fold], axis=0) for f in fields))


def fit_kfold_scored(X, Y, mask=None, *, k: int, seed: int = 0, **kw) -> tuple[PosteriorSummary, HeldOut]:
    """The paper's optional k-fold averaging: shuffle, fit on each of the k training
    splits, average the fields of the k summaries (means as the paper does; sd and
    interval ends averaged the same way, i.e. the uncertainty of one fit on (k-1)/k of
    the data). k is capped at the number of pairs. Also the held-out metrics per judge."""
    X, Y, M = _check(X, Y, mask)
    per_fold, scores = _kfold_fits(X, Y, M, k, seed, **kw)
    return _average(per_fold), scores


def heldout_scores(X, Y, mask=None, *, k: int = 5, seed: int = 0, **kw) -> HeldOut:
    """k-fold cross-validated metrics per judge. The fits behind them are cheaper than the
    main fit: a looser tolerance (predictions need only ~1e-3 in the weights) and EP with
    the probit approximation of the logistic (`bayes._tilted_probit`); pass tol=... or
    approx=False to change that."""
    X, Y, M = _check(X, Y, mask)
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


__all__ = ["HeldOut", "METRICS", "fit_kfold", "fit_kfold_scored", "fold_ids", "heldout_accuracy",
           "heldout_metrics", "heldout_scores"]
