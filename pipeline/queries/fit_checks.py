"""The Dissection page's checks of a fit: held-out accuracy and log loss beside their
constant baselines, the layout warnings (pipeline/model/fit_warnings.py), and whether the
weights at equal models (`fit --adjust models`, set `<set>@models`) are there and called
for."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..model import fit_warnings
from ..model.adjusted import ADJUST_MODELS, adjusted_set
from .base import Db, frame, reading

CHECKS = """
    SELECT judge, property_set, n_pairs, accuracy, baseline_accuracy, log_loss, baseline_log_loss,
           share_response_1, constant_model_1, adjust
    FROM fit_runs
    WHERE group_name = $group AND status = 'fitted' AND list_contains($judges, judge)
      AND property_set IN ($plain, $adjusted)
"""
COLUMNS = ["judge", "property_set", "n_pairs", "accuracy", "baseline_accuracy", "log_loss", "baseline_log_loss",
           "share_response_1", "constant_model_1", "adjust"]


def checks(db: Db = None, group: str = "", judges: Sequence[str] = (), property_set: str = "paper") -> pd.DataFrame:
    """The fitted runs of these judges in a group, plain and adjusted (COLUMNS), judges in
    the order given."""
    params = {"group": group, "judges": list(judges), "plain": property_set,
              "adjusted": adjusted_set(property_set, ADJUST_MODELS)}
    with reading(db) as con:
        df = frame(con, CHECKS, params)[COLUMNS]
    rank = {j: i for i, j in enumerate(judges)}
    order = sorted(range(len(df)), key=lambda i: (rank[df["judge"].iloc[i]], df["property_set"].iloc[i]))
    return df.iloc[order].reset_index(drop=True)


def plain_runs(df: pd.DataFrame, property_set: str) -> pd.DataFrame:
    return df[df["property_set"] == property_set]


def has_adjusted(df: pd.DataFrame, property_set: str) -> bool:
    return bool((df["property_set"] == adjusted_set(property_set, ADJUST_MODELS)).any())


def calls_for_adjusting(df: pd.DataFrame, property_set: str) -> bool:
    """Whether the layout of a chosen judge's plain fit misleads (a side over 80%, or a
    constant response 1): then the adjusted weights are shown first."""
    return any(fit_warnings.layout_calls_for_adjusting(_num(r.share_response_1), _str(r.constant_model_1))
               for r in plain_runs(df, property_set).itertuples())


def why_adjusted(df: pd.DataFrame, property_set: str) -> str:
    """One sentence: why the page shows the weights at equal models."""
    runs = plain_runs(df, property_set)
    constant = sorted({c for c in runs["constant_model_1"] if _str(c)})
    sides = [fit_warnings.dominant_side(_num(s)) for s in runs["share_response_1"]]
    reasons = []
    if constant:
        reasons.append(f"response 1 is always {', '.join(constant)}")
    if any(sides):
        reasons.append(f"response {next(s for s in sides if s)} wins over "
                       f"{fit_warnings.DOMINANT_SHARE:.0%} of the labels")
    return (f"Showing the weights at equal models because {' and '.join(reasons) or 'the layout calls for it'}: "
            "without the models' strengths, that advantage would be read as a taste for the properties on "
            "which response 1 differs.")


def run_table(df: pd.DataFrame, shown_set: str) -> pd.DataFrame:
    """Per judge: pairs, held-out accuracy and log loss each beside its baseline."""
    runs = df[df["property_set"] == shown_set]
    out = runs[["judge", "n_pairs", "accuracy", "baseline_accuracy", "log_loss", "baseline_log_loss"]].copy()
    out.insert(4, "baseline", [fit_warnings.baseline_label(_num(s)) for s in runs["share_response_1"]])
    return out.reset_index(drop=True)


def warnings(df: pd.DataFrame, shown_set: str) -> list[tuple[str, str]]:
    """(judge, warning) for the shown fits whose layout misleads."""
    return [(r.judge, w) for r in df[df["property_set"] == shown_set].itertuples()
            for w in fit_warnings.warnings(_num(r.share_response_1), _str(r.constant_model_1), bool(_str(r.adjust)))]


def _num(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _str(v) -> str | None:
    return v if isinstance(v, str) else None


__all__ = ["COLUMNS", "calls_for_adjusting", "checks", "has_adjusted", "plain_runs", "run_table", "warnings",
           "why_adjusted"]
