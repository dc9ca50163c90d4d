"""Rows of one file, streamed where the format allows: JSONL and parquet row by row, CSV row by
row, a .json list element by element (JSON lines named .json line by line), another .json file
whole (an object holding a list of rows, such as AnnotatedPairs).
JSON, JSONL and CSV files may be compressed (.gz, .bz2, .xz, .zst): sources.py decompresses them
as they are read."""

from __future__ import annotations

import csv
import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import json_stream, sources
from .base import RowError

SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
LIST_KEYS = ("comparisons", "data", "records", "rows", "train")
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # Arena rows hold long conversations


@dataclass
class Table:
    path: Path
    context: dict | None          # the top-level object of a JSON file that holds its rows in a list
    sample: dict | None           # the first row, for detection (None: no rows)
    rows: Iterator[dict]          # every row, the sample included

    def numbered(self, start: int) -> Iterator[tuple[int, dict]]:
        """(position in the source, row), rows checked to be objects."""
        for i, row in enumerate(self.rows):
            if not isinstance(row, dict):
                raise RowError(f"{self.path.name}: row {i}", "row", f"expected an object, got {type(row).__name__}")
            yield start + i, row


def _kind(value: object) -> str:
    return {str: "a string", list: "a list", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__)


def _jsonl(path: Path) -> Iterator[dict]:
    """JSON lines, each an object: any other line is refused with its line number (a row that is a
    string or a list would otherwise be skipped, or make the file look empty)."""
    for lineno, value in sources.json_lines(path):
        if not isinstance(value, dict):
            raise sources.SourceError(f"{path}: line {lineno}: expected a JSON object (one row per line), "
                                      f"got {_kind(value)}")
        yield value


def _first(rows: Iterator[dict]) -> tuple[dict | None, Iterator[dict]]:
    rows = iter(rows)
    for first in rows:
        return first, itertools.chain([first], rows)
    return None, iter(())


def _json(path: Path) -> tuple[dict | None, Iterator]:
    """(the object holding the rows, or None; the rows): a list streamed element by element, JSON
    lines named .json line by line, an object holding the rows (Feedback Forensics') streamed in
    two passes, with its lists left empty; anything else (a file that is not valid JSON: its error
    is json.loads's) read whole."""
    # first: JSON lines named .json end its first pass at their first line ("Extra data"), where
    # json_shape would parse a whole object holding the rows to see whether lines follow it
    held = json_stream.object_rows(path, LIST_KEYS)
    if held is not None:
        return held
    shape = json_stream.json_shape(path)
    if shape == "list":
        return None, json_stream.json_list(path)
    if shape == "lines":  # JSON lines named .json
        return None, _jsonl(path)
    text = sources.read_text(path)
    try:
        data = sources.loads(text, path)  # its limits: depth, long numbers, lone surrogates
    except sources.SourceError:
        if text.lstrip().startswith("{") and "\n" in text.strip():  # JSON lines named .json
            return None, list(_jsonl(path))
        raise
    if isinstance(data, list):
        return None, iter(data)
    if isinstance(data, dict):
        for key in LIST_KEYS:
            if isinstance(data.get(key), list):
                return data, iter(data[key])
        raise sources.SourceError(f"{path}: expected a JSON list of rows, or an object with one of "
                                  f"{', '.join(LIST_KEYS)} as a list")
    raise sources.SourceError(f"{path}: expected a JSON list of rows, got {type(data).__name__}")


def _csv(path: Path) -> Iterator[dict]:
    # sources.text_lines decodes as every reader does (BOM, UTF-16/32; latin-1 or binary refused in one line)
    reader = csv.DictReader(line for _, line in sources.text_lines(path, keepends=True))
    try:
        if reader.fieldnames is None:
            return
        seen: set[str] = set()
        for name in reader.fieldnames:
            if name in seen:  # DictReader would keep the last column of that name in silence
                raise sources.SourceError(f"{path}: line 1: the column {name!r} appears more than once")
            seen.add(name)
        yield from reader
    except csv.Error as exc:
        raise sources.SourceError(f"{path}: line {reader.line_num} is not valid CSV ({exc})") from None


def open_table(path: Path) -> Table:
    suffix = sources.data_suffix(path, SUFFIXES)
    context = None
    if suffix == ".jsonl":
        rows: Iterator[dict] = _jsonl(path)
    elif suffix == ".json":
        context, rows = _json(path)
    elif suffix == ".parquet":
        rows = sources.iter_parquet(path)
    else:
        rows = _csv(path)
    sample, rows = _first(rows)
    if sample is not None and not isinstance(sample, dict):
        raise sources.SourceError(f"{path}: row 0: expected an object (one row of pairs), got {_kind(sample)}")
    return Table(path, context, sample, rows)


def resolve(source: str) -> tuple[str, list[Path]]:
    """(display name, files) for a file, a folder or hf:OWNER/NAME; CSV files too, and JSON, JSONL
    and CSV files compressed as .gz, .bz2, .xz or .zst."""
    if source.startswith(sources.HF_PREFIX):
        return sources.resolve(source)
    path = Path(source)
    if not path.exists():
        raise sources.SourceError(f"{source}: no such file")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and sources.is_data_file(p, SUFFIXES)
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise sources.SourceError(f"{path}: no .json, .jsonl, .parquet or .csv files (compressed or not)")
        return path.name, files
    sources.data_suffix(path, SUFFIXES)
    return path.name, [path]
