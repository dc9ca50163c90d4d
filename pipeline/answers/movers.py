"""Which models really move between a raw and a controlled board.

A model's rank interval on a board: from 1 + the number of models whose interval lies wholly
above its own, to N - the number whose interval lies wholly below (arena's rank spread). A
model is a mover only when its raw and controlled rank intervals do not overlap: a change of
place that the intervals allow is not shown as a move.
"""

from __future__ import annotations

import numpy as np


def rank_intervals(low, high) -> tuple[np.ndarray, np.ndarray]:
    """(best, worst) possible rank of each model given its 95% interval and the others'."""
    low, high = np.asarray(low, float), np.asarray(high, float)
    above = (low[None, :] > high[:, None]).sum(1)      # models surely stronger
    below = (high[None, :] < low[:, None]).sum(1)      # models surely weaker
    return 1 + above, len(low) - below


def movers(raw_low, raw_high, low, high) -> np.ndarray:
    """+1 (moved up), -1 (down) or 0 per model: only where the rank intervals do not overlap."""
    rb, rw = rank_intervals(raw_low, raw_high)
    cb, cw = rank_intervals(low, high)
    return np.where(cw < rb, 1, np.where(cb > rw, -1, 0))


__all__ = ["movers", "rank_intervals"]
