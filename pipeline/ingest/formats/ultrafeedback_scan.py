"""A fast read of UltraFeedback-style data (`ultrafeedback.py`'s layouts) for `raw_bulk` (issue 18):
DuckDB parses the file and builds each row's pair in SQL.

Three scans, one per file kind:
- `PARQUET`: chosen/rejected parquet as HuggingFaceH4/ultrafeedback_binarized publishes it. The
  staging SELECT is written from the schema, as `parquet_scan` writes Arena's: `chosen` and
  `rejected` must be lists of {role, content} messages (content as text or parts), `prompt`
  text, `prompt_id` and `source` text or whole numbers, the scores numbers. Any other schema
  (chosen as plain text, openbmb's `completions`) declines the file.
- `JSONL` and `JSON` (a JSON list, or JSON lines named `.json`): the same rows as JSON, each
  message's role read as text and its content as text too (JSON lines, whose line check refuses
  a content not a string or null) or as a JSON leaf (a JSON list: such a content is not plain),
  ids and scores as JSON leaves; or, when the first row has `completions`, openbmb's
  layout: `instruction` and `completions` of {model, response, overall_score}, the best-scored
  completion against the worst (each reply read as text in JSON lines, whose line check then
  looks at `response` instead of `content`; as a JSON leaf in a list). Rows with `chosen` as
  plain text are not plain.

Per row, as `ultrafeedback.read` makes a pair: the query is the user's message (or `prompt`,
when set) and each response is its side's last reply; with `--multi-turn` a longer chosen
conversation gives its earlier turns as 'User:' / 'Assistant:' lines. openbmb's rows take the
first completion of the highest score against the first of the lowest, among those with a
score and a reply that is not blank (fewer than two: the row is empty). The order of the two
replies is `hashed_swap`'s (SHA-1 in SQL: `staging.hashed_order`), equal scores are a tie, and
the scores are kept as `score_1` / `score_2` written as Python's `:g` writes them (DuckDB's
`printf('%g')`). Any row not plain sends the file to the Python reader, which names the row.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from .. import compressed
from .arena_scan import (
    TURN_JOIN,
    WHOLE_TEXT,
    blank,
    blank_response,
    conversation_ok,
    json_blank,
    json_name_ok,
    json_text,
    role_list,
)
from .base import Options
from .conversation import ASSISTANT_ROLES, USER_ROLES
from .generic_scan import JsonFileScan, json_format, json_row_count, json_source
from .line_scan import KEYS
from .parquet_scan import Declined, is_text, messages, name_text, read_types
from .parquet_scan import row_count as parquet_rows
from .staging import ORDERED_REPLIES, Staging, distinct, hashed_order, identifier

ATTRIBUTES = ("score_1", "score_2", "source")


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


def _binarized(source: str, text=lambda content: content) -> str:
    """The staging SELECT of chosen/rejected rows from `source`, a SELECT giving `c` and `r` (the
    two conversations as lists of {role, content}), `prompt`, `source_id`, `source` (text or
    NULL), `s_c` and `s_r` (the scores as DOUBLE, NULL for none), `finite` (the scores are ones
    Python takes) and `ok` (the row's other fields are plain). `text`: SQL of a message's content
    as text or NULL, from SQL of the content (as it is, when the content is text already); only
    the contents the pair uses are made text."""
    users = role_list(USER_ROLES)
    turns = f"""
SELECT *, len(list_filter(c, m -> list_contains({users}, lower(m.role)))) AS n_users,
  coalesce({text('c[-1].content')}, '') AS chosen_reply, coalesce({text('r[-1].content')}, '') AS rejected_reply
FROM ({source})"""
    earlier = (f"array_to_string(list_transform(list_filter(c[1:len(c) - 1], m -> lower(m.role) <> 'system'), "
               f"m -> CASE WHEN list_contains({users}, lower(m.role)) THEN 'User' ELSE 'Assistant' END "
               f"|| ': ' || coalesce({text('m.content')}, '')), {TURN_JOIN})")
    first_user = f"coalesce({text(f'list_filter(c, m -> list_contains({users}, lower(m.role)))[1].content')}, '')"
    query = f"""
SELECT *, CASE WHEN n_users > 1 THEN {earlier}
               WHEN coalesce(prompt, '') <> '' THEN prompt ELSE {first_user} END AS query
FROM ({turns})"""
    pairs = f"""
SELECT coalesce({_last_reply_ok('c')} AND {_last_reply_ok('r')} AND ok, FALSE) AND (finite OR empty) AS plain,
  nullif(source_id, '') AS source_id, NULL::VARCHAR AS model_1, NULL::VARCHAR AS model_2, NULL::VARCHAR AS rater,
  {_winner()} AS winner, NULL::DOUBLE AS prob_1, n_users, query, {ORDERED_REPLIES}, empty, {_scores()},
  nullif(source, '') AS source, tk
FROM (SELECT *, coalesce({blank_response('chosen_reply', 'rejected_reply')}, FALSE) AS empty
      FROM ({hashed_order(query)}))"""
    return pairs


def _winner() -> str:
    return "CASE WHEN s_c IS NOT NULL AND s_r IS NOT NULL AND s_c = s_r THEN 'tie' WHEN swapped THEN '2' ELSE '1' END"


def _scores() -> str:
    """SQL: score_1 and score_2, the two scores in the pair's order as Python's `:g` writes them."""
    return ("CASE WHEN s_c IS NOT NULL AND s_r IS NOT NULL THEN printf('%g', CASE WHEN swapped THEN s_r ELSE s_c END) "
            "END AS score_1, CASE WHEN s_c IS NOT NULL AND s_r IS NOT NULL THEN "
            "printf('%g', CASE WHEN swapped THEN s_c ELSE s_r END) END AS score_2")


class UltraFeedbackParquet:
    """HuggingFaceH4/ultrafeedback_binarized's parquet: the staging SELECT written from its schema."""

    def applies(self, path: Path) -> bool:
        return path.name.lower().endswith(".parquet") and compressed.duckdb_names(path)

    def row_count(self, path: Path, header: list[str]) -> int | None:
        return parquet_rows(path)

    def staging(self, path: Path, header: list[str], opts: Options) -> Staging | None:
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
        source_sql = (f"SELECT {chosen} AS c, {rejected} AS r, {prompt} AS prompt, {source_id} AS source_id, "
                      f"{source} AS source, {s_chosen} AS s_c, {s_rejected} AS s_r, "
                      f"{_finite('score_chosen', types)} AND {_finite('score_rejected', types)} AS finite, "
                      "TRUE AS ok FROM read_parquet(?)")
        return Staging(_binarized(source_sql), ATTRIBUTES, keyed=True)


# JSON leaves as Python's `ultrafeedback._score` takes them: a number (DuckDB's JSON types of one)
_NUMBER = "['BIGINT', 'UBIGINT', 'DOUBLE']"


def _json_score(col: str) -> str:
    """SQL: a score leaf as a DOUBLE (NULL when missing or not a number)."""
    return f"CASE WHEN list_contains({_NUMBER}, json_type({col})) THEN {col}::DOUBLE END"


def _json_score_ok(col: str) -> str:
    """SQL: the leaf is missing or a finite number (a string or a boolean is for Python to take or refuse)."""
    return f"({col} IS NULL OR (list_contains({_NUMBER}, json_type({col})) AND isfinite({col}::DOUBLE)))"


def _json_text_ok(col: str) -> str:
    """SQL: a JSON leaf that is null or a string (`base.text` of it is the string)."""
    return f"({col} IS NULL OR left({col}, 1) = '\"')"


def _json_contents_ok(col: str) -> str:
    """SQL: every message's content is a string or null, as `base.text` reads it unchanged."""
    return f"coalesce(list_bool_and(list_transform({col}, m -> {_json_text_ok('m.content')})), TRUE)"


def _binarized_json(layout: str) -> str:
    """JSON lines have their contents read as text: `arena_scan.line_check` (their row count)
    proved every content a string or null. A JSON list's are read as JSON leaves, checked here,
    and only those the pair uses are unescaped."""
    lines = layout == "newline_delimited"
    messages = f"STRUCT(role VARCHAR, content {'VARCHAR' if lines else 'JSON'})[]"
    read = json_source(layout, {"chosen": messages, "rejected": messages, "prompt": "JSON", "prompt_id": "JSON",
                               "source": "JSON", "score_chosen": "JSON", "score_rejected": "JSON"})
    ok = [_json_text_ok("prompt"), json_name_ok("prompt_id"), json_name_ok("source")]
    if not lines:
        ok += [_json_contents_ok("chosen"), _json_contents_ok("rejected")]
    source_sql = (f"SELECT chosen AS c, rejected AS r, "
                  f"{json_text('prompt')} AS prompt, {json_text('prompt_id')} AS source_id, "
                  f"{json_text('source')} AS source, {_json_score('score_chosen')} AS s_c, "
                  f"{_json_score('score_rejected')} AS s_r, "
                  f"{_json_score_ok('score_chosen')} AND {_json_score_ok('score_rejected')} AS finite, "
                  f"{' AND '.join(ok)} AS ok FROM {read}")
    return _binarized(source_sql) if lines else _binarized(source_sql, lambda content: f"({content}->>'$')")


def _completion_ok(e: str, reply_checked: bool) -> str:
    """SQL: a completion Python reads without refusing it: an object with a missing or finite
    score, a reply that is text or null (`reply_checked`: the line check saw to it), a model that
    is a name."""
    reply_ok = "" if reply_checked else f" AND {_json_text_ok(e + '.response')}"
    return f"({e} IS NOT NULL AND {_json_score_ok(e + '.overall_score')}{reply_ok} AND {json_name_ok(e + '.model')})"


# openbmb's JSON lines are counted with the replies checked (`UltraFeedbackJson.row_count`)
REPLY_KEYS = ("response",)


def _completions(layout: str) -> str:
    """openbmb/UltraFeedback's rows: the best completion against the worst (`ultrafeedback._completions`).
    Each completion's score is found first, NULL for one Python leaves out (no score, or a blank
    reply); only the two picked replies are made text. JSON lines have their replies read as text
    (their line check refuses one not a string or null), a JSON list's as JSON leaves, checked
    here (and a blank one found without unescaping it)."""
    lines = layout == "newline_delimited"
    completion = f"STRUCT(model JSON, response {'VARCHAR' if lines else 'JSON'}, overall_score JSON)[]"
    read = json_source(layout, {"instruction": "JSON", "source": "JSON", "completions": completion})
    blank_reply = f"(e.response IS NULL OR {blank('e.response')})" if lines else json_blank("e.response")
    reply = (lambda side: f"completions[{side}].response") if lines else (lambda side: f"completions[{side}].response->>'$'")
    counted = f"list_transform(completions, e -> CASE WHEN NOT {blank_reply} THEN {_json_score('e.overall_score')} END)"
    # Python's max by (score, -index) and min by (score, index): the first completion of each score
    # (list_position of a NULL would find a completion left out: no score, no pick)
    picked = f"""
SELECT *, CASE WHEN n_counted > 0 THEN list_position(counted, list_max(counted)) END AS b,
          CASE WHEN n_counted > 0 THEN list_position(counted, list_min(counted)) END AS w
FROM (SELECT *, list_count(counted) AS n_counted FROM (SELECT *, {counted} AS counted FROM {read}))"""
    rows = f"""
SELECT *, coalesce({json_text('instruction')}, '') AS query, coalesce({reply('b')}, '') AS chosen_reply,
       coalesce({reply('w')}, '') AS rejected_reply, counted[b] AS s_c, counted[w] AS s_r,
       {json_text('completions[b].model')} AS model_c, {json_text('completions[w].model')} AS model_r
FROM ({picked})"""
    plain = (f"coalesce(completions IS NOT NULL AND coalesce(list_bool_and(list_transform(completions, e -> {_completion_ok('e', lines)})), TRUE) "
             f"AND {json_name_ok('instruction', whole=WHOLE_TEXT)} AND {json_name_ok('source')}, FALSE)")
    return f"""
SELECT {plain} AS plain, NULL::VARCHAR AS source_id,
  nullif(CASE WHEN swapped THEN model_r ELSE model_c END, '') AS model_1,
  nullif(CASE WHEN swapped THEN model_c ELSE model_r END, '') AS model_2, NULL::VARCHAR AS rater,
  {_winner()} AS winner, NULL::DOUBLE AS prob_1, 1 AS n_users, query, {ORDERED_REPLIES},
  coalesce(n_counted < 2, TRUE) AS empty, {_scores()}, nullif({json_text('source')}, '') AS source, tk
FROM ({hashed_order(rows)})"""


class UltraFeedbackJson(JsonFileScan):
    """UltraFeedback-style JSON lines (`.jsonl`) or a `.json` file (`generic_scan.json_format`): the
    binarized rows, or openbmb's `completions` when the first row has them."""

    def row_count(self, path: Path, header: list[str]) -> int | None:
        return json_row_count(path, json_format(path, self.suffix), REPLY_KEYS if "completions" in header else KEYS)

    def staging(self, path: Path, header: list[str], opts: Options) -> Staging | None:
        layout = json_format(path, self.suffix)
        if layout is None or not distinct(header):  # DuckDB takes two keys alike in case as one
            return None
        query = _completions(layout) if "completions" in header else _binarized_json(layout)
        return Staging(query, ATTRIBUTES, keyed=True)


PARQUET = UltraFeedbackParquet()
JSONL = UltraFeedbackJson(".jsonl")
JSON = UltraFeedbackJson(".json")

__all__ = ["ATTRIBUTES", "JSON", "JSONL", "PARQUET", "UltraFeedbackJson", "UltraFeedbackParquet"]
