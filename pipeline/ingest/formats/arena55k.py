"""The Kaggle "LMSYS Chatbot Arena" layout (lmarena-ai/arena-human-preference-55k, train.csv).

Columns: `id`, `model_a`, `model_b`, `prompt`, `response_a`, `response_b` (each a JSON-encoded
list with one entry per turn; a response entry may be null), and the one-hot
`winner_model_a`, `winner_model_b`, `winner_tie` (0/1). model_a is response 1. The layout
does not tell a tie from both-bad: both count as ties. Multi-turn rows map as in
`conversation.py`: the turns' prompts and each side's replies joined by a blank line.
"""

from __future__ import annotations

from typing import Any, Iterator

from .base import EMPTY, MULTI_TURN, TIE, NO_VOTE, Item, Label, Options, RawPair, RowError, Skip, maybe_json, not_a_label, optional_str, text
from .conversation import TURN_SEPARATOR
from ..records import shown

NAME = "arena-55k"
TITLE = "Kaggle arena-human-preference-55k"
REQUIRED = ("prompt", "response_a", "response_b", "winner_model_a", "winner_model_b", "winner_tie")


def check(sample: dict, context: dict | None) -> str | None:
    missing = [c for c in REQUIRED if c not in sample]
    return f"missing column {missing[0]!r}" if missing else None


def _turns(value: Any, loc: str, name: str) -> list[str]:
    value = maybe_json(value, loc, name)
    if isinstance(value, str):  # a bare string: one turn
        return [value]
    if not isinstance(value, (list, tuple)):
        raise RowError(loc, name, f"expected a JSON list of turns, got {type(value).__name__}")
    return [text(v, loc, f"{name}[{i}]") for i, v in enumerate(value)]


def _flag(row: dict, name: str, loc: str) -> bool:
    value = row.get(name)
    if isinstance(value, str):
        value = value.strip()
    if value in (1, "1", True, 1.0, "1.0", "True", "true"):
        return True
    if value in (0, "0", False, 0.0, "0.0", "False", "false", None, ""):
        return False
    raise RowError(loc, name, f"expected 0 or 1, got {shown(value)}")


def read(rows: Iterator[tuple[int, dict]], opts: Options, context: dict | None, where) -> Iterator[Item]:
    for position, row in rows:
        loc = where(position)
        prompts = _turns(row.get("prompt"), loc, "prompt")
        side_1 = _turns(row.get("response_a"), loc, "response_a")
        side_2 = _turns(row.get("response_b"), loc, "response_b")
        n_turns = max(len(prompts), 1)
        if n_turns > 1 and not opts.multi_turn:
            yield Skip(position, MULTI_TURN)
            continue
        pair = RawPair(position, TURN_SEPARATOR.join(prompts), TURN_SEPARATOR.join(r for r in side_1 if r),
                       TURN_SEPARATOR.join(r for r in side_2 if r), optional_str(row.get("model_a"), loc, "model_a"),
                       optional_str(row.get("model_b"), loc, "model_b"), n_turns=n_turns,
                       source_id=optional_str(row.get("id"), loc, "id"))
        if not pair.response_1.strip() or not pair.response_2.strip():
            yield Skip(position, EMPTY)
            continue
        flags = [_flag(row, n, loc) for n in ("winner_model_a", "winner_model_b", "winner_tie")]
        if sum(flags) > 1:
            raise RowError(loc, "winner_model_a", "more than one of winner_model_a, winner_model_b, winner_tie is 1")
        if flags[0] or flags[1]:
            pair.labels.append(Label(opts.judge, 1 if flags[0] else 2))
        else:
            not_a_label(pair, TIE if flags[2] else NO_VOTE, opts.judge)
        yield pair
