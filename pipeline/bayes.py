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
a whole group is a few matrix products; ~10 passes converge. EP agrees with
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
scikit-learn in the tests: both in pipeline/bayes_checks.py. k-fold averaging and
held-out metrics: pipeline/heldout.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_ndtr, ndtri_exp

PRIOR_SCALE = 0.1
EP_TOL = 1e-6  # max change of any posterior mean or sd between passes
EP_MAX_PASSES = 200
HELDOUT_TOL = 1e-3  # held-out predictions only need the sign of x.w
_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_TINY = 1e-10


@dataclass
class PosteriorSummary:
    mean: np.ndarray  # (J, P)
    sd: np.ndarray  # (J, P)
    ci_low: np.ndarray  # (J, P) 2.5% quantile
    ci_high: np.ndarray  # (J, P) 97.5% quantile

    def __getitem__(self, idx) -> "PosteriorSummary":
        """Rows (judges) of the summary."""
        return PosteriorSummary(self.mean[idx], self.sd[idx], self.ci_low[idx], self.ci_high[idx])


# ----------------------------------------------------------------- 1-D moments


def _gauss_hermite(k):
    """Nodes t and the weight columns (w, w t, w t^2) of k-point quadrature
    against the standard normal."""
    t, w = np.polynomial.hermite.hermgauss(k)
    t, w = np.sqrt(2.0) * t, w / np.sqrt(np.pi)
    return t, np.stack([w, w * t, w * t * t], 1)


# (largest cavity sd, nodes): relative error of the site precision stays
# under ~1e-5 (measured against 64 nodes); x.w's cavity sd is ~0.3-0.8 here
_GH_RULES = [(0.8, _gauss_hermite(10)), (1.5, _gauss_hermite(16)), (np.inf, _gauss_hermite(48))]


_BLOCK = 1 << 22  # elements of the (rows, n, nodes) quadrature temporary per block: 32 MB


