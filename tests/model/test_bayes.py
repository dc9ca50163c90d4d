"""The posterior estimator (pipeline.model.bayes) against exact answers.

Exact posterior moments come from numerical integration on a grid, which is
possible for 1 and 2 weights; small n so that the Laplace(0, 0.1) prior
matters. Everything here runs in a few seconds.
"""

import numpy as np
import pytest
from scipy.special import log_expit
from sklearn.model_selection import KFold

from pipeline.model.posterior import PosteriorSummary
from pipeline.model.bayes import fit_many, fit_posterior
from pipeline.model.ep import tilted_laplace, tilted_laplace_quantile
from pipeline.model.heldout import fit_kfold, heldout_accuracy

B = 0.1


def simulate(rng, n, w, differ=0.5):
    """Design in {-1, 0, 1} and labels drawn from the model with weights w (J, P)."""
    w = np.atleast_2d(w)
    X = (rng.random((n, w.shape[1])) < differ) * rng.choice([-1.0, 1.0], (n, w.shape[1]))
    Y = (rng.random((len(w), n)) < 1.0 / (1.0 + np.exp(-w @ X.T))).astype(float)
    return X, Y


def grid_posterior(X, y, center, spread, b=B):
    """Exact posterior mean, sd and 2.5/97.5% quantiles (marginal) on a grid
    of +-12 spread around center (per weight): the mass outside is nil."""
    P = X.shape[1]
    axes = [np.linspace(c - 12 * s, c + 12 * s, 40001 if P == 1 else 601) for c, s in zip(center, spread)]
    g = axes[0]
    W = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, P)
    logp = -np.abs(W).sum(1) / b + log_expit((W @ X.T) * (2 * y - 1)).sum(1)
    p = np.exp(logp - logp.max())
    p /= p.sum()
    mean = p @ W
    sd = np.sqrt(p @ (W - mean) ** 2)
    marg0 = p.reshape((len(g),) * P).sum(axis=tuple(range(1, P)))
    cdf = np.cumsum(marg0)
    q = g[np.searchsorted(cdf, [0.025, 0.975])]
    return mean, sd, q


def problems_1d_2d():
    rng = np.random.default_rng(11)
    out = []
    for P in (1, 2):
        for n, scale in [(6, 0.5), (15, 1.0), (30, 0.3), (40, 2.0), (25, 0.0)]:
            X, Y = simulate(rng, n, rng.normal(0.0, scale, (1, P)), differ=0.7)
            out.append((X, Y[0]))
    return out


@pytest.mark.parametrize("X,y", problems_1d_2d())
def test_mean_and_sd_match_grid_integration(X, y):
    fit = fit_posterior(X, y)
    exact_mean, exact_sd, exact_q = grid_posterior(X, y, fit.mean[0], fit.sd[0])
    assert fit.mean.shape == fit.sd.shape == (1, X.shape[1])
    assert np.abs(fit.mean[0] - exact_mean).max() < 0.005  # the bar is 0.02
    assert np.abs(fit.sd[0] - exact_sd).max() < 0.01
    # interval of the first weight, from the tilted marginal: exact near the
    # prior's peak; a strong weight's skew from the likelihood costs a little
    tolerance = max(0.01, 0.1 * exact_sd[0])
    assert abs(fit.ci_low[0, 0] - exact_q[0]) < tolerance
    assert abs(fit.ci_high[0, 0] - exact_q[1]) < tolerance


def test_tilted_laplace_moments_and_quantiles():
    w = np.linspace(-4, 4, 400001)
    for mu, var in [(0.0, 0.04), (0.3, 0.01), (-0.2, 0.5), (1.5, 0.002)]:
        dens = np.exp(-0.5 * (w - mu) ** 2 / var - np.abs(w) / B)
        dens /= dens.sum()
        mean = dens @ w
        m, v = tilted_laplace(np.array(mu), np.array(var), B)
        assert m == pytest.approx(mean, abs=1e-6)
        assert v == pytest.approx(dens @ (w - mean) ** 2, abs=1e-6)
        cdf = np.cumsum(dens)
        for q in (0.025, 0.5, 0.975):
            exact = w[np.searchsorted(cdf, q)]
            assert tilted_laplace_quantile(np.array(mu), np.array(var), B, np.array(q)) == pytest.approx(exact, abs=1e-4)


