"""Labels files: read one, check it against the database, and say what is wrong with it.

Streamlit-free: the CLI (`add-judge`) and the Add judge page both call `parse_labels_file`.

Accepted labels files (format found from the file name, else from the content):
- JSON list of choices in dataset order (the original's upload format): entry i labels
  the pair at position i of the first loaded source.
- JSON object {pair_id: choice}; JSON list of {"pair_id", "preferred"} objects; JSONL with
  one such object a line; CSV with a header holding `pair_id` and `preferred`.

A choice is A/B, 1/2, response_1/response_2 (any case), or a probability that response 1
is better written as a decimal (0.0 .. 1.0). A probability is kept in `labels.prob_1`
and thresholded for `preferred`: above 0.5 -> 1, below -> 2. Exactly 0.5 says "no
preference": that pair is left unlabelled and counted as a tie. A null entry means the
judge did not label that pair (also left out, counted). A bare integer 0 is refused as
ambiguous (a 0-based choice or a probability?): write 0.0 for a probability.

Anything else stops the whole file with one message per bad entry; nothing is written.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..store import db as dbmod
from ..ingest import compressed, sources
from ..ingest.records import shown as _short  # one short line for any value

_CHOICE_1 = {"a", "1", "response_1", "response 1", "response1", "model_a"}
_CHOICE_2 = {"b", "2", "response_2", "response 2", "response2", "model_b"}
_VALUE_KEYS = ("preferred", "choice", "label", "prob_1")  # where a record keeps its choice
TIE = 0.5
TIE_TOLERANCE = 1e-9  # averaged probabilities within this of 0.5 count as a tie
MAX_SHOWN_ERRORS = 10


@dataclass(frozen=True)
class LabelIssue:
    entry: str   # which entry: "entry 17", "key '42'", "line 5", "row 3", or "file"
    reason: str

    def __str__(self) -> str:
        return f"{self.entry}: {self.reason}"


@dataclass(frozen=True)
class Label:
    pair_id: int
    preferred: int               # 1 or 2
    prob_1: float | None = None  # probability that response 1 is better, when given


@dataclass
class ParsedLabels:
    """A labels file, checked against the database: labels to add, or the reasons not to."""

    source: str                      # the file's name, stored as judges.source
    format: str                      # 'list', 'object', 'records', 'jsonl', 'csv' or '' if unreadable
    labels: list[Label] = field(default_factory=list)
    errors: list[LabelIssue] = field(default_factory=list)
    ties: int = 0                    # probability exactly 0.5: left unlabelled
    missing: int = 0                 # null entries: the judge did not label the pair
    repeats: int = 0                 # list entries at positions that repeat an earlier pair of the source

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def n_prob(self) -> int:
        return sum(lab.prob_1 is not None for lab in self.labels)

    def error_message(self) -> str:
        shown = "; ".join(str(e) for e in self.errors[:MAX_SHOWN_ERRORS])
        more = len(self.errors) - MAX_SHOWN_ERRORS
        tail = f"; and {more} more" if more > 0 else ""
        return f"{self.source}: {len(self.errors)} bad entr{'y' if len(self.errors) == 1 else 'ies'}: {shown}{tail}"

    def summary(self) -> str:
        extra = [f"{self.n_prob} with a probability"] if self.n_prob else []
        extra += [f"{self.ties} ties left out"] if self.ties else []
        extra += [f"{self.missing} unlabelled"] if self.missing else []
        extra += [f"{self.repeats} at repeated pairs left out"] if self.repeats else []
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"{self.source}: {len(self.labels)} labels, {self.format} format{tail}"


# ---------------------------------------------------------------- choices


def parse_choice(value: Any) -> tuple[int, float | None] | None:
    """(preferred, prob_1) for one value; None for a tie or a null. Raises ValueError with the reason."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a choice (use A/B, 1/2, response_1/response_2 or a probability)")
    if isinstance(value, int):
        return _integer_choice(value)
    if isinstance(value, float):
        return _probability(value)
    if isinstance(value, str):
        return _text_choice(value)
    raise ValueError(f"a {type(value).__name__} is not a choice")