def _tilted_logistic(mu, var, sign):
    """Mean and variance of N(f; mu, var) * sigmoid(sign * f), by quadrature
    over f = mu + sd * t, the three moments in one matrix product. (J, n)
    arrays; rows go in blocks so that 100,000 pairs x 250 fits stay in memory
    (the rule is chosen once for all rows: the result doesn't depend on blocks)."""
    sd = np.sqrt(var)
    t, cols = next(rule for limit, rule in _GH_RULES if sd.max(initial=0.0) <= limit)
    mean, out_var = np.empty_like(mu), np.empty_like(var)
    step = max(1, _BLOCK // max(mu.shape[-1] * len(t), 1))
    for a in range(0, len(mu), step):
        b = slice(a, a + step)
        arg = (sign[b] * sd[b])[..., None] * t
        arg += (sign[b] * mu[b])[..., None]
        p = expit(arg, out=arg)
        z, s1, s2 = np.moveaxis(p @ cols, -1, 0)
        m1 = s1 / z  # mean of t
        mean[b] = mu[b] + sd[b] * m1
        out_var[b] = var[b] * (s2 / z - m1 * m1)
    return mean, out_var


_KAPPA = np.sqrt(np.pi / 8.0)  # sigmoid(f) ~ Phi(kappa f), within 0.02 everywhere


def _tilted_probit(mu, var, sign):
    """The same moments with sigmoid replaced by Phi(kappa f), closed form: ~10x cheaper,
    for held-out fits only (their predictions need ~1e-2 in x.w, not the exact posterior)."""
    denom = np.sqrt(1.0 + _KAPPA * _KAPPA * var)
    z = sign * _KAPPA * mu / denom
    r = _mills(z)
    mean = mu + sign * _KAPPA * var * r / denom
    return mean, var - (_KAPPA * var / denom) ** 2 * r * (z + r)


def _mills(a):
    """phi(a) / Phi(a), stable far into the left tail."""
    return np.exp(-0.5 * a * a - _LOG_SQRT_2PI - log_ndtr(a))


def _laplace_pieces(mu, var, b):
    """N(w; mu, var) * exp(-|w|/b) is a two-piece normal: the side w >= 0 is
    N(mu - var/b, var) cut at 0, the side w < 0 is N(mu + var/b, var) cut at 0.
    Returns the positive side's probability and both pieces' (mean, cut-off
    standardised point)."""
    s = np.sqrt(var)
    m_pos, m_neg = mu - var / b, mu + var / b
    a_pos, a_neg = m_pos / s, -m_neg / s
    log_pos = -mu / b + log_ndtr(a_pos)
    log_neg = mu / b + log_ndtr(a_neg)
    p_pos = expit(log_pos - log_neg)
    return p_pos, m_pos, a_pos, m_neg, a_neg, s


def _tilted_laplace(mu, var, b):
    """Mean and variance of N(w; mu, var) * Laplace(w; 0, b), closed form."""
    p_pos, m_pos, a_pos, m_neg, a_neg, s = _laplace_pieces(mu, var, b)
    l_pos, l_neg = _mills(a_pos), _mills(a_neg)
    mean_pos = m_pos + s * l_pos
    mean_neg = m_neg - s * l_neg
    var_pos = var * np.maximum(1.0 - a_pos * l_pos - l_pos * l_pos, 0.0)
    var_neg = var * np.maximum(1.0 - a_neg * l_neg - l_neg * l_neg, 0.0)
    mean = p_pos * mean_pos + (1.0 - p_pos) * mean_neg
    var_t = p_pos * (var_pos + (mean_pos - mean) ** 2) + (1.0 - p_pos) * (var_neg + (mean_neg - mean) ** 2)
    return mean, var_t


def _tilted_laplace_quantile(mu, var, b, q):
    """Quantile q of N(w; mu, var) * Laplace(w; 0, b) (the two-piece normal)."""
    p_pos, m_pos, a_pos, m_neg, a_neg, s = _laplace_pieces(mu, var, b)
    p_neg = 1.0 - p_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        # inside the negative piece: p_neg * Phi((w - m_neg)/s) / Phi(a_neg) = q
        w_neg = m_neg + s * ndtri_exp(np.log(q) + log_ndtr(a_neg) - np.log(p_neg))
        # inside the positive piece: p_pos * Phi((m_pos - w)/s) / Phi(a_pos) = 1 - q
        w_pos = m_pos - s * ndtri_exp(np.log1p(-q) + log_ndtr(a_pos) - np.log(p_pos))
    return np.where(q < p_neg, np.minimum(w_neg, 0.0), np.maximum(w_pos, 0.0))


# ------------------------------------------------------------ shared design


class _Design:
    """A group's design X (n, P), shared by all its judges, in the forms the
    batched updates need. X' diag(t_j) X for all judges j is one matrix
    product with the pairs' outer products x_i x_i' (upper triangles), and so
    is x_i' C_j x_i for every pair and judge: a few large products instead of
    one small one per judge."""

    def __init__(self, X):
        self.X = X
        self.n, self.P = X.shape
        self.iu, self.ju = np.triu_indices(self.P)
        self.outer = X[:, self.iu] * X[:, self.ju]  # (n, T)
        self.outer_t = np.ascontiguousarray(self.outer.T)  # (T, n)
        self.twice = np.where(self.iu == self.ju, 1.0, 2.0)  # off-diagonal terms appear twice in x'Cx
        self.informative = (X != 0).any(1)  # a pair that differs on nothing says nothing

    def gram(self, weights):
        """(J, n) pair weights -> (J, P, P) X' diag(weights_j) X."""
        upper = weights @ self.outer
        out = np.empty((len(weights), self.P, self.P))
        out[:, self.iu, self.ju] = upper
        out[:, self.ju, self.iu] = upper
        return out

    def quad(self, cov):
        """(J, P, P) -> (J, n) x_i' cov_j x_i."""
        return (cov[:, self.iu, self.ju] * self.twice) @ self.outer_t

    def project(self, w):
        """(J, P) -> (J, n) x_i . w_j."""
        return w @ self.X.T


# ---------------------------------------------------------------------- EP


_SITES = ("site_tau", "site_nu", "prior_tau", "prior_nu")
_MIN_STEP = 1.0 / 64


def _ep(design, Y, M, b, tol=EP_TOL, max_passes=EP_MAX_PASSES, approx=False):
    """EP for J problems on one design. Y (J, n) in {0,1}, M (J, n) bool.

    Every pass refits all sites in parallel from the current approximation.
    Full steps converge in ~10 passes for this model; a problem whose change
    grows (oscillation) or whose approximation breaks (non-finite, negative
    variance: a too-long step with a wide prior) gets its step halved, the
    broken one from its last good sites. A problem stops being updated once
    no posterior mean or sd moved by more than tol, so its result doesn't
    depend on what else is in the batch. Returns mean, marginal variance and
    the prior sites' cavity (mean, variance), each (J, P); NaN where a
    problem could not be fitted.
    """
    J, P = len(Y), design.P
    st = {  # per-problem state, compacted as problems finish
        "sign": 2.0 * Y - 1.0,
        "mask": M & design.informative,
        "site_tau": np.zeros(Y.shape),  # likelihood sites: precision and shift on f = x.w
        "site_nu": np.zeros(Y.shape),
        "prior_tau": np.full((J, P), 1.0 / (2.0 * b * b)),  # start at the prior's variance
        "prior_nu": np.zeros((J, P)),
        "step": np.ones(J),
        "change": np.full(J, np.inf),  # the last pass's largest move
        "prev": np.full((J, 2 * P), np.nan),  # the last pass's means and sds
    }
    out = [np.full((J, P), np.nan) for _ in range(3)] + [np.full((J, P), np.inf)]
    act = np.arange(J)
    saved = st
    for _ in range(max_passes):
        mean, cov, var = _ep_global(design, st)
        state = np.concatenate([mean, np.sqrt(np.maximum(var, 0.0))], 1)
        broken = ~np.isfinite(state).all(1) | (var <= 0).any(1)
        if broken.any():
            retry = broken & (saved["step"] > _MIN_STEP)
            for k in _SITES:
                st[k][retry] = saved[k][retry]
            st["step"][retry] = saved["step"][retry] / 2
            if retry.any():
                continue  # recompute from the restored sites; the rest lose one pass, nothing else
        cav_mu, cav_var, ok_p = _cavity(mean, var, st["prior_tau"], st["prior_nu"])
        change = np.abs(state - st["prev"]).max(1)
        done = (change < tol) | broken
        if done.any():
            flat = np.where(ok_p, cav_var, np.inf)  # the data say nothing on that weight
            results = (np.where(broken[:, None], np.nan, mean), var, cav_mu, flat)
            for o, v in zip(out, results):
                o[act[done]] = v[done]
            keep = ~done
            act = act[keep]
            if len(act) == 0:
                return out
            st = {k: v[keep] for k, v in st.items()}
            mean, var, cov, cav_mu, cav_var, ok_p, state, change = (
                a[keep] for a in (mean, var, cov, cav_mu, cav_var, ok_p, state, change)
            )
        grew = change > st["change"]
        st["step"] = np.where(grew, np.maximum(st["step"] / 2, _MIN_STEP), st["step"])
        st["change"], st["prev"] = change, state
        saved = {k: st[k].copy() for k in _SITES + ("step",)}
        proposed = _likelihood_sites(design, st, mean, cov, approx) + _prior_sites(st, cav_mu, cav_var, ok_p, b)
        step = st["step"][:, None]
        for k, new in zip(_SITES, proposed):
            st[k] = st[k] + step * (new - st[k])
    for o, v in zip(out, (mean, var, cav_mu, np.where(ok_p, cav_var, np.inf))):  # out of passes
        o[act] = v
    return out


def _ep_global(design, st):
    """The Gaussian approximation's mean, covariance and variances from all sites."""
    diag = np.arange(design.P)
    prec = design.gram(st["site_tau"])
    prec[:, diag, diag] += st["prior_tau"]
    cov = np.linalg.inv(prec)
    mean = (cov @ (st["prior_nu"] + st["site_nu"] @ design.X)[..., None])[..., 0]
    return mean, cov, cov[:, diag, diag]


def _cavity(mean, var, tau, nu):
    """Remove a site (tau, nu) from Gaussian marginals; ok where still proper."""
    cav_tau = 1.0 / var - tau
    ok = cav_tau > _TINY
    cav_tau = np.where(ok, cav_tau, 1.0)
    cav_nu = np.where(ok, mean / var - nu, 0.0)
    return cav_nu / cav_tau, 1.0 / cav_tau, ok


def _site_from_moments(t_mean, t_var, cav_mu, cav_var):
    """The Gaussian site that turns the cavity into the tilted moments."""
    return 1.0 / t_var - 1.0 / cav_var, t_mean / t_var - cav_mu / cav_var


def _likelihood_sites(design, st, mean, cov, approx=False):
    """Every labelled pair's site refitted to its tilted moments, all at once
    (unchanged where the pair is masked or its cavity is improper)."""
    msk = st["mask"]
    f_var = np.where(msk, design.quad(cov), 1.0)
    cav_mu, cav_var, ok = _cavity(design.project(mean), f_var, st["site_tau"], st["site_nu"])
    ok &= msk
    with np.errstate(divide="ignore", invalid="ignore"):  # broken problems are caught by the caller
        tilted = _tilted_probit if approx else _tilted_logistic
        tau, nu = _site_from_moments(*tilted(cav_mu, cav_var, st["sign"]), cav_mu, cav_var)
    return np.where(ok, tau, st["site_tau"]), np.where(ok, nu, st["site_nu"])


def _prior_sites(st, cav_mu, cav_var, ok, b):
    """Each weight's prior site refitted to the tilted Laplace moments."""
    tau, nu = _site_from_moments(*_tilted_laplace(cav_mu, cav_var, b), cav_mu, cav_var)
    return np.where(ok, tau, st["prior_tau"]), np.where(ok, nu, st["prior_nu"])


def _ep_summary(design, Y, M, b, max_passes, tol, approx=False):
    mean, var, cav_mu, cav_var = _ep(design, Y, M, b, tol=tol, max_passes=max_passes, approx=approx)
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
    return np.where(flat, prior_q, _tilted_laplace_quantile(mu, var, b, np.full(mu.shape, q)))


# --------------------------------------------------------------- public API


def _check(X, Y, mask):
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    if not np.isfinite(X).all():
        raise ValueError("X has non-finite values")
    if Y.ndim == 1:
        Y = Y[None]
    if X.ndim != 2 or Y.ndim != 2 or Y.shape[1] != X.shape[0]:
        raise ValueError(f"need X (n, P) and Y (J, n); got X {X.shape}, Y {Y.shape}")
    M = np.ones(Y.shape, bool) if mask is None else np.broadcast_to(np.asarray(mask, bool), Y.shape)
    M = M & np.isfinite(Y)  # a NaN label is a missing label
    Y = np.where(M, Y, 0.0)
    if not np.isin(Y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    return X, Y, M


def _fit_group(design, Y, M, *, prior_scale=PRIOR_SCALE, n_sweeps=None, seed=0, method="ep", tol=EP_TOL,
               approx=False):
    """Fit all rows of Y (judges, or judges x folds) on one shared design."""
    if prior_scale <= 0:
        raise ValueError("prior_scale must be positive")
    with _one_blas_thread():
        if method == "ep":
            return _ep_summary(design, Y, M, prior_scale, n_sweeps or EP_MAX_PASSES, tol, approx)
        if method == "gibbs":
            from .bayes_checks import gibbs_summary

            start = np.nan_to_num(_ep(design, Y, M, prior_scale, tol=1e-4)[0])
            return gibbs_summary(design, Y, M, prior_scale, n_sweeps or 2000, seed, start)
    raise ValueError(f"unknown method {method!r} (use 'ep' or 'gibbs')")


def _one_blas_thread():
    """The products here are small: BLAS threads cost more than they give
    (measured 3x slower with 2 threads on 2 cores), and the cores are shared."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


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
    X, Y, M = _check(X, Y, mask)
    return _fit_group(_Design(X), Y, M, prior_scale=prior_scale, n_sweeps=n_sweeps, seed=seed, method=method, tol=tol,
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


# k-fold averaging and held-out metrics live in pipeline/heldout.py (scikit-learn splits
# and metrics); these names stay here because callers know them as bayes.*.


def fit_kfold(X, Y, mask=None, *, k: int, seed: int = 0, **kw):
    """See heldout.fit_kfold: k-fold averaged summary and held-out accuracy per judge."""
    from .heldout import fit_kfold as run

    return run(X, Y, mask, k=k, seed=seed, **kw)


def heldout_accuracy(X, Y, mask=None, *, k: int = 5, seed: int = 0, **kw) -> np.ndarray:
    """See heldout.heldout_accuracy: k-fold cross-validated accuracy per judge."""
    from .heldout import heldout_accuracy as run

    return run(X, Y, mask, k=k, seed=seed, **kw)
