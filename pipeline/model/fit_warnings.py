"""Warnings about a judge x group whose layout makes the dissection's weights hard to read.

Two layouts, both those of AlpacaEval (a reference model is response 1 in every pair and
wins most of them), are checked from facts stored in `fit_runs`:

- one side wins more than DOMINANT_SHARE of the judge's labels (`share_response_1`): the
  model has no intercept, since response 1 and 2 are meant to be exchangeable, so a
  position's advantage is absorbed by the weights of the properties on which that side
  usually differs; and the held-out accuracy must be read against its baseline;
- response 1 is always the same model (`constant_model_1`): that model's quality is
  absorbed the same way, mixing "what the judge likes" with "how that model writes".

`fit --adjust models` fits the models' strengths alongside (pipeline/model/adjusted.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DOMINANT_SHARE = 0.8


def share_response_1(y: np.ndarray) -> float | None:
    """Share of labels (1 = response 1 preferred) that chose response 1."""
    return float(np.mean(y)) if len(y) else None


def constant_model(models: Sequence) -> str | None:
    """The model named in every one of these pairs' slots, else None."""
    values = set(models)
    if len(values) != 1:
        return None
    (only,) = values
    return only if isinstance(only, str) else None


def dominant_side(share: float | None) -> int | None:
    """1 or 2 when that response wins more than DOMINANT_SHARE of the labels."""
    if share is None or not np.isfinite(share):
        return None
    return 1 if share > DOMINANT_SHARE else 2 if share < 1 - DOMINANT_SHARE else None


def layout_calls_for_adjusting(share: float | None, constant_model_1: str | None) -> bool:
    return dominant_side(share) is not None or constant_model_1 is not None


def warnings(share: float | None, constant_model_1: str | None, adjusted: bool = False) -> list[str]:
    """One sentence per layout problem, saying what it does to the weights."""
    out = []
    side = dominant_side(share)
    if side is not None:
        won = share if side == 1 else 1 - share
        out.append(f"response {side} wins {won:.0%} of the labels: the model has no position term, so that "
                   f"advantage is absorbed by the weights of the properties on which response {side} usually "
                   f"differs; compare the held-out accuracy with its always-'response {side}' baseline")
    if constant_model_1 is not None:
        if adjusted:
            out.append(f"response 1 is always {constant_model_1}: its quality is fitted as its strength here, "
                       f"so the weights mean 'at equal models'")
        else:
            out.append(f"response 1 is always {constant_model_1}: its quality is absorbed by the weights of the "
                       f"properties on which it differs from the others (fit --adjust models fits the models' "
                       f"strengths alongside)")
    return out


def baseline_label(share: float | None) -> str:
    """What the constant baseline answers, e.g. "always-'response 1'"."""
    if share is None or not np.isfinite(share):
        return "majority"
    return "always-'response 1'" if share >= 0.5 else "always-'response 2'"


__all__ = ["DOMINANT_SHARE", "baseline_label", "constant_model", "dominant_side", "layout_calls_for_adjusting",
           "share_response_1", "warnings"]
