"""A fast read of generic pairs (`generic.py`'s layout: a lab's own judgements, with columns
found by their usual names or named by options) for `raw_bulk` (issue 18), from a CSV file
(plain or gzip, checked by `csv_scan` as for arena-55k) or a parquet file (its SELECT written
from the schema, as in `parquet_scan`).

The columns are `generic.columns`'. A row is plain when it is one `generic.read` skips for an
empty response, or when its winner is a word `base.WINNERS` knows, spelled in ASCII lower or
upper case without spaces, or a probability written plainly (`0.25`, `.5`, `1.0`; a parquet
float from 0 to 1): 0.5 is a tie, 1.0 a vote for response 1, any other a vote with its
probability kept, as `generic._vote` reads it. Anything else sends the file to Python.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from .. import compressed
from . import arena55k_scan, generic, parquet_scan
from .arena_scan import BLANK_RESPONSE
from .base import Options
from .parquet_scan import Declined, is_text, name_text
from .staging import Staging, attribute_names_ok, identifier, known_winner

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


def _vote_from_number(w: str, kind: pa.DataType) -> tuple[str, str, str]:
    """The same for a parquet column of whole numbers (1 or 2) or floats."""
    if pa.types.is_integer(kind):
        return f"({w} IS NULL OR {w} IN (1, 2))", f"coalesce({w}::VARCHAR, '')", "NULL::DOUBLE"
    if not pa.types.is_floating(kind) or pa.types.is_float16(kind):
        raise Declined("winner")
    missing = f"({w} IS NULL OR isnan({w}))"  # DuckDB orders NaN above every number: test it first
    share = f"(NOT {missing} AND {w} >= 0 AND {w} <= 1)"
    winner = (f"CASE WHEN {missing} THEN '' WHEN {w} = 2 THEN '2' WHEN {w} = 0.5 THEN 'tie' "
              f"WHEN {w} > 0.5 THEN '1' ELSE '2' END")
    prob = f"CASE WHEN {share} AND {w} NOT IN (0.5, 1.0) THEN {w}::DOUBLE END"
    return f"({missing} OR {share} OR {w} = 2)", winner, prob


def _select(cols: dict[str, str], text, name, vote, attributes: list[tuple[str, str]], source: str) -> Staging:
    """The staging SELECT from the role columns (`generic.columns`) and SQL builders for a text, a
    name and the vote of a column."""
    plain_vote, winner, prob = vote(cols["winner"])
    optional = {role: name(cols[role]) if role in cols else "NULL::VARCHAR"
                for role in ("id", "model_1", "model_2", "rater")}
    names = [n for n, _ in attributes]
    if not attribute_names_ok(names):
        raise Declined("attribute names")
    extra = "".join(f", {expr} AS {identifier(n)}" for n, expr in attributes)
    staged = f"""
SELECT *, coalesce({BLANK_RESPONSE}, FALSE) AS empty FROM (
SELECT {plain_vote} AS plain_vote, {optional['id']} AS source_id, {optional['model_1']} AS model_1,
  {optional['model_2']} AS model_2, {optional['rater']} AS rater, {winner} AS winner, {prob} AS prob_1,
  1 AS n_users, {text(cols['prompt'])} AS query, {text(cols['response_1'])} AS response_1,
  {text(cols['response_2'])} AS response_2{extra}
FROM {source})"""
    # a row skipped for an empty response is never checked further (generic.read skips it first)
    return Staging(f"SELECT * EXCLUDE (plain_vote), (empty OR coalesce(plain_vote, FALSE)) AS plain FROM ({staged})",
                   tuple(names))


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
            return _select(cols, cell, lambda col: f"nullif({where[col]}, '')", lambda col: _vote_from_text(cell(col)),
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
            return _select(cols, lambda col: f"coalesce({identifier(col)}::VARCHAR, '')",
                           lambda col: name_text(col, types), vote, attributes, "read_parquet(?)")
        except Declined:
            return None


CSV = GenericCsv()
PARQUET = GenericParquet()

__all__ = ["CSV", "PARQUET", "GenericCsv", "GenericParquet"]