def test_judges_fitted_together_equal_fitted_alone():
    rng = np.random.default_rng(1)
    X, Y = simulate(rng, 150, rng.normal(0.1, 0.4, (6, 8)))
    mask = rng.random(Y.shape) < 0.8
    together = fit_posterior(X, Y, mask=mask)
    for j in range(len(Y)):
        alone = fit_posterior(X, Y[j], mask=mask[j])
        for field in ("mean", "sd", "ci_low", "ci_high"):
            np.testing.assert_allclose(getattr(alone, field)[0], getattr(together, field)[j], atol=1e-9)


def test_masked_pairs_have_no_influence():
    rng = np.random.default_rng(2)
    X, Y = simulate(rng, 120, rng.normal(0.0, 0.5, (2, 5)))
    mask = np.ones(Y.shape, bool)
    mask[:, :30] = False
    flipped = Y.copy()
    flipped[:, :30] = 1 - flipped[:, :30]
    a = fit_posterior(X, Y, mask=mask)
    b = fit_posterior(X, flipped, mask=mask)
    c = fit_posterior(X[30:], Y[:, 30:])
    nan_labels = Y.copy()
    nan_labels[:, :30] = np.nan  # NaN is a missing label too
    d = fit_posterior(X, nan_labels)
    for other in (b, c, d):
        np.testing.assert_allclose(a.mean, other.mean, atol=1e-12)
        np.testing.assert_allclose(a.sd, other.sd, atol=1e-12)


def test_no_labels_gives_the_prior():
    rng = np.random.default_rng(3)
    X, Y = simulate(rng, 50, np.zeros((2, 4)))
    fit = fit_posterior(X, Y, mask=np.zeros(Y.shape, bool))
    np.testing.assert_allclose(fit.mean, 0.0, atol=1e-12)
    np.testing.assert_allclose(fit.sd, np.sqrt(2) * B)
    np.testing.assert_allclose(fit.ci_high, B * np.log(20))  # Laplace quantile
    np.testing.assert_allclose(fit.ci_low, -B * np.log(20))


def l1_map(X, y, b=B, steps=5000):
    """The MAP under the same prior (L1-penalised logistic fit), by proximal
    gradient steps: minimise sum log-loss + sum|w| / b."""
    step = 1.0 / (0.25 * np.linalg.norm(X, 2) ** 2)
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        z = w - step * X.T @ (1.0 / (1.0 + np.exp(-X @ w)) - y)
        w = np.sign(z) * np.maximum(np.abs(z) - step / b, 0.0)
    return w


def test_weak_weights_are_not_set_to_zero_unlike_the_map():
    rng = np.random.default_rng(4)
    w = np.array([[0.8, 0.0, 0.02, -0.01, 0.0, 0.4]])
    X, Y = simulate(rng, 300, w)
    assert (l1_map(X, Y[0]) == 0).any()  # the contrast this test is about
    mean = fit_posterior(X, Y).mean[0]
    assert (np.abs(mean) > 1e-4).all()


def test_recovers_known_weights_with_much_data():
    rng = np.random.default_rng(5)
    w = np.array([[0.6, -0.4, 0.0, 0.2, 1.0], [-0.3, 0.0, 0.5, 0.05, -0.8]])
    X, Y = simulate(rng, 20000, w)
    fit = fit_posterior(X, Y)
    assert np.abs(fit.mean - w).max() < 0.05
    inside = (fit.ci_low <= w) & (w <= fit.ci_high)
    assert inside.mean() >= 0.8


def test_gibbs_sampler_agrees_with_ep():
    rng = np.random.default_rng(6)
    X, Y = simulate(rng, 200, rng.normal(0.1, 0.4, (3, 6)))
    ep = fit_posterior(X, Y)
    gibbs = fit_posterior(X, Y, method="gibbs", n_sweeps=1500, seed=1)
    assert np.abs(ep.mean - gibbs.mean).max() < 0.02
    assert np.abs(ep.sd - gibbs.sd).max() < 0.02
    again = fit_posterior(X, Y, method="gibbs", n_sweeps=1500, seed=1)
    np.testing.assert_array_equal(gibbs.mean, again.mean)  # seeded


