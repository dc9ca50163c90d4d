"""Chatbot Arena conversations (lmsys/chatbot_arena_conversations, and files of the same layout
such as mt_bench_human_judgments).

One row per vote: `question_id`, `model_a`, `model_b`, `winner` (model_a / model_b / tie /
tie (bothbad)), `judge` (the voter's id: kept as the label's rater), `conversation_a` /
`conversation_b` (lists of {role, content}), `turn`, `anony`, `language`, `tstamp`.
conversation_a / model_a is response 1. The crowd's votes form one judge.
"""

from __future__ import annotations

from typing import Iterator

from .base import Item, Label, Options, RawPair, flatten, not_a_label, optional_str, winner
from .conversation import fill_from_conversations

NAME = "arena"
TITLE = "Chatbot Arena conversations"
REQUIRED = ("conversation_a", "conversation_b", "winner", "model_a", "model_b")
ATTRIBUTES = ("language", "turn", "anony")


def check(sample: dict, context: dict | None) -> str | None:
    missing = [c for c in REQUIRED if c not in sample]
    return f"missing column {missing[0]!r}" if missing else None


def read(rows: Iterator[tuple[int, dict]], opts: Options, context: dict | None, where) -> Iterator[Item]:
    for position, row in rows:
        loc = where(position)
        yield from conversation_pair(position, row, opts, loc, ATTRIBUTES)


def conversation_pair(position: int, row: dict, opts: Options, loc: str, attribute_names: tuple[str, ...],
         rater_field: str = "judge") -> Iterator[Item]:
    pair = RawPair(position, "", "", "", optional_str(row.get("model_a"), loc, "model_a"),
                   optional_str(row.get("model_b"), loc, "model_b"),
                   source_id=optional_str(row.get("question_id", row.get("id")), loc, "question_id"))
    filled = fill_from_conversations(pair, row.get("conversation_a"), row.get("conversation_b"), loc,
                                     ("conversation_a", "conversation_b"), opts.multi_turn)
    if filled is not pair:
        yield filled
        return
    vote = winner(row.get("winner"), loc, "winner")
    if isinstance(vote, int):
        pair.labels.append(Label(opts.judge, vote, None, optional_str(row.get(rater_field), loc, rater_field)))
    else:
        not_a_label(pair, vote, opts.judge, optional_str(row.get(rater_field)))
    attributes: dict[str, str] = {}
    for name in attribute_names:
        flatten(name, row.get(name), attributes, loc)
    pair.attributes = attributes
    yield pair

