"""UltraFeedback-style chosen/rejected data.

Three shapes are read:
- HuggingFaceH4/ultrafeedback_binarized (and other "DPO" sets): `prompt`, `chosen` and
  `rejected` as message lists ending with the assistant's reply, optional `score_chosen` /
  `score_rejected` (equal scores are a tie) and `prompt_id`;
- the same with `chosen` / `rejected` as plain strings next to a `prompt`;
- openbmb/UltraFeedback: `instruction` and `completions` (each with `model`, `response`,
  `overall_score`): the best-scored completion against the worst (equal scores are a tie).
Which text becomes response 1 is decided by a hash of the pair (`base.hashed_swap`). The scores
become attributes `score_1` / `score_2`, the dataset's `source` an attribute too. The labels
form the judge `ultrafeedback` (kind llm: GPT-4 rated the completions) unless `--judge` names one.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

from .base import EMPTY, MULTI_TURN, Item, Options, RawPair, RowError, Skip, chosen_rejected, optional_str, text
from .conversation import last_reply
from ..records import shown

NAME = "ultrafeedback"
TITLE = "UltraFeedback-style chosen/rejected messages with scores"
# UltraFeedback's choices come from GPT-4's ratings, not from people: its own judge by default.
DEFAULT_JUDGE = "ultrafeedback"
JUDGE_KIND = "llm"


def check(sample: dict, context: dict | None) -> str | None:
    if "completions" in sample:
        return None if "instruction" in sample else "missing column 'instruction'"
    for col in ("chosen", "rejected"):
        if col not in sample:
            return f"missing column {col!r}"
    if isinstance(sample["chosen"], str):
        if "Human:" in sample["chosen"]:
            return "column 'chosen' is an HH-RLHF transcript"
        return None if "prompt" in sample else "missing column 'prompt'"
    return None


def _score(value: Any, loc: str, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RowError(loc, name, f"expected a number, got {shown(value)}")
    try:
        score = float(value)
    except (TypeError, ValueError, OverflowError):
        raise RowError(loc, name, f"expected a number, got {shown(value)}") from None
    if math.isinf(score):
        raise RowError(loc, name, f"expected a finite number, got {shown(value)}")
    return None if math.isnan(score) else score


def _attributes(pair: RawPair, row: dict, s_chosen: float | None, s_rejected: float | None, swap_1: bool,
                loc: str) -> None:
    if s_chosen is not None and s_rejected is not None:
        first, second = (s_rejected, s_chosen) if swap_1 else (s_chosen, s_rejected)
        pair.attributes.update(score_1=f"{first:g}", score_2=f"{second:g}")
    source = optional_str(row.get("source"), loc, "source")
    if source:
        pair.attributes["source"] = source


def read(rows: Iterator[tuple[int, dict]], opts: Options, context: dict | None, where) -> Iterator[Item]:
    for position, row in rows:
        loc = where(position)
        if "completions" in row:
            yield _completions(position, row, opts, loc)
            continue
        if isinstance(row.get("chosen"), str):
            if not isinstance(row.get("rejected"), str):  # both sides must have the same shape
                raise RowError(loc, "rejected", "expected text, like 'chosen' in this row, got "
                               + ("nothing" if row.get("rejected") is None else type(row.get("rejected")).__name__))
            query, n_turns = text(row.get("prompt"), loc, "prompt"), 1
            chosen, rejected = text(row["chosen"], loc, "chosen"), text(row["rejected"], loc, "rejected")
        else:
            got = last_reply(row.get("chosen"), loc, "chosen", opts.multi_turn)
            other = last_reply(row.get("rejected"), loc, "rejected", True)
            if got is None:
                yield Skip(position, MULTI_TURN)
                continue
            query, chosen, n_turns = got
            rejected = other[1]
            if n_turns == 1 and row.get("prompt"):
                query = text(row["prompt"], loc, "prompt")
        if not chosen.strip() or not rejected.strip():
            yield Skip(position, EMPTY)
            continue
        s_c = _score(row.get("score_chosen"), loc, "score_chosen")
        s_r = _score(row.get("score_rejected"), loc, "score_rejected")
        pair = RawPair(position, query, "", "", n_turns=n_turns,
                       source_id=optional_str(row.get("prompt_id"), loc, "prompt_id"))
        swapped = chosen_rejected(pair, chosen, rejected, (None, None), opts.judge,
                                  tie=s_c is not None and s_r is not None and s_c == s_r)
        _attributes(pair, row, s_c, s_r, swapped, loc)
        yield pair


def _completions(position: int, row: dict, opts: Options, loc: str) -> Item:
    completions = row.get("completions")
    if not isinstance(completions, (list, tuple)):
        raise RowError(loc, "completions", "expected a list of completions")
    scored = []
    for i, c in enumerate(completions):
        if not isinstance(c, dict):
            raise RowError(loc, f"completions[{i}]", "expected an object with model, response, overall_score")
        score = _score(c.get("overall_score"), loc, f"completions[{i}].overall_score")
        if score is not None and text(c.get("response"), loc, f"completions[{i}].response").strip():
            scored.append((score, i, c))
    if len(scored) < 2:
        return Skip(position, EMPTY)
    best = max(scored, key=lambda s: (s[0], -s[1]))
    worst = min(scored, key=lambda s: (s[0], s[1]))
    pair = RawPair(position, text(row.get("instruction"), loc, "instruction"), "", "")
    swapped = chosen_rejected(pair, text(best[2]["response"]), text(worst[2]["response"]),
                              (optional_str(best[2].get("model"), loc, f"completions[{best[1]}].model"),
                               optional_str(worst[2].get("model"), loc, f"completions[{worst[1]}].model")), opts.judge,
                              tie=best[0] == worst[0])
    _attributes(pair, row, best[0], worst[0], swapped, loc)
    return pair
