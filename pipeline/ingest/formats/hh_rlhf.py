"""Anthropic HH-RLHF: `chosen` and `rejected` transcripts ("\\n\\nHuman: ... \\n\\nAssistant: ...")
that share everything but the final Assistant turn.

The query is the Human message (single turn); each response is a transcript's final Assistant
turn. Multi-turn (`--multi-turn`): the query is the transcript before the final Assistant turn,
with its "Human:" / "Assistant:" labels. Which text becomes response 1 is decided by a hash of
the pair (`base.hashed_swap`), so about half the labels are 2. The file has no models.
"""

from __future__ import annotations

import re
from typing import Iterator

from .base import EMPTY, MULTI_TURN, Item, Options, RawPair, RowError, Skip, chosen_rejected, text

NAME = "hh-rlhf"
TITLE = "Anthropic HH-RLHF chosen/rejected transcripts"
_MARK = re.compile(r"(?:^|\n\n)(Human|Assistant):[ \t]?")


def check(sample: dict, context: dict | None) -> str | None:
    for col in ("chosen", "rejected"):
        if col not in sample:
            return f"missing column {col!r}"
        if not isinstance(sample[col], str):
            return f"column {col!r} is not a transcript string"
    if "Human:" not in sample["chosen"] or "Assistant:" not in sample["chosen"]:
        return "column 'chosen' has no 'Human:' / 'Assistant:' turns"
    return None


def transcript(value: object, loc: str, name: str) -> list[tuple[str, str]]:
    """[(speaker, text)] of one transcript."""
    if not isinstance(value, str):
        raise RowError(loc, name, f"expected a transcript string, got {type(value).__name__}")
    parts = _MARK.split(value)
    if len(parts) < 3:
        raise RowError(loc, name, "no 'Human:' / 'Assistant:' turns")
    return [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]


def read(rows: Iterator[tuple[int, dict]], opts: Options, context: dict | None, where) -> Iterator[Item]:
    for position, row in rows:
        loc = where(position)
        sides = []
        for name in ("chosen", "rejected"):
            turns = transcript(row.get(name), loc, name)
            if turns[-1][0] != "Assistant":
                raise RowError(loc, name, "the transcript must end with an Assistant turn")
            sides.append(turns)
        before = sides[0][:-1]
        n_turns = max(sum(1 for who, _ in before if who == "Human"), 1)
        if n_turns > 1 and not opts.multi_turn:
            yield Skip(position, MULTI_TURN)
            continue
        chosen, rejected = text(sides[0][-1][1]), text(sides[1][-1][1])
        if not chosen or not rejected:
            yield Skip(position, EMPTY)
            continue
        if n_turns == 1:
            query = next((t for who, t in before if who == "Human"), "")
        else:
            query = "\n\n".join(f"{who}: {t}" for who, t in before)
        pair = RawPair(position, text(query), "", "", n_turns=n_turns)
        chosen_rejected(pair, chosen, rejected, (None, None), opts.judge)
        yield pair