def test_fit_many_matches_single_fits_and_reports_progress():
    rng = np.random.default_rng(7)
    problems = []
    for n in (40, 400, 90):
        X, Y = simulate(rng, n, rng.normal(0, 0.4, (3, 7)))
        problems.append((X, Y, rng.random(Y.shape) < 0.9))
    seen = []
    fits = fit_many(problems, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    for (X, Y, m), fit in zip(problems, fits):
        assert isinstance(fit, PosteriorSummary)
        np.testing.assert_allclose(fit.mean, fit_posterior(X, Y, mask=m).mean, atol=1e-12)


def test_heldout_accuracy_is_honest_kfold():
    rng = np.random.default_rng(8)
    X, Y = simulate(rng, 100, np.array([[1.5, -1.0, 0.8], [0.0, 0.0, 0.0]]), differ=0.8)
    acc = heldout_accuracy(X, Y, k=4, seed=3)
    # the same by hand: fold ids from scikit-learn's seeded KFold, fit on the rest
    fold = np.empty(100, int)
    for f, (_, test) in enumerate(KFold(n_splits=4, shuffle=True, random_state=3).split(X)):
        fold[test] = f
    right = np.zeros(2)
    for f in range(4):
        train = fold != f
        w = fit_posterior(X[train], Y[:, train], tol=1e-3).mean
        s = w @ X[~train].T
        right += np.where(s > 0, Y[:, ~train] == 1, np.where(s < 0, Y[:, ~train] == 0, 0.5)).sum(1)
    np.testing.assert_allclose(acc, right / 100, atol=1e-12)
    assert acc[0] > 0.75  # a judge the properties explain
    assert 0.3 < acc[1] < 0.7  # a coin flipper


def test_kfold_edge_cases():
    rng = np.random.default_rng(9)
    X, Y = simulate(rng, 7, np.array([[1.0, 0.5], [0.0, 0.0]]), differ=0.9)
    X[0] = 0.0  # a pair that differs on nothing: x.w == 0 always, a tie
    Y[1] = 1.0  # a judge who always picks response 1
    mask = np.ones(Y.shape, bool)
    summary, acc = fit_kfold(X, Y, mask, k=50, seed=0)  # k > n: leave-one-out
    assert summary.mean.shape == (2, 2) and acc.shape == (2,)
    assert np.isfinite(summary.mean).all() and np.isfinite(acc).all()
    assert ((0 <= acc) & (acc <= 1)).all()
    assert (acc * 7 * 2).round(6) % 1 == pytest.approx(0)  # shares of 7 labels, ties count half
    # the paper's k-fold averaging: the mean of the folds' posterior means
    fold = np.empty(7, int)
    fold[np.random.default_rng(0).permutation(7)] = np.arange(7)
    by_hand = np.mean([fit_posterior(X[fold != f], Y[:, fold != f]).mean for f in range(7)], axis=0)
    np.testing.assert_allclose(summary.mean, by_hand, atol=1e-9)


def test_kfold_degenerate_inputs():
    rng = np.random.default_rng(10)
    X, Y = simulate(rng, 30, np.array([[0.5, 0.5]]))
    with pytest.raises(ValueError):
        heldout_accuracy(X, Y, k=1)
    acc = heldout_accuracy(X[:1], Y[:, :1], k=5)  # one pair: nothing to hold out
    assert np.isnan(acc).all()
    unlabelled = heldout_accuracy(X, Y, np.zeros(Y.shape, bool), k=5)
    assert np.isnan(unlabelled).all()
    with pytest.raises(ValueError):
        fit_posterior(X, Y + 2)  # labels must be 0/1


def test_posterior_mode_equals_scikit_learns_l1_logistic_regression():
    """Our MAP (sum log-loss + sum|w|/b) is scikit-learn's L1 logistic regression with C = b:
    its objective is ||w||_1 + C sum log-loss, ours times b. l1_ratio=1 is penalty='l1'
    (the spelling scikit-learn >= 1.8 asks for)."""
    from sklearn.linear_model import LogisticRegression

    from pipeline.model.bayes_checks import posterior_mode

    rng = np.random.default_rng(12)
    for n, w in [(300, [[0.8, 0.0, 0.02, -0.01, 0.0, 0.4]]), (2000, [[0.5, -0.3, 0.0, 0.1, 0.9, 0.0]])]:
        X, Y = simulate(rng, n, np.array(w))
        ours = posterior_mode(X, Y[0], prior_scale=B)
        sk = LogisticRegression(l1_ratio=1.0, C=B, fit_intercept=False, solver="liblinear", tol=1e-10,
                                max_iter=100_000).fit(X, Y[0]).coef_[0]
        np.testing.assert_allclose(ours, sk, atol=2e-4)
        np.testing.assert_allclose(ours, l1_map(X, Y[0]), atol=1e-4)  # and the proximal-gradient one above
        # the fits report the posterior mean, not the mode: the mean never is exactly 0 ...
        mean = fit_posterior(X, Y).mean[0]
        assert (np.abs(mean) > 1e-4).all()
        # ... but where the data say much, mean and mode agree
        strong = np.abs(sk) > 0.2
        assert np.abs(mean - sk)[strong].max() < 0.05


def test_heldout_metrics_are_scikit_learns():
    from sklearn.metrics import log_loss, roc_auc_score

    from pipeline.model.heldout import fold_ids, heldout_scores

    rng = np.random.default_rng(13)
    X, Y = simulate(rng, 400, np.array([[1.2, -0.8, 0.5], [0.0, 0.0, 0.0]]), differ=0.8)
    got = heldout_scores(X, Y, k=5, seed=2)
    fold, _ = fold_ids(400, 5, 2)
    score = np.empty(Y.shape)
    for f in range(5):
        score[:, fold == f] = fit_posterior(X[fold != f], Y[:, fold != f], tol=1e-3, approx=True).mean @ X[fold == f].T
    p = 1 / (1 + np.exp(-score))
    for j in range(2):
        assert got.log_loss[j] == pytest.approx(log_loss(Y[j], p[j]), abs=1e-9)
        assert got.auc[j] == pytest.approx(roc_auc_score(Y[j], p[j]), abs=1e-9)
        assert 0 <= got.calibration_error[j] < 0.15
    assert got.auc[0] > 0.75 and 0.35 < got.auc[1] < 0.65  # explained judge vs coin flipper
    assert got.log_loss[0] < np.log(2) < got.log_loss[1] + 0.02
    exact = heldout_scores(X, Y, k=5, seed=2, approx=False, tol=1e-6)  # the probit shortcut changes little
    np.testing.assert_allclose(got.log_loss, exact.log_loss, atol=5e-3)
    np.testing.assert_allclose(got.auc, exact.auc, atol=5e-3)
    one_class = heldout_scores(X, np.ones((1, 400)), k=5)
    assert np.isnan(one_class.auc[0]) and one_class.accuracy[0] > 0.5  # AUC needs both choices


# ------------------------------------------------------------- the fast paths


def _site_inputs(rng, J=6, n=2000):
    f_mu = rng.normal(0.0, 2.0, (J, n))
    f_var = np.exp(rng.uniform(np.log(1e-4), np.log(4.0), (J, n)))
    sign = rng.choice([-1.0, 1.0], (J, n))
    count = rng.integers(0, 3, (J, n)).astype(float)  # 0: no label
    tau = rng.uniform(0.0, 0.5, (J, n)) * np.minimum(0.6, 1.0 / f_var)  # cavities up to twice f's variance
    tau[0, :20] = 1.0 / f_var[0, :20] + 1.0  # improper cavities: the site must stay
    nu = rng.normal(0.0, 0.3, (J, n))
    return f_mu, f_var, sign, count, tau, nu, rng.uniform(0.1, 1.0, J)


@pytest.mark.parametrize("approx", [False, True])
def test_compiled_site_update_equals_numpy(approx):
    """The per-pair loop (ep_kernels, numba) computes what ep._sites_numpy computes."""
    from pipeline.model import ep, ep_kernels

    if not ep_kernels.AVAILABLE:
        pytest.fail("numba is a dependency (it comes with shap)")
    args = _site_inputs(np.random.default_rng(21))
    want = ep._sites_numpy(*args, approx)
    got = ep_kernels.likelihood_sites(*args, approx, ep._PACKED)
    f_var = args[1]
    for w, g in zip(want, got):
        assert np.isfinite(g).all()
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-8 / f_var.min())
    same = (args[3] == 0) | (np.arange(args[3].shape[1]) < 20) & (np.arange(len(f_var)) == 0)[:, None]
    assert (got[0][same] == args[4][same]).all() and (got[1][same] == args[5][same]).all()
    for z in (-60.0, -36.0, -34.0, -5.0, 0.0, 8.0):  # Mills ratio, into the far left tail
        assert ep_kernels._mills(z) == pytest.approx(float(ep._mills(np.array(z))), rel=1e-10)


