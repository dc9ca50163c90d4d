"""A fast read of UltraFeedback-style chosen/rejected parquet (`ultrafeedback.py`'s layout, as
HuggingFaceH4/ultrafeedback_binarized publishes it) for `raw_bulk` (issue 18).

The staging SELECT is written from the schema, as `parquet_scan` writes Arena's: `chosen` and
`rejected` must be lists of {role, content} messages (content as text or parts), `prompt` text,
`prompt_id` and `source` text or whole numbers, the scores numbers. Any other schema (chosen as
plain text, openbmb's `completions`) declines the file, which Python reads row by row.

Per row, as `ultrafeedback.read` makes a pair: the query is the user's message (or `prompt`,
when set) and each response is its side's last reply; with `--multi-turn` a longer chosen
conversation gives its earlier turns as 'User:' / 'Assistant:' lines. The order of the two
replies is `hashed_swap`'s (SHA-1 in SQL: `staging.hashed_order`), equal scores are a
tie, and the scores are kept as `score_1` / `score_2` written as Python's `:g` writes them
(DuckDB's `printf('%g')`). A row is plain when both conversations are non-empty lists of
messages of known roles that end with the assistant's, and each score is finite or missing.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from .. import compressed
from .arena_scan import TURN_JOIN, blank_response, conversation_ok, role_list
from .base import Options
from .conversation import ASSISTANT_ROLES, USER_ROLES
from .parquet_scan import Declined, is_text, messages, name_text, read_types
from .parquet_scan import row_count as parquet_rows
from .staging import Staging, hashed_order, identifier

ATTRIBUTES = ("score_1", "score_2", "source")


def applies(path: Path) -> bool:
    return path.name.lower().endswith(".parquet") and compressed.duckdb_names(path)


def row_count(path: Path, header: list[str]) -> int | None:
    return parquet_rows(path)


def _score(name: str, types: dict[str, pa.DataType]) -> str:
    """SQL: `ultrafeedback._score` of a numeric column as a DOUBLE (NULL for none or NaN)."""
    if name not in types:
        return "NULL::DOUBLE"
    kind = types[name]
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)) or pa.types.is_float16(kind):
        raise Declined(name)
    col = identifier(name)
    return f"CASE WHEN {col} IS NULL OR isnan({col}::DOUBLE) THEN NULL ELSE {col}::DOUBLE END"


def _finite(name: str, types: dict[str, pa.DataType]) -> str:
    """SQL: the score is missing, NaN or finite (an infinite one Python refuses)."""
    if name not in types:
        return "TRUE"
    col = identifier(name)
    return f"({col} IS NULL OR isnan({col}::DOUBLE) OR isfinite({col}::DOUBLE))"


def _last_reply_ok(side: str) -> str:
    return (f"({conversation_ok(side)} AND len({side}) > 0 "
            f"AND list_contains({role_list(ASSISTANT_ROLES)}, lower({side}[-1].role)))")


def staging(path: Path, header: list[str], opts: Options) -> Staging | None:
    types = read_types(path)
    if types is None or "completions" in types:
        return None
    try:
        chosen, rejected = messages("chosen", types), messages("rejected", types)
        if "prompt" in types and not is_text(types["prompt"]):
            raise Declined("prompt")
        prompt = identifier("prompt") if "prompt" in types else "NULL::VARCHAR"
        source_id, source = name_text("prompt_id", types), name_text("source", types)
        s_chosen, s_rejected = _score("score_chosen", types), _score("score_rejected", types)
    except Declined:
        return None
    users = role_list(USER_ROLES)
    turns = f"""
SELECT *, len(list_filter(c, m -> list_contains({users}, lower(m.role)))) AS n_users,
  coalesce(c[-1].content, '') AS chosen_reply, coalesce(r[-1].content, '') AS rejected_reply
FROM (SELECT {chosen} AS c, {rejected} AS r, {prompt} AS prompt, {source_id} AS source_id,
             {source} AS source, {s_chosen} AS s_c, {s_rejected} AS s_r,
             {_finite('score_chosen', types)} AND {_finite('score_rejected', types)} AS finite
      FROM read_parquet(?))"""
    earlier = (f"array_to_string(list_transform(list_filter(c[1:len(c) - 1], m -> lower(m.role) <> 'system'), "
               f"m -> CASE WHEN list_contains({users}, lower(m.role)) THEN 'User' ELSE 'Assistant' END "
               f"|| ': ' || m.content), {TURN_JOIN})")
    first_user = f"coalesce(list_filter(c, m -> list_contains({users}, lower(m.role)))[1].content, '')"
    query = f"""
SELECT *, CASE WHEN n_users > 1 THEN {earlier}
               WHEN coalesce(prompt, '') <> '' THEN prompt ELSE {first_user} END AS query
FROM ({turns})"""
    pairs = f"""
SELECT coalesce({_last_reply_ok('c')} AND {_last_reply_ok('r')}, FALSE) AND (finite OR empty) AS plain,
  nullif(source_id, '') AS source_id, NULL::VARCHAR AS model_1, NULL::VARCHAR AS model_2, NULL::VARCHAR AS rater,
  CASE WHEN s_c IS NOT NULL AND s_r IS NOT NULL AND s_c = s_r THEN 'tie' WHEN swapped THEN '2' ELSE '1' END
    AS winner, NULL::DOUBLE AS prob_1, n_users, query,
  CASE WHEN swapped THEN rejected_reply ELSE chosen_reply END AS response_1,
  CASE WHEN swapped THEN chosen_reply ELSE rejected_reply END AS response_2, empty,
  CASE WHEN s_c IS NOT NULL AND s_r IS NOT NULL THEN printf('%g', CASE WHEN swapped THEN s_r ELSE s_c END) END
    AS score_1,
  CASE WHEN s_c IS NOT NULL AND s_r IS NOT NULL THEN printf('%g', CASE WHEN swapped THEN s_c ELSE s_r END) END
    AS score_2,
  nullif(source, '') AS source, tk
FROM (SELECT *, coalesce({blank_response('chosen_reply', 'rejected_reply')}, FALSE) AS empty
      FROM ({hashed_order(query)}))"""
    return Staging(pairs, ATTRIBUTES, keyed=True)


__all__ = ["ATTRIBUTES", "applies", "row_count", "staging"]
