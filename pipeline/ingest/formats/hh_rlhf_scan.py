"""A fast read of HH-RLHF JSON lines (`hh_rlhf.py`'s layout) for `raw_bulk` (issue 18): DuckDB
parses the file, splits both transcripts into turns, and builds each row's query, its two
responses in the hash-decided order (`base.hashed_swap`, SHA-1 in SQL) and its vote.

A row is plain when `chosen` and `rejected` are transcripts that each have turns and end with an
Assistant turn; any other row sends the file to the Python reader, which names the row. Both are
read as VARCHAR (a JSON string unescaped, with no second parse): DuckDB writes any other JSON
value as its one-line JSON text, which holds no line break and starts with none of the marks,
so it has no turns and is not plain, as Python refuses a transcript that is not a string.

The turn marks are `hh_rlhf._MARK`'s: the regular expression without its `^`, with a blank line
put before a transcript that opens with a mark, so the SQL split finds the marks Python's
`re.split` finds. A turn's text is stripped of what Python's `str.strip` strips.
`arena_scan.line_check` first counts the lines and proves DuckDB may be trusted with them.
"""

from __future__ import annotations

from pathlib import Path

from .. import compressed
from .arena_scan import BLANK_RESPONSE, TURN_JOIN, line_check
from .base import Options
from .staging import Staging, hashed_order

ATTRIBUTES: tuple[str, ...] = ()
_MARK = r"\n\n(Human|Assistant):[ \t]?"   # hh_rlhf._MARK after a blank line
_OPENS = r"^(Human|Assistant):"            # a transcript that opens with a mark (`^` in hh_rlhf._MARK)
# what Python's str.strip() strips: every character str.isspace() calls space (none past U+3000),
# as a regular expression's class and as a text
_SPACE = (r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
          r"\x{205f}\x{3000}]")
_SPACES = "'" + "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "'"


def applies(path: Path) -> bool:
    """A UTF-8 .jsonl file without a byte-order mark, uncompressed, gzip or zstd (`compressed.duckdb_reads`)."""
    return compressed.duckdb_reads(path, ".jsonl")


def row_count(path: Path, header: list[str]) -> int | None:
    return line_check(path)


def _strip(text: str) -> str:
    # the regular expression only where an end is space: most turns have none, and it costs
    ends = f"(contains({_SPACES}, left({text}, 1)) OR contains({_SPACES}, right({text}, 1)))"
    return f"CASE WHEN {text} <> '' AND {ends} THEN regexp_replace({text}, '^{_SPACE}+|{_SPACE}+$', '', 'g') ELSE {text} END"


def _turns(side: str, every_text: bool = True) -> str:
    """SQL, per transcript: `{side}_who` (the speakers in order) and
    `{side}_text` (each turn's text, stripped), or with `every_text` False `{side}_last` (the last
    turn's text, stripped: all `read` takes of the rejected side)."""
    opened = f"CASE WHEN regexp_matches({side}, '{_OPENS}') THEN chr(10) || chr(10) || {side} ELSE {side} END"
    split = f"regexp_split_to_array({side}_m, '{_MARK}')"
    texts = (f"list_transform({split}[2:], t -> {_strip('t')}) AS {side}_text" if every_text
             else f"list_transform({split}[-1:], t -> {_strip('t')})[1] AS {side}_last")  # the split once
    return (f"regexp_extract_all({side}_m, '{_MARK}', 1) AS {side}_who, {texts} "
            f"FROM (SELECT *, {opened} AS {side}_m")


def staging(path: Path, header: list[str], opts: Options) -> Staging:
    """The staging SELECT: the two sides' turns, then the pair as `hh_rlhf.read` makes it."""
    turns = f"""
SELECT *, {_turns('rejected', every_text=False)} FROM (SELECT *, {_turns('chosen')}
  FROM read_json(?, format = 'newline_delimited', records = true,
                 columns = {{'chosen': 'VARCHAR', 'rejected': 'VARCHAR'}}))))"""
    plain = ("coalesce(len(chosen_who) > 0 AND len(rejected_who) > 0 "  # a null transcript: not plain
             "AND chosen_who[-1] = 'Assistant' AND rejected_who[-1] = 'Assistant', FALSE)")
    sides = f"""
SELECT ({plain}) AS plain, len(list_filter(before_who, w -> w = 'Human')) AS n_users,
  CASE WHEN len(list_filter(before_who, w -> w = 'Human')) <= 1
       THEN coalesce(before_text[list_position(before_who, 'Human')], '')
       ELSE array_to_string(list_transform(list_zip(before_who, before_text), z -> z[1] || ': ' || z[2]), {TURN_JOIN})
  END AS query, chosen_text[-1] AS chosen_reply, rejected_last AS rejected_reply
FROM (SELECT *, chosen_who[1:len(chosen_who) - 1] AS before_who, chosen_text[1:len(chosen_text) - 1] AS before_text
      FROM ({turns}))"""
    pairs = f"""
SELECT plain, NULL::VARCHAR AS source_id, NULL::VARCHAR AS model_1, NULL::VARCHAR AS model_2, NULL::VARCHAR AS rater,
  CASE WHEN swapped THEN 'model_b' ELSE 'model_a' END AS winner, NULL::DOUBLE AS prob_1, n_users, query,
  CASE WHEN swapped THEN rejected_reply ELSE chosen_reply END AS response_1,
  CASE WHEN swapped THEN chosen_reply ELSE rejected_reply END AS response_2, tk
FROM ({hashed_order(sides)})"""
    return Staging(f"SELECT * EXCLUDE (tk), coalesce({BLANK_RESPONSE}, FALSE) AS empty, tk FROM ({pairs})", ATTRIBUTES,
                   keyed=True)


__all__ = ["ATTRIBUTES", "applies", "row_count", "staging"]