def test_compiled_inverse_equals_numpy():
    """EP's covariances by Cholesky (ep_kernels.inv_spd) are np.linalg.inv's; a precision
    that is not positive definite gives NaN, which EP treats as a broken problem."""
    from pipeline.model import ep_kernels

    rng = np.random.default_rng(25)
    A = rng.normal(size=(40, 29, 35))
    prec = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(29)
    prec[7] = np.diag(np.r_[-1.0, np.ones(28)])
    got = ep_kernels.inv_spd(prec)
    keep = np.arange(40) != 7
    np.testing.assert_allclose(got[keep], np.linalg.inv(prec[keep]), rtol=1e-9, atol=1e-12)
    assert np.isnan(got[7]).all()


def test_quadrature_nodes_chosen_per_pair_keep_the_sites_exact():
    """Fewer nodes for narrow cavities: every site within 1e-6 of 120-node quadrature
    (relative) up to a cavity sd of 0.8, the range the fits see after their first pass."""
    from pipeline.model import ep

    t, cols = ep._gauss_hermite(120)
    mu = np.tile(np.linspace(-8.0, 8.0, 161), 60)
    sd = np.repeat(np.geomspace(0.005, 0.8, 60), 161)
    sign = np.where(np.arange(mu.size) % 2, 1.0, -1.0)
    p = 1.0 / (1.0 + np.exp(-sign[:, None] * (mu[:, None] + sd[:, None] * t)))
    z, s1, s2 = (p @ cols).T
    ref = ep._site_from_moments(mu + sd * s1 / z, sd * sd * (s2 / z - (s1 / z) ** 2), mu, sd * sd)
    got = ep._site_from_moments(*ep._tilted_logistic(mu, sd * sd, sign), mu, sd * sd)
    floor = 1e-12 / (sd * sd)  # 1/t_var - 1/cav_var cancels: rounding, in both, not the rule
    assert np.max(np.abs(got[0] - ref[0]) / (np.abs(ref[0]) + floor)) < 1e-6
    assert np.max(np.abs(got[1] - ref[1]) / (np.abs(ref[1]) + np.abs(ref[0] * mu) + floor * np.abs(mu))) < 1e-6


