"""AlpacaEval annotation files (tatsu-lab/alpaca_eval `annotations.json`, and AlpacaFarm's).

A JSON list (or JSONL) of one annotation each: `instruction`, `output_1`, `generator_1`,
`output_2`, `generator_2`, `annotator`, `preference`, and `dataset` (kept as an attribute).
`preference` is on AlpacaEval's scale: 1 means output_1 is better, 2 output_2, 1.5 (or 0) a
tie; a value between 1 and 2 (weighted annotators) is kept as prob_1 = 2 - preference, and
the label is the nearer side. Every annotator becomes a judge; rows without `annotator` go to
`--judge` (default human). AlpacaFarm's `annotator_index` is kept as the label's rater.
"""

from __future__ import annotations

import math
from typing import Iterator

from ..records import shown
from .base import EMPTY, NO_VOTE, TIE, Item, Label, Options, RawPair, RowError, Skip, not_a_label, optional_str, text

NAME = "alpaca-eval"
TITLE = "AlpacaEval annotations"
REQUIRED = ("instruction", "output_1", "output_2", "preference")


def check(sample: dict, context: dict | None) -> str | None:
    missing = [c for c in REQUIRED if c not in sample]
    return f"missing column {missing[0]!r}" if missing else None


def _preference(value: object, loc: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RowError(loc, "preference", f"expected a number from 1 to 2, got {shown(value)}")
    try:
        p = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RowError(loc, "preference", f"expected a number from 1 to 2, got {shown(value)}") from None
    if math.isnan(p):
        return None
    if p != 0 and not 1 <= p <= 2:
        raise RowError(loc, "preference", f"expected a number from 1 to 2 (or 0 for a tie), got {shown(value)}")
    return p


def read(rows: Iterator[tuple[int, dict]], opts: Options, context: dict | None, where) -> Iterator[Item]:
    for position, row in rows:
        loc = where(position)
        r1, r2 = text(row.get("output_1"), loc, "output_1"), text(row.get("output_2"), loc, "output_2")
        if not r1.strip() or not r2.strip():
            yield Skip(position, EMPTY)
            continue
        pair = RawPair(position, text(row.get("instruction"), loc, "instruction"), r1, r2,
                       optional_str(row.get("generator_1"), loc, "generator_1"),
                       optional_str(row.get("generator_2"), loc, "generator_2"))
        judge = optional_str(row.get("annotator"), loc, "annotator") or opts.judge
        p = _preference(row.get("preference"), loc)
        if p is None:
            pair.left_out.append(NO_VOTE)
        elif p == 0 or p == 1.5:
            not_a_label(pair, TIE, judge, optional_str(row.get("annotator_index")))
        else:
            prob_1 = 2.0 - p
            pair.labels.append(Label(judge, 1 if p < 1.5 else 2, prob_1 if p not in (1.0, 2.0) else None,
                                     optional_str(row.get("annotator_index"), loc, "annotator_index")))
        dataset = optional_str(row.get("dataset"), loc, "dataset")
        if dataset:
            pair.attributes["dataset"] = dataset
        yield pair
