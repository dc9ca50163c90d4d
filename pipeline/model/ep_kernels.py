"""The per-pair step of EP (pipeline/model/ep.py) as one compiled loop.

Every pass refits each labelled pair's Gaussian site: remove the site from the pair's
marginal of f = x.w (the cavity), take the tilted moments (cavity x exact factor), turn
them into a new site and move a step towards it. In numpy that is ~40 whole-array
temporaries per pass over (judges, pairs), which cost more than the matrix products;
here it is one loop that reads each input once (numba, compiled on first use and cached
on disk, the GIL released so that two groups can be fitted at once). `ep._sites_numpy`
is the same computation in numpy: the fallback without numba, and the tests' reference.
"""

from __future__ import annotations

import math

import numpy as np

import importlib.util
import threading

_TINY = 1e-10
_KAPPA = math.sqrt(math.pi / 8.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _mills(a):
    """phi(a) / Phi(a); below -35 by its asymptotic series (erfc underflows past ~-37)."""
    if a > -35.0:
        return math.exp(-0.5 * a * a) * _INV_SQRT_2PI / (0.5 * math.erfc(-a / math.sqrt(2.0)))
    r = 1.0 / (a * a)
    return -a / (1.0 - r * (1.0 - r * (3.0 - r * (15.0 - 105.0 * r))))


def _sites(f_mu, f_var, sign, count, tau, nu, step, approx, limits, nodes, weights, n_nodes, out_tau, out_nu):
    J, n = f_mu.shape
    for j in range(J):
        s = step[j]
        for i in range(n):
            t0 = tau[j, i]
            n0 = nu[j, i]
            out_tau[j, i] = t0
            out_nu[j, i] = n0
            if count[j, i] <= 0.0:
                continue
            v = f_var[j, i]
            c_tau = 1.0 / v - t0
            if not c_tau > _TINY:  # improper cavity: keep the site
                continue
            c_var = 1.0 / c_tau
            c_mu = (f_mu[j, i] / v - n0) * c_var
            sg = sign[j, i]
            if approx:  # sigmoid(f) ~ Phi(kappa f): closed form
                denom = math.sqrt(1.0 + _KAPPA * _KAPPA * c_var)
                z = sg * _KAPPA * c_mu / denom
                r = _mills(z)
                t_mean = c_mu + sg * _KAPPA * c_var * r / denom
                k = _KAPPA * c_var / denom
                t_var = c_var - k * k * r * (z + r)
            else:  # Gauss-Hermite over f = c_mu + sd t, the rule chosen by this pair's sd
                sd = math.sqrt(c_var)
                rule = 0
                while sd > limits[rule]:
                    rule += 1
                k = n_nodes[rule]
                a = -sg * c_mu
                z0 = 0.0
                z1 = 0.0
                z2 = 0.0
                if abs(a) < 300.0 and sd * -nodes[rule, 0] < 300.0:
                    # the nodes are symmetric (t, -t): exp(a - sg sd t) and exp(a + sg sd t)
                    # from one exp each, e^a once
                    ea = math.exp(a)
                    for q in range(k // 2):
                        e = math.exp(-sg * sd * nodes[rule, q])
                        lo = 1.0 / (1.0 + ea * e)
                        hi = 1.0 / (1.0 + ea / e)
                        r = k - 1 - q
                        z0 += weights[rule, q, 0] * lo + weights[rule, r, 0] * hi
                        z1 += weights[rule, q, 1] * lo + weights[rule, r, 1] * hi
                        z2 += weights[rule, q, 2] * lo + weights[rule, r, 2] * hi
                    if k % 2:
                        mid = 1.0 / (1.0 + ea)
                        z0 += weights[rule, k // 2, 0] * mid
                        z1 += weights[rule, k // 2, 1] * mid
                        z2 += weights[rule, k // 2, 2] * mid
                else:  # far out: every node on its own, so nothing overflows
                    for q in range(k):
                        p = 1.0 / (1.0 + math.exp(-sg * (c_mu + sd * nodes[rule, q])))
                        z0 += weights[rule, q, 0] * p
                        z1 += weights[rule, q, 1] * p
                        z2 += weights[rule, q, 2] * p
                m1 = z1 / z0
                t_mean = c_mu + sd * m1
                t_var = c_var * (z2 / z0 - m1 * m1)
            new_tau = 1.0 / t_var - c_tau
            new_nu = t_mean / t_var - c_mu * c_tau
            out_tau[j, i] = t0 + s * (new_tau - t0)
            out_nu[j, i] = n0 + s * (new_nu - n0)


def _inv_spd(A, out):
    """Inverses of symmetric positive definite matrices (J, P, P) by Cholesky; NaN for a
    matrix that is not positive definite (EP's caller treats that problem as broken)."""
    J, P = A.shape[0], A.shape[1]
    L = np.empty((P, P))
    for j in range(J):
        L[:, :] = 0.0
        ok = True
        for a in range(P):  # A = L L'
            s = A[j, a, a]
            for c in range(a):
                s -= L[a, c] * L[a, c]
            if not s > 0.0:
                ok = False
                break
            L[a, a] = math.sqrt(s)
            for b in range(a + 1, P):
                t = A[j, b, a]
                for c in range(a):
                    t -= L[b, c] * L[a, c]
                L[b, a] = t / L[a, a]
        if not ok:
            out[j, :, :] = np.nan
            continue
        for a in range(P):  # L <- inverse of L (lower triangular), in place
            L[a, a] = 1.0 / L[a, a]
            for b in range(a + 1, P):
                t = 0.0
                for c in range(a, b):
                    t -= L[b, c] * L[c, a]
                L[b, a] = t / L[b, b]
        for a in range(P):  # A^-1 = L^-T L^-1
            for b in range(a, P):
                t = 0.0
                for c in range(b, P):
                    t += L[c, a] * L[c, b]
                out[j, a, b] = t
                out[j, b, a] = t


AVAILABLE = importlib.util.find_spec("numba") is not None  # it comes with shap; else ep uses numpy
_compiled = None
_compiled_inv = None
_compiling = threading.Lock()  # groups are fitted on threads: the first two must not both compile


def _kernel():
    """The compiled loop, built on first use (importing numba costs ~0.3 s, so the app's
    pages that never fit don't pay it; compiling ~1 s once, then it loads from the cache)."""
    global _compiled, _compiled_inv, _mills
    with _compiling:
        if _compiled is None:
            from numba import njit

            jit = njit(cache=True, nogil=True, error_model="numpy")  # numpy's inf/nan, not ZeroDivisionError
            _mills = jit(_mills)  # compiled first: _sites calls it
            _compiled_inv = jit(_inv_spd)
            _compiled = jit(_sites)
    return _compiled


def inv_spd(A):
    """(J, P, P) symmetric positive definite -> inverses (NaN where not positive definite);
    ~3x faster than np.linalg.inv on EP's many small matrices."""
    _kernel()
    out = np.empty_like(A)
    _compiled_inv(np.ascontiguousarray(A, dtype=float), out)
    return out


def likelihood_sites(f_mu, f_var, sign, count, tau, nu, step, approx, rules):
    """New (tau, nu) of every site, a step of `step` (per row) towards the refitted site;
    unchanged where count is 0 or the cavity is improper. rules: ep's quadrature rules."""
    limits, nodes, weights, n_nodes = rules
    c = np.ascontiguousarray  # one layout, so one compiled signature
    tau, nu = c(tau, dtype=float), c(nu, dtype=float)
    out_tau, out_nu = np.empty_like(tau), np.empty_like(nu)
    _kernel()(c(f_mu, dtype=float), c(f_var, dtype=float), c(sign, dtype=float), c(count, dtype=float), tau, nu,
              c(step, dtype=float), bool(approx), limits, nodes, weights, n_nodes, out_tau, out_nu)
    return out_tau, out_nu
