"""A fast read of generic pairs (`generic.py`'s layout: a lab's own judgements, with columns
found by their usual names or named by options) for `raw_bulk` (issue 18), from a CSV file
(plain, gzip or zstd, checked by `csv_scan` as for arena-55k), a parquet file (its SELECT written
from the schema, as in `parquet_scan`), JSON lines (plain, gzip or zstd, checked by
`arena_scan.line_check`; every value a JSON leaf, as `arena_scan` reads one) or a `.json` file
(one JSON list, its elements counted by `list_scan`, or JSON lines named .json).

The columns are `generic.columns`'. A row is plain when it is one `generic.read` skips for an
empty response, or when its winner is a word `base.WINNERS` knows, spelled in ASCII lower or
upper case without spaces, or a probability written plainly (`0.25`, `.5`, `1.0`; a parquet
float from 0 to 1): 0.5 is a tie, 1.0 a vote for response 1, any other a vote with its
probability kept, as `generic._vote` reads it. In JSON lines a text or a name is a string, a
whole number or null, an attribute also a boolean; a winner is also 1, 2 or a number from 0 to 1.
Anything else (an object, a list, a number Python would write back otherwise) sends the file to
Python.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from .. import compressed, json_stream, sources
from . import arena55k_scan, arena_scan, generic, line_scan, list_scan, parquet_scan
from .arena_scan import BLANK_RESPONSE, json_name_ok, json_text, json_value_ok
from .base import Options
from .parquet_scan import Declined, is_text, name_text
from .staging import (
    Staging,
    attribute_names_ok,
    distinct,
    identifier,
    known_winner,
    literal,
)

_PROBABILITY = r"0\.[0-9]*|\.[0-9]+|1\.0*"  # float() reads it as a number from 0 to 1


def _vote_from_text(w: str) -> tuple[str, str, str]:
    """(plain, winner word, prob_1) in SQL for a winner written as text (`generic._vote`)."""
    word = known_winner(w)
    number = f"regexp_full_match({w}, '{_PROBABILITY}')"
    p = f"TRY_CAST({w} AS DOUBLE)"
    winner = (f"CASE WHEN {number} THEN (CASE WHEN {p} = 0.5 THEN 'tie' WHEN {p} > 0.5 THEN '1' ELSE '2' END) "
              f"ELSE lower({w}) END")
    prob = f"CASE WHEN {number} AND {p} NOT IN (0.5, 1.0) THEN {p} END"
    return f"({word} OR {number})", winner, prob


def _vote_from_float(p: str, missing: str) -> tuple[str, str, str]:
    """(plain, winner word, prob_1) in SQL for a float winner `p` (`generic._vote` of a float):
    from 0 to 1 a vote for the nearer side (0.5 a tie) with its probability kept (not for 1.0),
    2 a vote for response 2; `missing` (SQL) is no vote."""
    share = f"(NOT {missing} AND {p} >= 0 AND {p} <= 1)"
    winner = (f"CASE WHEN {missing} THEN '' WHEN {p} = 2 THEN '2' WHEN {p} = 0.5 THEN 'tie' "
              f"WHEN {p} > 0.5 THEN '1' ELSE '2' END")
    prob = f"CASE WHEN {share} AND {p} NOT IN (0.5, 1.0) THEN {p}::DOUBLE END"
    return f"({missing} OR {share} OR {p} = 2)", winner, prob


def _vote_from_number(w: str, kind: pa.DataType) -> tuple[str, str, str]:
    """The same for a parquet column of whole numbers (1 or 2) or floats."""
    if pa.types.is_integer(kind):
        return f"({w} IS NULL OR {w} IN (1, 2))", f"coalesce({w}::VARCHAR, '')", "NULL::DOUBLE"
    if not pa.types.is_floating(kind) or pa.types.is_float16(kind):
        raise Declined("winner")
    # DuckDB orders NaN above every number: tested first
    return _vote_from_float(w, missing=f"({w} IS NULL OR isnan({w}))")


def _vote_from_json(w: str) -> tuple[str, str, str]:
    """The same for a JSON leaf: a string as `_vote_from_text` reads one, the whole numbers 1 and 2,
    a float as a parquet float is read (`json_type` tells a float from a whole number), null as no
    vote."""
    text_plain, text_winner, text_prob = _vote_from_text(f"({w}->>'$')")
    p = f"TRY_CAST({w} AS DOUBLE)"  # DuckDB may cast a row's value before it tests the type
    float_plain, float_winner, float_prob = _vote_from_float(p, missing="FALSE")  # a JSON null is caught first
    is_string, is_float = f"left({w}, 1) = '\"'", f"json_type({w}) = 'DOUBLE'"
    plain = (f"({w} IS NULL OR ({is_string} AND {text_plain}) OR {w}::VARCHAR IN ('1', '2') "
             f"OR ({is_float} AND {float_plain}))")
    winner = (f"CASE WHEN {w} IS NULL THEN '' WHEN {is_string} THEN {text_winner} "
              f"WHEN NOT {is_float} THEN {w}::VARCHAR ELSE {float_winner} END")
    prob = f"CASE WHEN {is_string} THEN {text_prob} WHEN {is_float} THEN {float_prob} END"
    return plain, winner, prob


def select(cols: dict[str, str], text, name, vote, attributes: list[tuple[str, str]], source: str,
           checks: tuple[str, str] = ("TRUE", "TRUE"), judge: str | None = None) -> Staging:
    """The staging SELECT from the role columns (`generic.columns`) and SQL builders for a text, a
    name and the vote of a column. `checks`: what else makes a row plain, in SQL over the source's
    columns: what `generic.read` checks of every row (its two responses), and what it checks of a
    row it does not skip for an empty response (the rest). `judge`: SQL for each row's judge as
    written, for a layout that names one per row (`Staging.judged`)."""
    plain_vote, winner, prob = vote(cols["winner"])
    optional = {role: name(cols[role]) if role in cols else "NULL::VARCHAR"
                for role in ("id", "model_1", "model_2", "rater")}
    names = [n for n, _ in attributes]
    if not attribute_names_ok(names):
        raise Declined("attribute names")
    extra = "".join(f", {expr} AS {identifier(n)}" for n, expr in attributes)
    judged = f" {judge} AS judge," if judge else ""
    staged = f"""
