"""The dissection net of who wrote the response: `fit --adjust models`.

Where pairs carry the names of the models that wrote them, the dissection is fitted
together with the models' strengths, as the controlled leaderboard fits them
(pipeline/model/bradley_terry.py), for one judge x group:

    P(response 1 preferred) = sigmoid(x . w + s[model_1] - s[model_2])

with the same Laplace(0, 0.1) prior on the property weights w as the plain dissection (and
the same EP posterior and intervals, pipeline/model/bayes.py) and a vague prior on the
strengths s (Laplace with scale 100, as vague as the leaderboard's sd-100 ridge). The
strengths live in the leaderboard's sum-to-zero basis. The weights then mean "at equal
models": a reference model's own quality, when it is response 1 in every pair, goes to its
strength instead of to the properties it happens to differ on.

Only pairs with both model names, in the largest connected set of models, are used (a pair
of a model against itself keeps its style information: its strength terms cancel).

Adjusted fits are stored as fits of the property set `<set>@models` (e.g. `style@models`)
with `fit_runs.adjust = 'models'`, so every reader of a plain set keeps reading the
unadjusted weights unless it asks for the adjusted set by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import null_space

from .bradley_terry import select_models
from .posterior import PRIOR_SCALE

ADJUST_MODELS = "models"
ADJUSTS = (ADJUST_MODELS,)
SEP = "@"
STRENGTH_SCALE = 100.0  # the strengths' Laplace scale: vague


def adjusted_set(property_set: str, adjust: str | None) -> str:
    """The property_set name the fits of `property_set` adjusted for `adjust` are stored under."""
    return f"{property_set}{SEP}{adjust}" if adjust else property_set


def base_set(stored: str) -> str:
    """The plain property set of a stored set name ('style@models' -> 'style')."""
    return stored.split(SEP, 1)[0]


def is_adjusted(stored: str) -> bool:
    return SEP in stored


@dataclass
class ModelDesign:
    rows: np.ndarray          # (n,) bool: the group's pairs used
    X: np.ndarray             # (rows, P + m - 1): the properties, then the strengths' basis
    models: list[str]
    prior_scale: np.ndarray   # (P + m - 1,) Laplace scale per column


def model_design(X: np.ndarray, model_1, model_2) -> ModelDesign | None:
    """The dissection's design X with the strength columns of the response models; None
    when fewer than two models meet in the pairs that name both."""
    m1 = np.asarray(model_1, dtype=object)
    m2 = np.asarray(model_2, dtype=object)
    named = np.array([isinstance(a, str) and isinstance(b, str) for a, b in zip(m1, m2)], bool)
    names = sorted(set(m1[named].tolist()) | set(m2[named].tolist()), key=str)
    if len(names) < 2:
        return None
    index = {n: i for i, n in enumerate(names)}
    a = np.array([index[v] for v in m1[named]], int)
    b = np.array([index[v] for v in m2[named]], int)
    keep = select_models(a, b, len(names), 1)
    if keep.sum() < 2:
        return None
    live = keep[a] & keep[b]
    rows = np.zeros(len(m1), bool)
    rows[np.flatnonzero(named)[live]] = True
    kept = np.flatnonzero(keep)
    renum = -np.ones(len(names), int)
    renum[kept] = np.arange(len(kept))
    Z = null_space(np.ones((1, len(kept))))  # sum-to-zero strengths, as bradley_terry fits them
    D = Z[renum[a[live]]] - Z[renum[b[live]]]
    P = X.shape[1]
    scale = np.r_[np.full(P, PRIOR_SCALE), np.full(len(kept) - 1, STRENGTH_SCALE)]
    return ModelDesign(rows, np.hstack([X[rows], D]), [names[i] for i in kept], scale)


__all__ = [
    "ADJUSTS",
    "ADJUST_MODELS",
    "STRENGTH_SCALE",
    "ModelDesign",
    "adjusted_set",
    "base_set",
    "is_adjusted",
    "model_design",
]
