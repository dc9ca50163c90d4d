"""The constant baselines of the held-out metrics: same folds as the model's, each test
pair given its training folds' rate of choosing response 1 (checked against a direct
per-fold computation with sklearn's log_loss)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss

from pipeline.model import heldout


def direct_baseline(y, m, fold, k):
    """One judge's baseline accuracy and log loss, fold by fold."""
    right, probs, labels = [], [], []
    for f in range(k):
        train, test = m & (fold != f), m & (fold == f)
        if not test.any():
            continue
        rate = y[train].mean() if train.any() else 0.5
        guess = 1.0 if rate > 0.5 else 0.0 if rate < 0.5 else 0.5
        right += [0.5 if guess == 0.5 else float(v == guess) for v in y[test]]
        probs += [rate] * int(test.sum())
        labels += y[test].tolist()
    eps = np.finfo(float).eps
    return np.mean(right), log_loss(labels, np.clip(probs, eps, 1 - eps), labels=[0, 1])


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 60), st.integers(1, 4), st.integers(2, 6),
       st.floats(0.0, 1.0))
def test_baseline_matches_a_direct_computation(seed, n, J, k, p1):
    rng = np.random.default_rng(seed)
    Y = (rng.random((J, n)) < p1).astype(float)
    M = rng.random((J, n)) < 0.8
    fold, k = heldout.fold_ids(n, k, seed)
    got = heldout.baseline_metrics(Y, M, fold, k)
    for j in range(J):
        if not M[j].any():
            assert np.isnan(got.accuracy[j])
            continue
        acc, loss = direct_baseline(Y[j].astype(bool), M[j], fold, k)
        assert got.accuracy[j] == pytest.approx(acc, abs=1e-12)
        assert got.log_loss[j] == pytest.approx(loss, rel=1e-9, abs=1e-9)


def test_scores_carry_the_baseline_of_a_dominant_side():
    """90% of the labels choose response 1 and X says nothing: the baseline is 90%, and the
    model's accuracy can't beat it by much."""
    rng = np.random.default_rng(0)
    n = 400
    X = rng.choice([-1.0, 0.0, 1.0], size=(n, 3))
    Y = (rng.random((1, n)) < 0.9).astype(float)
    scores = heldout.heldout_scores(X, Y, k=5, seed=0)
    assert scores.baseline_accuracy[0] == pytest.approx(Y.mean(), abs=1e-12)  # every training fold's majority is 1
    assert scores.baseline_log_loss[0] == pytest.approx(log_loss(Y[0], np.full(n, Y.mean())), abs=0.01)
    assert set(heldout.METRICS) >= {"baseline_accuracy", "baseline_log_loss"}
    assert scores.row(0)["baseline_accuracy"] == pytest.approx(Y.mean())
