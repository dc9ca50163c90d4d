"""What a fit returns: one `RunRow` per judge x group (the `fit_runs` row) and the
`FitReport` of a whole `fit`, with the lines the CLI prints (summary, held-out accuracy
beside its baseline, layout warnings of pipeline/model/fit_warnings.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..properties.sets import PAPER_SET
from . import fit_warnings


@dataclass
class RunRow:
    judge: str
    group_name: str
    group_kind: str
    status: str                   # 'fitted' or 'skipped'
    n_pairs: int
    accuracy: float | None = None
    note: str | None = None
    folds: int | None = None      # fold fits averaged: k capped at the group's pairs (1 = one fit)
    log_loss: float | None = None          # held-out metrics (pipeline/model/heldout.py)
    auc: float | None = None
    calibration_error: float | None = None
    baseline_accuracy: float | None = None  # the constant baseline on the same folds
    baseline_log_loss: float | None = None
    share_response_1: float | None = None   # layout facts behind fit_warnings
    constant_model_1: str | None = None
    adjust: str | None = None

    @property
    def warnings(self) -> list[str]:
        return fit_warnings.warnings(self.share_response_1, self.constant_model_1, bool(self.adjust))


@dataclass
class FitReport:
    judges: list[str]
    groups: list[str]
    folds: int | None
    min_labels: int
    runs: list[RunRow] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    property_set: str = PAPER_SET
    backfilled: int = 0           # pairs that got their style rows first
    adjust: str | None = None     # 'models': weights at equal response models

    @property
    def fitted(self) -> int:
        return sum(r.status == "fitted" for r in self.runs)

    @property
    def skipped(self) -> list[RunRow]:
        return [r for r in self.runs if r.status == "skipped"]

    def summary(self) -> str:
        how = f"{self.folds}-fold averaged" if self.folds else "one fit per judge x group"
        how += ", adjusted for the response models' strengths" if self.adjust else ""
        return (f"fitted {self.fitted} judge x group models ({how}, properties: {self.property_set}), "
                f"skipped {len(self.skipped)} (under {self.min_labels} labels); {len(self.judges)} judges, "
                f"{len(self.groups)} groups, in {self.seconds.get('total', 0):.1f} s")

    def _headline_runs(self) -> tuple[list[RunRow], bool]:
        """Per judge, its run in 'All', else its largest fitted group's."""
        best: dict[str, RunRow] = {}
        for r in self.runs:
            if r.status != "fitted" or r.accuracy is None or not np.isfinite(r.accuracy):
                continue
            old = best.get(r.judge)
            if old is None or (r.group_kind == "all") > (old.group_kind == "all") or \
                    ((r.group_kind == "all") == (old.group_kind == "all") and r.n_pairs > old.n_pairs):
                best[r.judge] = r
        return list(best.values()), any(r.group_kind == "all" for r in best.values())

    def accuracy_line(self, limit: int = 8) -> str | None:
        """How much of each judge's choices the set explains: held-out accuracy and log loss in
        'All' (else the largest fitted group), each beside its constant baseline."""
        runs, in_all = self._headline_runs()
        if not runs:
            return None
        shown = "; ".join(_accuracy_text(r) for r in runs[:limit])
        more = f"; ... ({len(runs) - limit} more in fit_runs)" if len(runs) > limit else ""
        where = "group All" if in_all else "largest group"
        return f"held-out accuracy with the {self.property_set} properties ({where}): {shown}{more}"

    def warning_lines(self, limit: int = 6) -> list[str]:
        """'warning: judge / group: ...' for fitted runs whose layout misleads (fit_warnings)."""
        lines = [f"warning: {r.judge} / {r.group_name}: {w}" for r in self.runs if r.status == "fitted"
                 for w in r.warnings]
        if len(lines) > limit:
            more = f"... {len(lines) - limit} more warnings (fit_runs.share_response_1, constant_model_1)"
            lines = [*lines[:limit], more]
        return lines


def _accuracy_text(r: RunRow) -> str:
    """e.g. "judge 86.6% (always-'response 1' baseline 88.2%), log loss 0.31 (baseline 0.36)"."""
    text = f"{r.judge} {r.accuracy:.1%}"
    if r.baseline_accuracy is not None:
        text += f" ({fit_warnings.baseline_label(r.share_response_1)} baseline {r.baseline_accuracy:.1%})"
    if r.log_loss is not None and r.baseline_log_loss is not None:
        text += f", log loss {r.log_loss:.3f} (baseline {r.baseline_log_loss:.3f})"
    return text


__all__ = ["FitReport", "RunRow"]