def _integer_choice(value: int) -> tuple[int, None]:
    if value in (1, 2):
        return value, None
    if value == 0:
        # 0 could mean "the first response" (0-based) or "probability 0": refuse rather than guess
        raise ValueError("0 is ambiguous (a 0-based choice or a probability?): use 1/2, A/B, or 0.0 for a probability")
    raise ValueError(f"{_short(value)} is not a choice (use 1 or 2, A or B, or a probability from 0.0 to 1.0)")


def _probability(p: float) -> tuple[int, float] | None:
    if not math.isfinite(p) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{p!r} is not a probability between 0 and 1")
    if abs(p - TIE) <= TIE_TOLERANCE:
        return None  # no preference: left out, counted as a tie
    return (1 if p > TIE else 2), p


_INT = re.compile(r"^[+-]?\d+$")


def _text_choice(text: str) -> tuple[int, float | None] | None:
    t = text.strip().lower()
    if t in _CHOICE_1:
        return 1, None
    if t in _CHOICE_2:
        return 2, None
    if t in ("", "null", "none", "na", "n/a"):
        return None  # unlabelled
    if _INT.match(t) and len(t) <= 12:  # longer: read as a (far too large) probability below
        return _integer_choice(int(t))
    try:
        p = float(t)
    except ValueError:
        raise ValueError(f"{_short(text)} is not a choice (use A/B, 1/2, response_1/response_2 or a probability)") from None
    return _probability(p)


def _is_tie(value: Any) -> bool:
    """parse_choice gives None for both ties and nulls; tell them apart for the counts."""
    if isinstance(value, float):
        return True
    if isinstance(value, str):
        t = value.strip().lower()
        return t not in ("", "null", "none", "na", "n/a")
    return False


def parse_pair_id(key: Any) -> int:
    if isinstance(key, bool):
        raise ValueError(f"{key!r} is not a pair id")
    if isinstance(key, int):
        pid = key
    elif isinstance(key, str) and _INT.match(key.strip()):
        if len(key.strip()) > 12:
            raise ValueError(f"{_short(key)} is not a pair id (ids are at most {MAX_PAIR_ID:,})")
        pid = int(key.strip())
    elif isinstance(key, float) and key.is_integer():
        pid = int(key)
    else:
        raise ValueError(f"{_short(key)} is not a pair id (an integer)")
    if pid < 0:
        raise ValueError(f"{_short(pid)} is not a pair id (ids are 0 or more)")
    if pid > MAX_PAIR_ID:
        raise ValueError(f"{_short(pid)} is not a pair id (ids are at most {MAX_PAIR_ID:,})")
    return pid


MAX_PAIR_ID = 2**31 - 1   # pairs.pair_id is an INTEGER


# ---------------------------------------------------------------- reading files


