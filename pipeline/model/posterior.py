"""What a fit of the dissection model returns, and the checks on its inputs (shared by the
EP engine in `bayes.py`, the held-out metrics in `heldout.py` and the checks in `bayes_checks.py`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRIOR_SCALE = 0.1  # the Laplace prior's scale b (SPEC section 6)


@dataclass
class PosteriorSummary:
    mean: np.ndarray  # (J, P)
    sd: np.ndarray  # (J, P)
    ci_low: np.ndarray  # (J, P) 2.5% quantile
    ci_high: np.ndarray  # (J, P) 97.5% quantile

    def __getitem__(self, idx) -> "PosteriorSummary":
        """Rows (judges) of the summary."""
        return PosteriorSummary(self.mean[idx], self.sd[idx], self.ci_low[idx], self.ci_high[idx])


def check_inputs(X, Y, mask):
    """X (n, P) and Y (J, n) as floats, with the mask of labels present; refuses what no fit can use."""
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
