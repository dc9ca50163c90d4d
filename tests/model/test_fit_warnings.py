"""The layout warnings of a fit: a dominant side, a constant response 1."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pipeline.model import fit_warnings as fw


def test_alpaca_eval_layout_warns_twice():
    lines = fw.warnings(0.912, "gpt4_1106_preview")
    assert len(lines) == 2
    assert "response 1 wins 91%" in lines[0] and "absorbed by the weights" in lines[0]
    assert "gpt4_1106_preview" in lines[1] and "--adjust models" in lines[1]
    adjusted = fw.warnings(0.912, "gpt4_1106_preview", adjusted=True)
    assert "at equal models" in adjusted[1]
    assert fw.layout_calls_for_adjusting(0.912, None) and fw.layout_calls_for_adjusting(0.5, "m")


def test_balanced_layout_is_quiet():
    assert fw.warnings(0.52, None) == []
    assert not fw.layout_calls_for_adjusting(0.52, None)
    assert fw.warnings(None, None) == []


def test_constant_model():
    assert fw.constant_model(["a", "a", "a"]) == "a"
    assert fw.constant_model(["a", "b"]) is None
    assert fw.constant_model([None, None]) is None
    assert fw.constant_model([]) is None


@given(st.floats(0.0, 1.0))
def test_dominant_side_is_the_side_over_80_percent(share):
    side = fw.dominant_side(share)
    assert side == (1 if share > 0.8 else 2 if share < 0.2 else None)
    lines = fw.warnings(share, None)
    assert len(lines) == (side is not None)
    if side:
        assert f"response {side} wins" in lines[0]
    assert fw.baseline_label(share) == ("always-'response 1'" if share >= 0.5 else "always-'response 2'")


@given(st.lists(st.sampled_from(["a", "b", None]), min_size=1, max_size=20))
def test_share_and_constant_model_on_any_labels(models):
    y = np.array([m == "a" for m in models], float)
    assert fw.share_response_1(y) == y.mean()
    expected = models[0] if len(set(models)) == 1 and models[0] is not None else None
    assert fw.constant_model(models) == expected
