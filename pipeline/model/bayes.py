"""Posterior of the dissection model (SPEC section 6), fast and batched.

Model, for one judge and one group: y_i ~ Bernoulli(sigmoid(x_i . w)), no
intercept, w_j ~ Laplace(0, b) independently (density exp(-|w|/b) / (2b)).
The paper reports the posterior mean of w, sampled with NUTS.

Default method, "ep": expectation propagation. The posterior is approximated
by a Gaussian built from one Gaussian "site" per labelled pair and one per
prior factor; each site is refitted so that the Gaussian matches the first
two moments of (rest of the approximation) x (the exact factor). Those
one-dimensional moments are exact: Gauss-Hermite quadrature for the logistic
factor, closed form for the Laplace factor. All sites are updated in parallel,
and the judges of a group (who share X) are rows of one batch, so a pass over
a whole group is a few matrix products and one compiled loop over the pairs;
5-10 passes converge (the engine, and what makes it fast: pipeline/model/ep.py). EP agrees with
the exact posterior mean to ~1e-3 here (tests check it against grid
integration and a Gibbs sampler, bench/bench_fit.py against NUTS), and it is
deterministic: no seed noise at all.

Credible intervals come from the tilted marginal of each weight (the EP
cavity times the exact Laplace prior): a two-piece truncated normal that keeps
the prior's peak at zero, so intervals of weak weights are not symmetric
Gaussian guesses.

Method "gibbs" is an independent check: a Polya-Gamma Gibbs sampler with the
Laplace prior as a normal scale mixture (Bayesian lasso), started at the EP
mean, Rao-Blackwellised means, sd and intervals from the draws; and
`posterior_mode`, the MAP (an L1 logistic regression), checked against
scikit-learn in the tests: both in pipeline/model/bayes_checks.py. k-fold averaging and
held-out metrics: pipeline/model/heldout.py.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import ep
from .bayes_checks import gibbs_summary
from .blas import one_blas_thread
from .ep import tilted_laplace_quantile
from .posterior import PRIOR_SCALE, PosteriorSummary, check_inputs

EP_TOL = 1e-6  # max change of any posterior mean or sd between passes
EP_MAX_PASSES = 200
HELDOUT_TOL = 1e-3  # held-out predictions only need the sign of x.w


def _ep_summary(data, b, max_passes, tol, approx=False):
    mean, var, cav_mu, cav_var = ep.run(data, b, tol=tol, max_passes=max_passes, approx=approx)
    low = _marginal_quantile(cav_mu, cav_var, b, 0.025)
    high = _marginal_quantile(cav_mu, cav_var, b, 0.975)
    return PosteriorSummary(mean, np.sqrt(var), low, high)


def _marginal_quantile(cav_mu, cav_var, b, q):
    """Quantile of a weight's marginal: EP cavity times the exact prior. Where
    the data say nothing about the weight (no proper cavity), that is the
    Laplace prior itself."""
    flat = ~np.isfinite(cav_var)
    prior_q = -b * np.sign(q - 0.5) * np.log(1.0 - 2.0 * abs(q - 0.5))
    mu = np.where(flat, 0.0, cav_mu)
    var = np.where(flat, 1.0, cav_var)
    return np.where(flat, prior_q, tilted_laplace_quantile(mu, var, b, np.full(mu.shape, q)))


# --------------------------------------------------------------- public API


def fit_prepared(data, *, prior_scale=PRIOR_SCALE, n_sweeps=None, seed=0, method="ep", tol=EP_TOL, approx=False):
    """Fit all rows of an ep.Data (judges, or judges x folds) on its shared design."""
    if np.any(np.asarray(prior_scale) <= 0):
        raise ValueError("prior_scale must be positive")
    with one_blas_thread():
        if method == "ep":
            return _ep_summary(data, prior_scale, n_sweeps or EP_MAX_PASSES, tol, approx)
        if method == "gibbs":
            start = np.nan_to_num(ep.run(data, prior_scale, tol=1e-4, max_passes=EP_MAX_PASSES)[0])
            Y, M = data.sign > 0, data.count > 0  # gibbs gets the pairs themselves (prepare(collapse=False))
            return gibbs_summary(data.design, Y.astype(float), M, prior_scale, n_sweeps or 2000, seed, start)
    raise ValueError(f"unknown method {method!r} (use 'ep' or 'gibbs')")


def fit_posterior(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    prior_scale: float = PRIOR_SCALE,
    mask: np.ndarray | None = None,
    n_sweeps: int | None = None,
    seed: int = 0,
    method: str = "ep",
    tol: float = EP_TOL,
    approx: bool = False,
) -> PosteriorSummary:
    """Posterior of the weights for J judges that share the design X.

    X: (n, P) shared design; Y: (J, n) labels in {0,1} (1: response 1 preferred)
    for J judges, or (n,) for one; mask: (J, n) bool, False where a judge has no
    label for that pair (NaN labels count as missing too).
    method "ep" (default, deterministic; n_sweeps caps the EP passes, seed is
    unused) or "gibbs" (Polya-Gamma sampler; n_sweeps kept sweeps, default 2000).
    approx=True: EP with the probit approximation of the logistic (held-out fits only).
    """
    X, Y, M = check_inputs(X, Y, mask)
    data = ep.prepare(X, Y, M, collapse=method != "gibbs")
    return fit_prepared(data, prior_scale=prior_scale, n_sweeps=n_sweeps, seed=seed, method=method, tol=tol,
                      approx=approx)


def fit_many(
    problems: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    *,
    progress: Callable[[int, int], None] | None = None,
    **kw,
) -> list[PosteriorSummary]:
    """Fit many (X, Y, mask) problems (one per group; keywords as
    fit_posterior). Each group is one batch over all its judges; groups are not
    padded together because the batched products already cost only what the
    real pairs cost. progress(done, total) is called after each group."""
    out = []
    for i, (X, Y, mask) in enumerate(problems):
        out.append(fit_posterior(X, Y, mask=mask, **kw))
        if progress is not None:
            progress(i + 1, len(problems))
    return out
