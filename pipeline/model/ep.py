"""Expectation propagation for the dissection model: the engine behind pipeline/model/bayes.py.

The model and the method are described in bayes' docstring. This module holds the parts
that decide the speed:

- `Data`: what one batch of EP problems sees: a shared design (`Design`), and per problem
  (row) and design row a label sign and a count of identical sites. A group's pairs are
  the design rows with count 1 (0 where a judge has no label). When many pairs share the
  same feature row (the style set's -1/0/1 columns), the distinct rows are the design,
  once per choice, and the counts say how many pairs each stands for (`prepare`): parallel
  EP gives identical factors identical sites, so this is the same computation, exactly.
- k-fold training splits that keep the full design and leave out one contiguous block of
  its (fold-ordered) rows (`Design.without`): no masked work, one design for all folds.
- the per-pair site update, a compiled loop (pipeline/model/ep_kernels.py), with `_sites_numpy`
  as the fallback and the tests' reference. Gauss-Hermite quadrature picks its number of
  nodes per pair from the pair's cavity sd (few nodes for the narrow cavities of large
  groups).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_ndtr, ndtri_exp

from . import ep_kernels

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
_TINY = 1e-10
_MIN_STEP = 1.0 / 64
_CALM, _REGROW = 0.7, 1.5
COLLAPSE_SHARE = 0.25  # collapse identical rows when the distinct ones are at most this share of the pairs
USE_KERNEL = ep_kernels.AVAILABLE and not os.environ.get("PREFDISSECT_NO_JIT")


# ----------------------------------------------------------------- 1-D moments


def _gauss_hermite(k):
    """Nodes t and the weight columns (w, w t, w t^2) of k-point quadrature against the
    standard normal."""
    t, w = np.polynomial.hermite.hermgauss(k)
    t, w = np.sqrt(2.0) * t, w / np.sqrt(np.pi)
    return t, np.stack([w, w * t, w * t * t], 1)


# (largest cavity sd of f = x.w, nodes), chosen per pair: the site's precision and shift
# are within 1e-6 (relative) of 120 nodes up to sd 0.8, 7e-5 up to 1.5 (measured over
# cavity means -8..8); large groups' cavities have sd ~0.05-0.2, so 5-6 nodes
_RULES = [(lim, _gauss_hermite(k)) for lim, k in
          [(0.05, 5), (0.2, 6), (0.3, 7), (0.4, 8), (0.6, 10), (0.8, 14), (1.5, 16), (np.inf, 48)]]
_LIMITS = np.array([lim for lim, _ in _RULES])
_BLOCK = 1 << 22  # elements of a quadrature temporary per block: 32 MB


def _packed_rules():
    """The rules as padded arrays, for the compiled loop."""
    k = max(len(t) for _, (t, _) in _RULES)
    nodes, weights = np.zeros((len(_RULES), k)), np.zeros((len(_RULES), k, 3))
    for r, (_, (t, cols)) in enumerate(_RULES):
        nodes[r, :len(t)], weights[r, :len(t)] = t, cols
    return _LIMITS, nodes, weights, np.array([len(t) for _, (t, _) in _RULES], np.int64)


_PACKED = _packed_rules()


def _tilted_logistic(mu, var, sign):
    """Mean and variance of N(f; mu, var) * sigmoid(sign * f) by quadrature over
    f = mu + sd * t, each element with the rule its sd calls for."""
    mu, var, sign = np.broadcast_arrays(mu, var, sign)
    sd = np.sqrt(var).ravel()
    rule = np.searchsorted(_LIMITS, sd)  # the first rule whose limit is >= sd
    mean, out_var = np.full(mu.size, np.nan), np.full(mu.size, np.nan)
    for r, (_, (t, cols)) in enumerate(_RULES):
        idx = np.flatnonzero(rule == r)
        for a in range(0, len(idx), max(1, _BLOCK // len(t))):
            b = idx[a:a + _BLOCK // len(t)]
            m, s, sg = mu.ravel()[b], sd[b], sign.ravel()[b]
            p = expit(sg[:, None] * (m[:, None] + s[:, None] * t))
            z, s1, s2 = (p @ cols).T
            m1 = s1 / z
            mean[b] = m + s * m1
            out_var[b] = s * s * (s2 / z - m1 * m1)
    return mean.reshape(mu.shape), out_var.reshape(mu.shape)


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


def tilted_laplace(mu, var, b):
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


def tilted_laplace_quantile(mu, var, b, q):
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


class Design:
    """A group's design X (n, P), shared by all its judges, in the forms the batched
    updates need. X' diag(t_j) X for all judges j is one matrix product with the rows'
    outer products x_i x_i' (upper triangles), and so is x_i' C_j x_i for every row and
    judge: a few large products instead of one small one per judge. A design may be
    pieces (views) of another's rows: a training split without its test block."""

    def __init__(self, X=None, parts=None):
        if parts is None:
            X = np.ascontiguousarray(X, dtype=float)
            parts = [(X, _outer(X))]
        self.parts = parts
        self.P = parts[0][0].shape[1]
        self.n = sum(len(x) for x, _ in parts)
        self.iu, self.ju = np.triu_indices(self.P)
        self.twice = np.where(self.iu == self.ju, 1.0, 2.0)  # off-diagonal terms appear twice in x'Cx
        cuts = np.cumsum([0] + [len(x) for x, _ in parts])
        self.slices = [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])]
        self.informative = np.concatenate([(x != 0).any(1) for x, _ in parts])  # a row of zeros says nothing

    @property
    def X(self):
        return self.parts[0][0] if len(self.parts) == 1 else np.concatenate([x for x, _ in self.parts])

    def without(self, a, b):
        """The design without rows a..b-1 (no copy)."""
        (X, outer), = self.parts
        return Design(parts=[(X[:a], outer[:a]), (X[b:], outer[b:])])

    def gram(self, weights):
        """(J, n) row weights -> (J, P, P) X' diag(weights_j) X."""
        upper = sum(weights[:, s] @ outer for s, (_, outer) in zip(self.slices, self.parts))
        out = np.empty((len(weights), self.P, self.P))
        out[:, self.iu, self.ju] = upper
        out[:, self.ju, self.iu] = upper
        return out

    def xt(self, weights):
        """(J, n) -> (J, P) weights_j @ X."""
        return sum(weights[:, s] @ x for s, (x, _) in zip(self.slices, self.parts))

    def quad(self, cov):
        """(J, P, P) -> (J, n) x_i' cov_j x_i."""
        return self._rows(cov[:, self.iu, self.ju] * self.twice, 1)

    def project(self, w):
        """(J, P) -> (J, n) x_i . w_j."""
        return self._rows(w, 0)

    def _rows(self, coef, which):
        if len(self.parts) == 1:
            return coef @ self.parts[0][which].T
        out = np.empty((len(coef), self.n))
        for s, part in zip(self.slices, self.parts):
            out[:, s] = coef @ part[which].T
        return out