def test_identical_rows_are_fitted_as_counts_exactly(monkeypatch):
    """Pairs with the same feature row collapse into one site with a count per choice
    (style columns: few distinct rows); parallel EP gives the same posterior as one site
    per pair, and so do the k-fold held-out fits."""
    from pipeline.model import ep
    from pipeline.model.heldout import heldout_scores

    rng = np.random.default_rng(22)
    X, Y = simulate(rng, 3000, np.array([[0.8, -0.5, 0.0, 0.3], [0.1, 0.0, 0.6, -0.2]]), differ=0.3)
    mask = rng.random(Y.shape) < 0.9
    assert len(np.unique(X, axis=0)) <= 81 and ep._distinct_rows(X) is not None
    fast = fit_posterior(X, Y, mask=mask)
    fast_scores = heldout_scores(X, Y, mask, k=5, seed=4)
    monkeypatch.setattr(ep, "COLLAPSE_SHARE", 0.0)  # one site per pair
    assert ep._distinct_rows(X) is None
    slow = fit_posterior(X, Y, mask=mask)
    slow_scores = heldout_scores(X, Y, mask, k=5, seed=4)
    for field in ("mean", "sd", "ci_low", "ci_high"):
        np.testing.assert_allclose(getattr(fast, field), getattr(slow, field), atol=1e-9)
    for metric in ("accuracy", "log_loss", "auc", "calibration_error"):
        np.testing.assert_allclose(getattr(fast_scores, metric), getattr(slow_scores, metric), atol=1e-9)


