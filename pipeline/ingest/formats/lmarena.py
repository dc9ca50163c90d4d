"""LMArena's newer releases: lmarena-ai/arena-human-preference-100k and -140k.

Like Chatbot Arena conversations, with these differences: a message's `content` may be a list
of {type, text, image, mimeType} parts (the text parts are kept, joined by a blank line);
`winner` is model_a / model_b / tie / both_bad; the id is `id` (140k) or `question_id` (100k);
the voter is `judge_hash` (100k: kept as the label's rater; 140k has none). `language`,
`is_code`, `is_refusal`, `turn`, `evaluation_order`, `evaluation_session_id`, the
`category_tag` flags (flattened: 'math_v0.1.math', 'criteria_v0.1.complexity', ...) and
`dedup_tag` flags become pair attributes. Lists and structs stored as JSON text are read too.
"""

from __future__ import annotations

from typing import Iterator

from .arena import conversation_pair
from .base import Item, Options, RawPair, flatten, maybe_json

NAME = "lmarena"
TITLE = "LMArena arena-human-preference-100k / -140k"
MARKERS = ("is_code", "category_tag", "evaluation_order", "conv_metadata", "full_conversation", "judge_hash")
ATTRIBUTES = ("language", "is_code", "is_refusal", "turn", "evaluation_order", "evaluation_session_id")
# Tag columns flattened into attributes: (column, its prefix when it holds an object, else)
TAGS = (("category_tag", "", "category_tag"), ("dedup_tag", "dedup_tag", "dedup_tag"))


def check(sample: dict, context: dict | None) -> str | None:
    for col in ("conversation_a", "conversation_b", "winner", "model_a", "model_b"):
        if col not in sample:
            return f"missing column {col!r}"
    if not any(m in sample for m in MARKERS):
        return "none of the columns of the newer releases (is_code, category_tag, evaluation_order, ...)"
    return None


def read(rows: Iterator[tuple[int, dict]], opts: Options, context: dict | None, where) -> Iterator[Item]:
    for position, row in rows:
        loc = where(position)
        for item in conversation_pair(position, row, opts, loc, ATTRIBUTES, rater_field="judge_hash"):
            if not isinstance(item, RawPair):
                yield item
                continue
            for column, object_prefix, other_prefix in TAGS:
                tags = maybe_json(row.get(column), loc, column)
                flatten(object_prefix if isinstance(tags, dict) else other_prefix, tags, item.attributes, loc)
            yield item
