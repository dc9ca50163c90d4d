"""Polya-Gamma Gibbs sampler for the dissection model: an independent check of bayes' EP.

`bayes.fit_posterior(..., method="gibbs")` calls it, started at the EP mean.
"""

from __future__ import annotations

import numpy as np

from .bayes import PosteriorSummary


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