def test_collinear_columns_converge_to_the_exact_posterior(monkeypatch):
    """Two columns that are always equal (a list item is always bold, say): the data fix only
    their sum, the prior splits it. EP used to crawl here (a halved step never grew back);
    it converges in a few dozen passes, to the exact posterior mean."""
    from pipeline.model import ep

    rng = np.random.default_rng(23)
    x = (rng.random(400) < 0.6) * rng.choice([-1.0, 1.0], 400)
    X = np.stack([x, x], 1)
    y = (rng.random(400) < 1.0 / (1.0 + np.exp(-1.2 * x))).astype(float)
    passes = []
    real = ep._global
    monkeypatch.setattr(ep, "_global", lambda d, st: passes.append(1) or real(d, st))
    fit = fit_posterior(X, y)
    assert len(passes) < 40
    exact_mean, exact_sd, _ = grid_posterior(X, y, center=[0.6, 0.6], spread=[0.4, 0.4])
    np.testing.assert_allclose(fit.mean[0], exact_mean, atol=0.02)
    assert fit.mean[0, 0] == pytest.approx(fit.mean[0, 1], abs=1e-9)  # the symmetry holds


def test_pooled_metrics_are_sklearns_for_every_judge():
    """All judges' metrics at once equal sklearn's functions called judge by judge: ties,
    saturated probabilities, missing labels, one-choice judges, unlabelled judges."""
    import warnings

    from sklearn.calibration import calibration_curve
    from sklearn.metrics import log_loss, roc_auc_score

    from pipeline.model.heldout import pooled_metrics

    rng = np.random.default_rng(24)
    J, n = 30, 250
    S = np.round(rng.normal(0.0, 2.0, (J, n)), 1)  # rounding makes ties
    S[0] = 45.0  # p == 1.0 in floating point: clipped in log loss, all tied in AUC
    S[1, :10] = -40.0
    S[2] = 0.0
    Y = (rng.random((J, n)) < 1.0 / (1.0 + np.exp(-S))).astype(float)
    Y[3] = 1.0
    M = rng.random((J, n)) < 0.8
    M[4] = False
    M[5] = False
    M[5, :3] = True
    got = pooled_metrics(Y, M, S)
    for j in range(J):
        m = M[j]
        if not m.any():
            assert all(np.isnan(getattr(got, f)[j]) for f in ("accuracy", "log_loss", "auc", "calibration_error"))
            continue
        y, s = Y[j, m], S[j, m]
        p = 1.0 / (1.0 + np.exp(-s))
        acc = np.mean(np.where(s > 0, y == 1, np.where(s < 0, y == 0, 0.5)))
        assert got.accuracy[j] == pytest.approx(acc, abs=1e-12)
        assert got.log_loss[j] == pytest.approx(log_loss(y, p, labels=[0, 1]), abs=1e-12)
        if 0 < y.sum() < len(y):
            assert got.auc[j] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        else:
            assert np.isnan(got.auc[j])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            true, pred = calibration_curve(y, p, n_bins=10)
        counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], p), minlength=10)
        counts = counts[counts > 0]
        assert got.calibration_error[j] == pytest.approx(np.sum(counts * np.abs(true - pred)) / counts.sum(), abs=1e-12)
    broken = pooled_metrics(Y[:1], M[:1], np.full((1, n), np.nan))  # a fit that broke scores nothing
    assert np.isnan(broken.accuracy[0]) and np.isnan(broken.auc[0])