SELECT *, coalesce({BLANK_RESPONSE}, FALSE) AS empty FROM (
SELECT coalesce({checks[0]}, FALSE) AS plain_texts, coalesce(({plain_vote}) AND ({checks[1]}), FALSE) AS plain_rest,
  {optional['id']} AS source_id, {optional['model_1']} AS model_1,
  {optional['model_2']} AS model_2, {optional['rater']} AS rater, {winner} AS winner, {prob} AS prob_1,{judged}
  1 AS n_users, {text(cols['prompt'])} AS query, {text(cols['response_1'])} AS response_1,
  {text(cols['response_2'])} AS response_2{extra}
FROM {source})"""
    # a row skipped for an empty response is never checked further (generic.read skips it first)
    return Staging(f"SELECT * EXCLUDE (plain_texts, plain_rest), plain_texts AND (empty OR plain_rest) AS plain "
                   f"FROM ({staged})", tuple(names), judged=judge is not None)


class GenericCsv:
    """Generic pairs in a CSV file: every column text, taken by position from Python's header."""

    def applies(self, path: Path) -> bool:
        return compressed.duckdb_reads(path, ".csv")

    def row_count(self, path: Path, header: list[str]) -> int | None:
        return arena55k_scan.row_count(path, header)

    def staging(self, path: Path, header: list[str], opts: Options) -> Staging | None:
        cols, missing = generic.columns(dict.fromkeys(header), opts)
        if missing:
            return None
        where = {name: f"c{i}" for i, name in enumerate(header)}
        cell = lambda col: f"coalesce({where[col]}, '')"  # noqa: E731 - DuckDB reads an empty field as NULL
        attributes = [(col, cell(col)) for col in opts.attribute_columns]  # flatten('') stores ''
        try:
            return select(cols, cell, lambda col: f"nullif({where[col]}, '')", lambda col: _vote_from_text(cell(col)),
                           attributes, arena55k_scan.csv_reader(len(header)))
        except Declined:
            return None