def _read(source: str | Path | bytes | BinaryIO, filename: str | None) -> tuple[bytes, str]:
    """(bytes, display name) of a path, uploaded bytes, or a file-like object (e.g. Streamlit's upload)."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), filename or "upload"
    if hasattr(source, "read"):
        return source.read(), filename or getattr(source, "name", None) or "upload"
    path = Path(source)
    return path.read_bytes(), filename or path.name


def _sniff(text: str, name: str) -> str:
    """'json', 'jsonl' or 'csv', from the extension (under .gz and the like), else from the first character."""
    suffix = compressed.data_suffix(name)
    if suffix in (".json", ".jsonl", ".csv"):
        return suffix[1:]
    head = text.lstrip()[:1]
    if head == "[":
        return "json"
    if head == "{":
        # one object over several lines is JSON; one object per line is JSONL
        try:
            json.loads(text)
            return "json"
        except (ValueError, RecursionError):
            return "jsonl"
    return "csv"


class _FileProblem(Exception):
    """The file as a whole cannot be read as labels."""


def _no_duplicate_keys(items: list[tuple[str, Any]]) -> dict:
    # json.loads would keep the last of two equal keys silently; a label must not vanish that way
    seen: dict[str, Any] = {}
    for k, v in items:
        if k in seen:
            raise _FileProblem(f"key {_short(k)} appears twice")
        seen[k] = v
    return seen


def _raw_entries(text: str, kind: str) -> tuple[str, list[tuple[str, Any, Any]]]:
    """(format, [(entry name, pair id or position, value)]) before any checking.

    For the dataset-order list the key is the 0-based position (an int), marked by
    format 'list'; otherwise it is the pair id as written.
    """
    if kind == "jsonl":
        return "jsonl", _jsonl_entries(text)
    if kind == "csv":
        return "csv", _csv_entries(text)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise _FileProblem(f"not valid JSON: {exc}") from None
    except (RecursionError, ValueError):  # too deep, or an integer past Python's 4,300-digit limit
        raise _FileProblem("JSON nested too deeply, or a number too long, to read") from None
    if isinstance(data, dict):
        return "object", [(f"key {_short(k)}", k, v) for k, v in data.items()]
    if isinstance(data, list):
        if data and all(isinstance(x, dict) for x in data):
            return "records", [(f"entry {i}", *_record_value(x)) for i, x in enumerate(data)]
        return "list", [(f"entry {i}", i, v) for i, v in enumerate(data)]
    raise _FileProblem(f"expected a JSON list or object, got {type(data).__name__}")


_MISSING = object()


def _record_value(obj: dict) -> tuple[Any, Any]:
    """(pair id, value) of a {"pair_id": .., "preferred": ..} object; missing parts marked."""
    pid = obj.get("pair_id", obj.get("id", _MISSING))
    for key in _VALUE_KEYS:
        if key in obj:
            return pid, _value(key, obj[key])
    return pid, _MISSING


def _value(key: str, value: Any) -> Any:
    """A value under prob_1 is a probability even when written 0 or 1."""
    if key != "prob_1" or value is None or isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return value  # reported as not a choice


def _jsonl_entries(text: str) -> list[tuple[str, Any, Any]]:
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append((f"line {n}", _MISSING, _BadLine(f"not valid JSON: {exc.msg}")))
            continue
        except (RecursionError, ValueError):  # too deep, or an integer past 4,300 digits
            out.append((f"line {n}", _MISSING, _BadLine("JSON nested too deeply or a number too long to read")))
            continue
        if not isinstance(obj, dict):
            out.append((f"line {n}", _MISSING, _BadLine(f"expected an object with pair_id and preferred, got {_short(obj)}")))
            continue
        out.append((f"line {n}", *_record_value(obj)))
    return out


class _BadLine:
    def __init__(self, reason: str):
        self.reason = reason


def _csv_entries(text: str) -> list[tuple[str, Any, Any]]:
    reader = csv.reader(io.StringIO(text))
    try:
        rows = [r for r in reader]
    except csv.Error as exc:  # a field past the csv module's limit, a NUL, a stray quote
        raise _FileProblem(f"row {reader.line_num} is not valid CSV ({exc})") from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if "pair_id" not in header or not any(k in header for k in _VALUE_KEYS):
        first = rows[0] if rows else []
        raise _FileProblem(f"a CSV needs a header with pair_id and preferred; the first line is {_short(first)}")
    id_col = header.index("pair_id")
    val_key = next(k for k in _VALUE_KEYS if k in header)
    val_col = header.index(val_key)
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        pid = row[id_col] if id_col < len(row) else _MISSING
        val = _value(val_key, row[val_col]) if val_col < len(row) else _MISSING
        out.append((f"row {n}", pid, val))
    return out


# ---------------------------------------------------------------- checking against the database


def dataset_order(con) -> tuple[str | None, list[int | None]]:
    """(first source, pair id at each of its positions): what entry i of an A/B list refers to.

    A position holding a repeat of an earlier record of the source (not stored twice by the
    loader) maps to None: its entry is read and left out. Repeats at the very end of the
    source cannot be seen, so such a source expects a shorter list.
    """
    row = con.execute("SELECT source FROM pairs ORDER BY pair_id LIMIT 1").fetchone()
    if row is None:
        return None, []
    rows = con.execute("SELECT source_index, pair_id FROM pairs WHERE source = ? ORDER BY source_index",
                       [row[0]]).fetchall()
    order: list[int | None] = [None] * (rows[-1][0] + 1)
    for position, pid in rows:
        order[position] = pid
    return row[0], order


def parse_labels_file(path_or_bytes: str | Path | bytes | BinaryIO, filename: str | None = None,
                      db=None) -> ParsedLabels:
    """Read and check a labels file against the database; every problem is collected, not raised.

    `filename` names an upload (its extension picks the format); a path names itself.
    Raises only what reading a path or opening the database raises (OSError, DatabaseMissing).
    """
    raw, name = _read(path_or_bytes, filename)
    parsed = ParsedLabels(source=name, format="")
    try:
        text = sources.decode_bytes(sources.content_of(raw, name), name)  # .gz/.bz2/.xz/.zst; UTF-8, UTF-16
    except sources.SourceError as exc:
        parsed.errors.append(LabelIssue("file", str(exc).removeprefix(f"{name}: ")))
        return parsed
    if not text.strip():
        parsed.errors.append(LabelIssue("file", "the file is empty"))
        return parsed
    try:
        parsed.format, entries = _raw_entries(text, _sniff(text, name))
    except _FileProblem as exc:
        parsed.errors.append(LabelIssue("file", str(exc)))
        return parsed
    if not entries:
        parsed.errors.append(LabelIssue("file", "no labels in the file"))
        return parsed
    with dbmod.reading(db) as con:
        _check_entries(parsed, entries, con)
    return parsed


def _check_entries(parsed: ParsedLabels, raw: list[tuple[str, Any, Any]], con) -> None:
    if parsed.format == "list":
        source, order = dataset_order(con)
        if not order:
            parsed.errors.append(LabelIssue("file", "the database has no pairs: load a source first"))
            return
        if len(raw) != len(order):
            parsed.errors.append(LabelIssue(
                "file", f"wrong length: the list has {len(raw)} labels, but source {source!r} has "
                        f"{len(order)} pairs (one label per pair, in dataset order)"))
            return
        resolve = lambda key: _at_position(order, key)  # noqa: E731
    else:
        known = {r[0] for r in con.execute("SELECT pair_id FROM pairs").fetchall()}
        resolve = lambda key: _known_pair(key, known)  # noqa: E731
    seen: set[int] = set()
    for entry, key, value in raw:
        _check_one(parsed, entry, key, value, resolve, seen)
    if parsed.ok and not parsed.labels:
        parsed.errors.append(LabelIssue("file", "no pair got a label (every entry is null or a 0.5 tie)"))


class _Repeat(Exception):
    """A dataset position whose record repeats an earlier one: its label is left out."""


def _at_position(order: list[int | None], position: int) -> int:
    pid = order[position]
    if pid is None:
        raise _Repeat
    return pid


def _known_pair(key: Any, known: set[int]) -> int:
    pid = parse_pair_id(key)
    if pid not in known:
        raise ValueError(f"no pair with id {pid} in the database")
    return pid


def _check_one(parsed: ParsedLabels, entry: str, key: Any, value: Any, resolve: Callable[[Any], int],
               seen: set[int]) -> None:
    if isinstance(value, _BadLine):
        parsed.errors.append(LabelIssue(entry, value.reason))
        return
    if key is _MISSING:
        parsed.errors.append(LabelIssue(entry, "no pair_id"))
        return
    if value is _MISSING:
        parsed.errors.append(LabelIssue(entry, f"no choice (expected one of {', '.join(_VALUE_KEYS)})"))
        return
    try:
        pid = resolve(key)
        choice = parse_choice(value)
    except _Repeat:
        parsed.repeats += 1
        return
    except ValueError as exc:
        parsed.errors.append(LabelIssue(entry, str(exc)))
        return
    if pid in seen:
        parsed.errors.append(LabelIssue(entry, f"pair {pid} is labelled twice"))
        return
    seen.add(pid)
    if choice is None:
        if _is_tie(value):
            parsed.ties += 1
        else:
            parsed.missing += 1
        return
    parsed.labels.append(Label(pid, choice[0], choice[1]))


__all__ = ["Label", "LabelIssue", "ParsedLabels", "TIE", "TIE_TOLERANCE", "dataset_order", "parse_choice",
           "parse_labels_file", "parse_pair_id"]
