"""Independent checks of bayes' EP: a Polya-Gamma Gibbs sampler and the posterior mode.

`bayes.fit_posterior(..., method="gibbs")` calls the sampler, started at the EP mean.
`posterior_mode` is the MAP, which the tests check against scikit-learn's L1 logistic
regression (the fits report the posterior mean, as the paper does, not the mode).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from .posterior import PRIOR_SCALE, PosteriorSummary, check_inputs


def gibbs_summary(design, Y, M, b, n_sweeps, seed, start):
    """Polya-Gamma Gibbs for J problems on one design, the Laplace prior as
    w_j | s_j ~ N(0, s_j), s_j ~ Exponential(rate 1/(2 b^2)), hence
    1/s_j | w_j ~ InverseGaussian(mean 1/(b |w_j|), shape 1/b^2)."""
    from polyagamma import random_polyagamma

    rng = np.random.default_rng(seed)
    J, P = len(Y), design.P
    diag = np.arange(P)
    M = M & design.informative
    xk = np.where(M, Y - 0.5, 0.0) @ design.X  # X' kappa
    w = start.copy()
    burn = max(50, n_sweeps // 10)
    draws = np.empty((n_sweeps, J, P))
    rb_sum = np.zeros((J, P))
    for t in range(burn + n_sweeps):
        inv_s = rng.wald(1.0 / (b * np.maximum(np.abs(w), 1e-12)), 1.0 / (b * b))
        omega = np.where(M, random_polyagamma(1.0, design.project(w), random_state=rng), 0.0)
        prec = design.gram(omega)
        prec[:, diag, diag] += inv_s
        cov = np.linalg.inv(prec)
        cond_mean = (cov @ xk[..., None])[..., 0]
        w = cond_mean + (np.linalg.cholesky(cov) @ rng.standard_normal((J, P, 1)))[..., 0]
        if t >= burn:  # Rao-Blackwell: average E[w | omega, s], not the draws
            rb_sum += cond_mean
            draws[t - burn] = w
    low, high = np.quantile(draws, [0.025, 0.975], axis=0)
    return PosteriorSummary(rb_sum / n_sweeps, draws.std(0), low, high)


def posterior_mode(X, y, mask=None, *, prior_scale: float = PRIOR_SCALE, tol: float = 1e-10) -> np.ndarray:
    """The MAP of one judge's posterior: minimise sum log-loss + sum|w| / b, an L1-penalised
    logistic regression (tests check it against scikit-learn's with C = b). Split as
    w = u - v, u, v >= 0, the objective is smooth, and L-BFGS-B with bounds solves it."""
    from scipy.optimize import minimize

    X, Y, M = check_inputs(X, y, mask)
    X, t = X[M[0]], 2.0 * Y[0][M[0]] - 1.0
    P = X.shape[1]

    def objective(uv):
        w = uv[:P] - uv[P:]
        z = t * (X @ w)
        loss = np.logaddexp(0.0, -z).sum() + uv.sum() / prior_scale
        g = X.T @ (-t * expit(-z))
        return loss, np.concatenate([g, -g]) + 1.0 / prior_scale

    res = minimize(objective, np.zeros(2 * P), jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * (2 * P),
                   options={"ftol": tol, "gtol": tol, "maxiter": 10_000})
    return res.x[:P] - res.x[P:]
