"""A fast read of AlpacaEval annotations (`alpaca_eval.py`'s layout) for `raw_bulk` (issue 18):
one JSON list (`annotations.json`, as AlpacaEval writes it) or JSON lines, plain, gzip or zstd,
read by DuckDB as JSON leaves (`generic_scan.json_source`) and counted apart.

Every row names its judge (`annotator`; none: the load's judge), so the staging is `judged`.
A row is plain when its texts and names are what `arena_scan` takes as plain leaves (text,
whole numbers, null) and its `preference` is missing, empty, or a number written plainly (or a
string of digits with one point) that `alpaca_eval._preference` reads as 0 or from 1 to 2:
1.5 and 0 are ties, 1 and 2 votes, and a value between a vote for the nearer side with
prob_1 = 2 - preference kept. Anything else (a boolean, NaN, a float name) sends the file to
Python, which reads it or says what is wrong with it.
"""

from __future__ import annotations

from pathlib import Path

from .. import compressed
from . import alpaca_eval
from .arena_scan import WHOLE_TEXT, json_name_ok, json_text
from .base import Options
from .generic_scan import json_format, json_row_count, json_source, select
from .parquet_scan import Declined
from .staging import Staging, identifier

_ROLES = {"prompt": "instruction", "response_1": "output_1", "response_2": "output_2", "model_1": "generator_1",
          "model_2": "generator_2", "rater": "annotator_index", "winner": "preference"}
_COLUMNS = [*_ROLES.values(), "annotator", "dataset"]
_DECIMAL = r"[0-9]+(\.[0-9]*)?|\.[0-9]+"                  # a string float() reads as that number
_NUMBER = r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"       # a JSON number


def _preference(w: str) -> tuple[str, str, str]:
    """(plain, winner word, prob_1) in SQL for the JSON leaf `preference` (`alpaca_eval._preference`)."""
    is_string, s = f"left({w}, 1) = '\"'", f"({w}->>'$')"
    missing = f"({w} IS NULL OR ({is_string} AND {s} = ''))"
    spelled = (f"CASE WHEN {is_string} THEN regexp_full_match({s}, '{_DECIMAL}') "
               f"ELSE regexp_full_match({w}::VARCHAR, '{_NUMBER}') END")
    p = f"TRY_CAST(CASE WHEN {is_string} THEN {s} ELSE {w}::VARCHAR END AS DOUBLE)"
    plain = f"({missing} OR ({spelled} AND {p} IS NOT NULL AND ({p} = 0 OR ({p} >= 1 AND {p} <= 2))))"
    winner = f"CASE WHEN {missing} THEN '' WHEN {p} = 0 OR {p} = 1.5 THEN 'tie' WHEN {p} < 1.5 THEN '1' ELSE '2' END"
    prob = f"CASE WHEN NOT {missing} AND {p} NOT IN (0, 1.5, 1.0, 2.0) THEN 2.0 - {p} END"
    return plain, winner, prob


def applies(path: Path) -> bool:
    return compressed.duckdb_reads(path, ".json") or compressed.duckdb_reads(path, ".jsonl")


def _layout(path: Path) -> str | None:
    return json_format(path, ".jsonl" if compressed.duckdb_reads(path, ".jsonl") else ".json")


def row_count(path: Path, header: list[str]) -> int | None:
    return json_row_count(path, _layout(path))


def staging(path: Path, header: list[str], opts: Options) -> Staging | None:
    layout = _layout(path)
    if layout is None:
        return None
    ref = identifier
    texts_ok = " AND ".join(json_name_ok(ref(c), whole=WHOLE_TEXT) for c in ("output_1", "output_2"))
    rest = [json_name_ok(ref("instruction"), whole=WHOLE_TEXT)]
    rest += [json_name_ok(ref(c)) for c in ("generator_1", "generator_2", "annotator", "annotator_index", "dataset")]
    try:
        return select(_ROLES, lambda col: f"coalesce({json_text(ref(col))}, '')",
                      lambda col: f"nullif({json_text(ref(col))}, '')", lambda col: _preference(ref(col)),
                      [("dataset", f"nullif({json_text(ref('dataset'))}, '')")], json_source(layout, _COLUMNS),
                      checks=(texts_ok, " AND ".join(rest)), judge=f"nullif({json_text(ref('annotator'))}, '')")
    except Declined:
        return None


assert set(alpaca_eval.REQUIRED) <= set(_COLUMNS)

__all__ = ["applies", "row_count", "staging"]