class GenericParquet:
    """Generic pairs in a parquet file: texts as text or whole numbers, the winner as text, a
    whole number or a float."""

    def applies(self, path: Path) -> bool:
        return path.name.lower().endswith(".parquet") and compressed.duckdb_names(path)

    def row_count(self, path: Path, header: list[str]) -> int | None:
        return parquet_scan.row_count(path)

    def staging(self, path: Path, header: list[str], opts: Options) -> Staging | None:
        types = parquet_scan.read_types(path)
        if types is None:
            return None
        cols, missing = generic.columns(dict.fromkeys(types), opts)
        if missing:
            return None
        try:
            for role in ("prompt", "response_1", "response_2"):
                kind = types[cols[role]]
                if not (is_text(kind) or pa.types.is_integer(kind)):
                    raise Declined(role)  # base.text of a float, a list or a boolean is Python's
            attributes: list[tuple[str, str]] = []
            for col in opts.attribute_columns:
                parquet_scan.flatten(col, identifier(col), types[col], attributes)
            kind = types[cols["winner"]]
            vote = ((lambda col: _vote_from_text(f"coalesce({identifier(col)}, '')")) if is_text(kind)
                    else (lambda col: _vote_from_number(identifier(col), kind)))
            return select(cols, lambda col: f"coalesce({identifier(col)}::VARCHAR, '')",
                           lambda col: name_text(col, types), vote, attributes, "read_parquet(?)")
        except Declined:
            return None


def json_format(path: Path, suffix: str) -> str | None:
    """read_json's format for a `.jsonl` or `.json` file (one JSON list, or JSON lines named .json:
    `json_stream.json_shape`), or None: Python reads it whole."""
    if suffix == ".jsonl":
        return "newline_delimited"
    return {"list": "array", "lines": "newline_delimited"}.get(json_stream.json_shape(path))


def json_row_count(path: Path, layout: str | None, keys: tuple[str, ...] = line_scan.KEYS) -> int | None:
    """The rows DuckDB must read from a JSON file of that read_json format, counted apart (JSON
    lines: None unless every value of `keys` is text or null, `arena_scan.line_check`)."""
    if layout == "array":
        return list_scan.count(path, sources.MAX_DEPTH, arena_scan.MAX_DIGITS)
    return arena_scan.line_check(path, keys) if layout else None


def json_source(layout: str, columns: list[str] | dict[str, str]) -> str:
    """The read_json call giving those columns (NULL where a row lacks one): each as a JSON leaf,
    or, given a dict, as the DuckDB type it names."""
    types = columns if isinstance(columns, dict) else dict.fromkeys(columns, "JSON")
    spec = ", ".join(f"{literal(col)}: {literal(kind)}" for col, kind in types.items())
    return f"read_json(?, format = '{layout}', records = true, columns = {{{spec}}})"


class JsonFileScan:
    """What the scans of `.jsonl` or `.json` files share: which files they take, and their rows
    counted apart (`json_format`, `json_row_count`)."""

    def __init__(self, suffix: str):
        self.suffix = suffix

    def applies(self, path: Path) -> bool:
        return compressed.duckdb_reads(path, self.suffix)

    def row_count(self, path: Path, header: list[str]) -> int | None:
        return json_row_count(path, json_format(path, self.suffix))


class GenericJson(JsonFileScan):
    """Generic pairs in JSON lines (`.jsonl`) or a `.json` file (`json_format`): each role's column
    read as JSON, found by name in the first row (as `generic.read` finds them), a leaf taken as
    `arena_scan` takes one."""

    def staging(self, path: Path, header: list[str], opts: Options) -> Staging | None:
        cols, missing = generic.columns(dict.fromkeys(header), opts)
        wanted = list(dict.fromkeys([*cols.values(), *opts.attribute_columns]))
        layout = json_format(path, self.suffix)
        if missing or layout is None or not distinct(wanted):  # DuckDB takes two names alike in case as one
            return None
        ref = identifier
        texts_ok = " AND ".join(json_name_ok(ref(cols[role]), whole=arena_scan.WHOLE_TEXT)
                                for role in ("response_1", "response_2"))
        rest = [json_name_ok(ref(cols["prompt"]), whole=arena_scan.WHOLE_TEXT)]
        rest += [json_name_ok(ref(cols[role])) for role in ("id", "model_1", "model_2", "rater") if role in cols]
        rest += [json_value_ok(ref(col)) for col in opts.attribute_columns]
        attributes = [(col, json_text(ref(col))) for col in opts.attribute_columns]
        try:
            return select(cols, lambda col: f"coalesce({json_text(ref(col))}, '')",
                          lambda col: f"nullif({json_text(ref(col))}, '')", lambda col: _vote_from_json(ref(col)),
                          attributes, json_source(layout, wanted), checks=(texts_ok, " AND ".join(rest)))
        except Declined:
            return None


CSV = GenericCsv()
PARQUET = GenericParquet()
JSONL = GenericJson(".jsonl")
JSON = GenericJson(".json")

__all__ = ["CSV", "JSON", "JSONL", "PARQUET", "GenericCsv", "GenericJson", "GenericParquet", "JsonFileScan", "json_format",
           "json_row_count", "json_source", "select"]
