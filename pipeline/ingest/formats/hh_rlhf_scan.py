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
from .arena_scan import SPACE_CHARS, SPACE_CLASS, TURN_JOIN, line_check
from .base import Options
from .staging import ORDERED_REPLIES, Staging, hashed_order

ATTRIBUTES: tuple[str, ...] = ()
_MARK = r"\n\n(Human|Assistant):[ \t]?"   # hh_rlhf._MARK after a blank line
_H = "chr(10) || chr(10) || 'Human:'"       # the marks without their optional blank, as SQL texts
_A = "chr(10) || chr(10) || 'Assistant:'"
_SPACES = f"'{SPACE_CHARS}'"  # what Python's str.strip() strips, as an SQL text


def applies(path: Path) -> bool:
    """A UTF-8 .jsonl file without a byte-order mark, uncompressed, gzip or zstd (`compressed.duckdb_reads`)."""
    return compressed.duckdb_reads(path, ".jsonl")


def row_count(path: Path, header: list[str]) -> int | None:
    return line_check(path)


def _strip(text: str) -> str:
    # the regular expression only where an end is space: most turns have none, and it costs
    # (`t[1]` and `t[-1]` are code points, as Python's strip sees them, and cost less than left/right)
    ends = f"(contains({_SPACES}, ({text})[1]) OR contains({_SPACES}, ({text})[-1]))"
    return f"CASE WHEN {text} <> '' AND {ends} THEN regexp_replace({text}, '^{SPACE_CLASS}+|{SPACE_CLASS}+$', '', 'g') ELSE {text} END"


def _blank_dropped(text: str, name: str) -> str:
    """A turn's text after a mark found without its optional blank (`[ \t]?`), that blank
    dropped: strip drops it either way, and a turn's usual leading space would otherwise send
    every turn to the regular expression."""
    return f"CASE WHEN ({text})[1] IN (' ', chr(9)) THEN substr({text}, 2) ELSE {text} END AS {name}"


def _opened(side: str) -> str:
    """The transcript with a blank line put before a mark at its start (`^` in hh_rlhf._MARK)."""
    return (f"CASE WHEN starts_with({side}, 'Human:') OR starts_with({side}, 'Assistant:') "
            f"THEN chr(10) || chr(10) || {side} ELSE {side} END AS {side}_m")


def _one_exchange(side: str, prefix: str) -> str:
    """`{prefix}_pa`: a transcript's [Human turn, Assistant turn], unstripped, when its marks are
    one Human mark and then one Assistant mark (most HH-RLHF rows), found by plain substring
    search; else NULL. Marks cannot overlap (each starts with a blank line and holds none), so
    the substrings are the marks the regular expression finds."""
    return (f"CASE WHEN len({prefix}_ph) = 2 AND NOT contains({prefix}_ph[1], {_A}) "
            f"THEN string_split({prefix}_ph[2], {_A}) END AS {prefix}_pa")


def _turns(side: str, every_text: bool = True) -> str:
    """SQL columns of a transcript not of one exchange (NULL for the others): `{side}_who` (the
    speakers in order) and `{side}_text` (each turn's text, stripped), or with `every_text` False
    `{side}_last` (the last turn's text, stripped: all `read` takes of the rejected side)."""
    split = f"regexp_split_to_array({side}_m, '{_MARK}')"
    texts = (f"list_transform({split}[2:], t -> {_strip('t')})" if every_text
             else f"list_transform({split}[-1:], t -> {_strip('t')})[1]")  # the split once
    return (f"CASE WHEN NOT simple THEN regexp_extract_all({side}_m, '{_MARK}', 1) END AS {side}_who, "
            f"CASE WHEN NOT simple THEN {texts} END AS {side}_{'text' if every_text else 'last'}")


def staging(path: Path, header: list[str], opts: Options) -> Staging:
    """The staging SELECT: the two sides' turns, then the pair as `hh_rlhf.read` makes it. A row
    whose transcripts are each one exchange takes the short way (substring search); the others
    are split by the regular expression."""
    read = """read_json(?, format = 'newline_delimited', records = true,
                 columns = {'chosen': 'VARCHAR', 'rejected': 'VARCHAR'})"""
    exchanges = f"""
SELECT *, coalesce(len(c_pa) = 2 AND len(r_pa) = 2, FALSE) AS simple
FROM (SELECT *, {_one_exchange('chosen', 'c')}, {_one_exchange('rejected', 'r')}
      FROM (SELECT *, string_split(chosen_m, {_H}) AS c_ph, string_split(rejected_m, {_H}) AS r_ph
            FROM (SELECT chosen, rejected, {_opened('chosen')}, {_opened('rejected')} FROM {read})))"""
    turns = f"SELECT *, {_turns('chosen')}, {_turns('rejected', every_text=False)} FROM ({exchanges})"
    plain = ("coalesce(len(chosen_who) > 0 AND len(rejected_who) > 0 "  # a null transcript: not plain
             "AND chosen_who[-1] = 'Assistant' AND rejected_who[-1] = 'Assistant', FALSE)")
    users = "len(list_filter(before_who, w -> w = 'Human'))"
    query = (f"CASE WHEN {users} <= 1 THEN coalesce(before_text[list_position(before_who, 'Human')], '') "
             f"ELSE array_to_string(list_transform(list_zip(before_who, before_text), z -> z[1] || ': ' || z[2]), "
             f"{TURN_JOIN}) END")
    sides = f"""
SELECT simple OR {plain} AS plain, CASE WHEN simple THEN 1 ELSE {users} END AS n_users,
  CASE WHEN simple THEN {_strip('c_query')} ELSE {query} END AS query,
  CASE WHEN simple THEN {_strip('c_reply')} ELSE chosen_text[-1] END AS chosen_reply,
  CASE WHEN simple THEN {_strip('r_reply')} ELSE rejected_last END AS rejected_reply
FROM (SELECT *, chosen_who[1:len(chosen_who) - 1] AS before_who, chosen_text[1:len(chosen_text) - 1] AS before_text,
        {_blank_dropped('c_pa[1]', 'c_query')}, {_blank_dropped('c_pa[2]', 'c_reply')},
        {_blank_dropped('r_pa[2]', 'r_reply')}
      FROM ({turns}))"""
    pairs = f"""
SELECT plain, NULL::VARCHAR AS source_id, NULL::VARCHAR AS model_1, NULL::VARCHAR AS model_2, NULL::VARCHAR AS rater,
  CASE WHEN swapped THEN 'model_b' ELSE 'model_a' END AS winner, NULL::DOUBLE AS prob_1, n_users, query,
  {ORDERED_REPLIES}, tk
FROM ({hashed_order(sides)})"""
    # the responses are stripped: one Python calls empty is ''
    empty = "coalesce(response_1 = '' OR response_2 = '', FALSE)"
    return Staging(f"SELECT * EXCLUDE (tk), {empty} AS empty, tk FROM ({pairs})", ATTRIBUTES, keyed=True)


__all__ = ["ATTRIBUTES", "applies", "row_count", "staging"]
