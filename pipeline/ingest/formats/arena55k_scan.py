"""A fast read of the Kaggle arena-55k CSV (`arena55k.py`'s layout) for `raw_bulk`: DuckDB reads
the CSV and its JSON-encoded turn lists, and builds each row's query and responses in SQL
(issue 18), instead of the csv module and json.loads per row.

It stages the columns `raw_bulk` sorts (`arena_scan.QUERY`'s), and says of every row whether it is
plain: its prompt and both responses JSON lists of strings and nulls (`STRING_LIST`, a regular
expression: a trailing comma, which DuckDB's parser takes and Python's refuses, is not plain), and
each winner flag `0`, `1` or empty with at most one set. For such rows `arena55k.read` builds the same
pair and vote; a file with any other row is read by Python, which has every message and check.
`csv_scan` first proves that DuckDB splits the file into the rows and fields Python's csv module
would, and counts them.
"""

from __future__ import annotations

from pathlib import Path

from .. import compressed
from . import csv_scan
from .arena_scan import BLANK_RESPONSE, TURN_JOIN
from .base import Options
from .staging import Staging

ATTRIBUTES: tuple[str, ...] = ()
MAX_LINE = 4 << 20   # DuckDB's longest row (its read buffer is 16 times that); a longer row makes it refuse
                     # the file, which Python reads
_FLAGS = ("winner_model_a", "winner_model_b", "winner_tie")
_TURNS = ("prompt", "response_a", "response_b")


def applies(path: Path) -> bool:
    """A UTF-8 .csv file without a byte-order mark, uncompressed, gzip or zstd (`compressed.duckdb_reads`)."""
    return compressed.duckdb_reads(path, ".csv")


def row_count(path: Path, header: list[str]) -> int | None:
    """The rows after the header when DuckDB can be trusted to split the file as Python does (and
    into as many fields as Python's header has), else None."""
    found = csv_scan.scan(path)
    if found is None or found[0] != len(header):
        return None
    return found[1]


# A JSON list of strings and nulls, as json.dumps writes it and json.loads reads it (no trailing
# comma, which DuckDB's parser would take); an invalid escape inside a string stops DuckDB's parse.
_WS = "[ \\t\\n\\r]*"
_ITEM = '(?:"(?:[^"\\\\]|\\\\.)*"|null)'
STRING_LIST = f"\\[{_WS}(?:{_ITEM}{_WS}(?:,{_WS}{_ITEM}{_WS})*)?\\]{_WS}"


def _plain_turns(col: str) -> str:
    return f"coalesce(regexp_full_match({col}, '{STRING_LIST}'), FALSE)"


def _turns(col: str) -> str:
    return f"list_transform(json_extract_string({col}, '$[*]'), t -> coalesce(t, ''))"


def csv_reader(n_columns: int) -> str:
    """DuckDB's read of the file (one parameter: the path) as `csv_scan` vouches for it: the csv
    module's dialect, nothing sniffed, the columns c0, c1, ... as text."""
    columns = {f"c{i}": "VARCHAR" for i in range(n_columns)}
    return (f"read_csv(?, header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
            f"strict_mode = true, null_padding = false, max_line_size = {MAX_LINE}, columns = {columns})")


def staging(path: Path, header: list[str], opts: Options) -> Staging:
    """The staging SELECT for a file whose header Python read as `header` (its columns are taken by
    position, so DuckDB's spelling of the names does not matter)."""
    where = {name: f"c{i}" for i, name in reversed(list(enumerate(header)))}  # DictReader: the last of a name wins
    col = {name: where.get(name, "NULL::VARCHAR") for name in ("id", "model_a", "model_b", *_TURNS, *_FLAGS)}
    flags_ok = " AND ".join(f"({col[f]} IS NULL OR {col[f]} IN ('0', '1'))" for f in _FLAGS)
    one_flag = " + ".join(f"({col[f]} IS NOT DISTINCT FROM '1')::INT" for f in _FLAGS) + " <= 1"
    plain = " AND ".join([*(_plain_turns(col[t]) for t in _TURNS), flags_ok, one_flag])
    prompt, side_1, side_2 = (col[t] for t in _TURNS)
    reader = csv_reader(len(header))
    staged = f"""
SELECT plain,
  nullif({col['id']}, '') AS source_id, nullif({col['model_a']}, '') AS model_1,
  nullif({col['model_b']}, '') AS model_2, NULL::VARCHAR AS rater,
  CASE WHEN NOT plain THEN NULL WHEN {col['winner_model_a']} = '1' THEN 'model_a'
       WHEN {col['winner_model_b']} = '1' THEN 'model_b' WHEN {col['winner_tie']} = '1' THEN 'tie' ELSE '' END AS winner,
  NULL::DOUBLE AS prob_1,
  CASE WHEN plain THEN json_array_length({prompt}) END AS n_users,
  CASE WHEN plain THEN array_to_string({_turns(prompt)}, {TURN_JOIN}) END AS query,
  CASE WHEN plain THEN array_to_string(list_filter({_turns(side_1)}, t -> t <> ''), {TURN_JOIN}) END AS response_1,
  CASE WHEN plain THEN array_to_string(list_filter({_turns(side_2)}, t -> t <> ''), {TURN_JOIN}) END AS response_2
FROM (SELECT *, {plain} AS plain FROM {reader})
"""
    return Staging(f"SELECT *, {BLANK_RESPONSE} AS empty FROM ({staged})", ATTRIBUTES)


__all__ = ["ATTRIBUTES", "STRING_LIST", "applies", "csv_reader", "row_count", "staging"]
