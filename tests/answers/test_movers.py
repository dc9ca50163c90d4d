"""Movers only where the rank intervals allow (pipeline/answers/movers.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from pipeline.answers.movers import movers, rank_intervals


def test_rank_intervals_of_separated_and_overlapping_models():
    best, worst = rank_intervals([2.0, 0.9, 0.8, -1.0], [3.0, 1.5, 1.2, -0.5])
    assert best.tolist() == [1, 2, 2, 4] and worst.tolist() == [1, 3, 3, 4]


def test_a_swap_inside_the_intervals_is_not_a_move_but_a_clear_one_is():
    raw_low, raw_high = np.array([1.0, 0.8, -2.0]), np.array([1.6, 1.4, -1.5])
    # the first two swap places but still overlap (each could be 2nd or 3rd): no move; the third jumps
    # to the top clearly
    low, high = np.array([0.7, 0.9, 3.0]), np.array([1.3, 1.5, 3.5])
    assert movers(raw_low, raw_high, low, high).tolist() == [0, 0, 1]
    low2, high2 = np.array([0.7, 0.9, -2.0]), np.array([1.3, 1.5, -1.5])
    assert movers(raw_low, raw_high, low2, high2).tolist() == [0, 0, 0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(0, 3)), min_size=1, max_size=12))
def test_a_board_compared_with_itself_has_no_mover(models):
    centre = np.array([m[0] for m in models])
    width = np.array([m[1] for m in models])
    assert not movers(centre - width, centre + width, centre - width, centre + width).any()