def _outer(X):
    """(n, T) upper triangles of the rows' outer products, row-major as np.triu_indices
    orders them: one product of a column with the columns after it at a time."""
    n, P = X.shape
    out = np.empty((n, P * (P + 1) // 2))
    at = 0
    for a in range(P):
        np.multiply(X[:, a:a + 1], X[:, a:], out=out[:, at:at + P - a])
        at += P - a
    return out


@dataclass
class Data:
    """One batch of EP problems: rows of sign and count share the design's rows."""

    design: Design
    sign: np.ndarray   # (J, n) +1 where response 1 was preferred, -1 otherwise
    count: np.ndarray  # (J, n) identical sites a design row stands for (0: no label)


def _distinct_rows(X):
    """(distinct rows, index of each row's) when that collapses X enough, else None. A
    random projection finds candidates cheaply (it can only merge rows, so a count above
    the limit is final); the candidates are then checked exactly."""
    n = len(X)
    if n < 8:
        return None
    limit = COLLAPSE_SHARE * n / 2  # each distinct row becomes two design rows, one per choice
    key = X @ np.random.default_rng(0).standard_normal(X.shape[1])
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if len(first) > limit:
        return None
    if not (X[first][inverse] == X).all():  # a projection collision: do it exactly
        _, first, inverse = np.unique(X, axis=0, return_index=True, return_inverse=True)
        if len(first) > limit:
            return None
    return X[first], inverse.ravel()


def prepare(X, Y, M, collapse=True):
    """EP's view of (X, Y, M): the pairs themselves, or their distinct rows with counts."""
    distinct = _distinct_rows(X) if collapse else None
    if distinct is None:
        return Data(Design(X), 2.0 * Y - 1.0, M.astype(float))
    return collapsed(distinct, Y, M)[0]


def collapsed(distinct, Y, M, fold=None, k=1):
    """Distinct rows U (u, P) twice (chosen, not chosen) and per judge the pairs behind each;
    with fold ids, one Data per fold's training split (the pairs of every fold but that one),
    all from one count."""
    U, inverse = distinct
    u, J = len(U), len(Y)
    key = inverse + u * (Y < 0.5) + 2 * u * np.arange(J)[:, None]
    if fold is not None:
        key += 2 * u * J * fold
    count = np.bincount(key[M], minlength=2 * u * J * k).reshape(k, J, 2 * u).astype(float)
    if fold is not None:
        count = count.sum(0) - count  # the training split: all but the fold
    design = Design(np.concatenate([U, U]))
    sign = np.ascontiguousarray(np.broadcast_to(np.repeat([1.0, -1.0], u), (J, 2 * u)))
    return [Data(design, sign, c) for c in count]


HOLES_FROM = 2000  # pairs from which each fold gets its own design without its test block


def prepare_folds(X, Y, M, fold, k):
    """EP's view of the k training splits (fold f's pairs left out), as a list of Data whose
    rows are, in order, fold 0's judges, fold 1's, ... Small groups and collapsed rows: one
    batch, the test pairs' counts 0 (fewer, larger batches: less per-call overhead). Large
    groups: one batch per fold, on the fold-ordered design without the fold's block (no
    work on the pairs a fit leaves out)."""
    distinct = _distinct_rows(X)
    if distinct is not None:
        return [_stack(collapsed(distinct, Y, M, fold, k))]
    if len(X) < HOLES_FROM:
        design, sign = Design(X), 2.0 * Y - 1.0
        return [_stack([Data(design, sign, (M & (fold != f)).astype(float)) for f in range(k)])]
    order = np.argsort(fold, kind="stable")  # each fold's pairs one contiguous block
    full = Design(X[order])
    sign, count = 2.0 * Y[:, order] - 1.0, M[:, order].astype(float)
    cuts = np.searchsorted(fold[order], np.arange(k + 1))
    out = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        keep = np.r_[0:a, b:len(X)]
        out.append(Data(full.without(a, b), sign[:, keep], count[:, keep]))
    return out


def _stack(datas):
    """Data on one design as one batch."""
    return Data(datas[0].design, np.concatenate([d.sign for d in datas]), np.concatenate([d.count for d in datas]))


# ---------------------------------------------------------------------- EP


_SITES = ("site_tau", "site_nu", "prior_tau", "prior_nu")


def run(data: Data, b, tol, max_passes, approx=False):
    """EP for the J problems of `data`.

    Every pass refits all sites in parallel from the current approximation. The
    likelihood sites start at the curvature of the logistic at 0 (precision 1/4, shift
    sign/2: one Newton step from w = 0), a pass closer than starting from nothing. Full
    steps converge in ~5-10 passes for this model; a problem whose change grows
    (oscillation) or whose approximation breaks (non-finite, negative variance: a too-long
    step with a wide prior) gets its step halved, the broken one from its last good sites.
    A problem stops being updated once no posterior mean or sd moved by more than tol, so
    its result doesn't depend on what else is in the batch. Returns mean, marginal variance
    and the prior sites' cavity (mean, variance), each (J, P); NaN where a problem could
    not be fitted.
    """
    design = data.design
    J, P = data.count.shape[0], design.P
    count = np.where(design.informative, data.count, 0.0)
    sign = np.ascontiguousarray(data.sign, dtype=float)
    active = count > 0
    st = {  # per-problem state, compacted as problems finish
        "sign": sign,
        "count": count,
        "site_tau": np.where(active, 0.25, 0.0),  # likelihood sites: precision and shift on f = x.w
        "site_nu": np.where(active, 0.5 * sign, 0.0),
        "prior_tau": np.full((J, P), 1.0 / (2.0 * b * b)),  # start at the prior's variance
        "prior_nu": np.zeros((J, P)),
        "step": np.ones(J),
        "change": np.full(J, np.inf),  # the last pass's largest move
        "prev": np.full((J, 2 * P), np.nan),  # the last pass's means and sds
    }
    out = [np.full((J, P), np.nan) for _ in range(3)] + [np.full((J, P), np.inf)]
    act = np.arange(J)
    saved = dict(st)
    for _ in range(max_passes):
        mean, cov, var = _global(design, st)
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
        calm = change < _CALM * st["change"]  # a halved step that now converges steadily grows back
        st["step"] = np.where(grew, np.maximum(st["step"] / 2, _MIN_STEP),
                              np.where(calm, np.minimum(st["step"] * _REGROW, 1.0), st["step"]))
        st["change"], st["prev"] = change, state
        saved = dict(st)  # the updates below make new arrays, so these stay the last good sites
        step = st["step"]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # broken problems: caught above
            st["site_tau"], st["site_nu"] = _likelihood_sites(design, st, mean, cov, step, approx)
        new_tau, new_nu = _prior_sites(st, cav_mu, cav_var, ok_p, b)
        st["prior_tau"] = st["prior_tau"] + step[:, None] * (new_tau - st["prior_tau"])
        st["prior_nu"] = st["prior_nu"] + step[:, None] * (new_nu - st["prior_nu"])
    for o, v in zip(out, (mean, var, cav_mu, np.where(ok_p, cav_var, np.inf))):  # out of passes
        o[act] = v
    return out


def _global(design, st):
    """The Gaussian approximation's mean, covariance and variances from all sites."""
    diag = np.arange(design.P)
    prec = design.gram(st["count"] * st["site_tau"])
    prec[:, diag, diag] += st["prior_tau"]
    cov = ep_kernels.inv_spd(prec) if USE_KERNEL else np.linalg.inv(prec)
    mean = (cov @ (st["prior_nu"] + design.xt(st["count"] * st["site_nu"]))[..., None])[..., 0]
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


def _likelihood_sites(design, st, mean, cov, step, approx):
    f_mu, f_var = design.project(mean), design.quad(cov)
    args = (f_mu, f_var, st["sign"], st["count"], st["site_tau"], st["site_nu"], step, approx)
    if USE_KERNEL:
        return ep_kernels.likelihood_sites(*args, _PACKED)
    return _sites_numpy(*args)


def _sites_numpy(f_mu, f_var, sign, count, tau, nu, step, approx):
    """Every labelled row's site a step towards its tilted moments, all at once (unchanged
    where the row has no count or its cavity is improper): ep_kernels' loop in numpy."""
    active = count > 0
    cav_mu, cav_var, ok = _cavity(f_mu, np.where(active, f_var, 1.0), tau, nu)
    ok &= active
    tilted = _tilted_probit if approx else _tilted_logistic
    new_tau, new_nu = _site_from_moments(*tilted(cav_mu, cav_var, sign), cav_mu, cav_var)
    s = step[:, None]
    return np.where(ok, tau + s * (new_tau - tau), tau), np.where(ok, nu + s * (new_nu - nu), nu)


def _prior_sites(st, cav_mu, cav_var, ok, b):
    """Each weight's prior site refitted to the tilted Laplace moments."""
    tau, nu = _site_from_moments(*tilted_laplace(cav_mu, cav_var, b), cav_mu, cav_var)
    return np.where(ok, tau, st["prior_tau"]), np.where(ok, nu, st["prior_nu"])
