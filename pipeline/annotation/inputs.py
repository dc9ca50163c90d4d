"""Raw pairs to annotate: reading JSONL, JSON or CSV with the usual column names.

Accepted shapes, per row:
- `prompt`|`query`, `response_a`|`response_1`, `response_b`|`response_2`, `model_a`, `model_b`
  (a value may be a one-element list, or a JSON string of one, as in Arena exports);
- Chatbot Arena conversations: `conversation_a` / `conversation_b` as lists of
  {role, content}; only single-turn ones are kept.
Optional: `winner` (model_a / model_b -> the `human` label; ties and both-bad rows are
left out), a reference answer (`gpt4_ref_output`, `reference`, `gpt-4-turbo_reference`),
`group`|`scenario_group`, `scenario`|`scenario_auto-j`, and an `id`.
Rows left out are counted with the reason.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import names
from ..ingest import compressed, sources
from ..properties.paper import SCENARIO_GROUPS

QUERY_KEYS = ("prompt", "query", "question", "instruction")
RESPONSE_KEYS = {1: ("response_a", "response_1", "response1", "output_a"),
                 2: ("response_b", "response_2", "response2", "output_b")}
MODEL_KEYS = {1: ("model_a", "model_1"), 2: ("model_b", "model_2")}
REFERENCE_KEYS = ("gpt4_ref_output", "reference", "gpt-4-turbo_reference", "reference_answer")
GROUP_KEYS = ("scenario_group", "group")
SCENARIO_KEYS = ("scenario_auto-j", "scenario")
ID_KEYS = ("id", "question_id", "pair_id")
_GROUPS = {g.lower(): g for g in SCENARIO_GROUPS}

TIE, BOTH_BAD, MULTI_TURN = "tie", "both bad", "multi-turn"


class InputError(ValueError):
    """The file cannot be read at all (one line for the user)."""


@dataclass
class RawPair:
    position: int                   # 0-based row in the input file
    query: str
    response_1: str
    response_2: str
    model_1: str | None = None
    model_2: str | None = None
    human: int | None = None        # 1 or 2 when the row says which one people preferred
    reference: str | None = None
    scenario_group: str | None = None
    scenario_auto_j: str | None = None
    source_id: Any = None


@dataclass
class InputReport:
    path: Path
    rows: int = 0
    pairs: list[RawPair] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row, reason)

    @property
    def skipped_counts(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason in self.skipped))


class _Skip(Exception):
    pass


# ------------------------------------------------------------------ file formats

CSV_FIELD_LIMIT = 64 * 2**20   # characters in one CSV field (Python's default is 131,072)


def iter_rows(path: Path) -> Iterator[Any]:
    """Rows of a JSONL, JSON or CSV file. Encoding, JSON and CSV problems end in one InputError
    line naming the file and line (sources.py decodes: UTF-8 with or without BOM, UTF-16, and
    decompresses .gz, .bz2, .xz and .zst files as they are read)."""
    suffix = compressed.data_suffix(path)
    try:
        if suffix == ".csv":
            yield from _csv_rows(path)
        elif suffix == ".jsonl":
            yield from (value for _, value in sources.json_lines(path))
        elif suffix == ".json":
            text = sources.read_text(path)
            try:
                data = sources.loads(text, path)
            except sources.SourceError:
                if not (text.lstrip().startswith("{") and "\n" in text.strip()):
                    raise
                # Often JSON lines under a .json name.
                yield from (sources.loads(line, path, n) for n, line in enumerate(text.split("\n"), 1)
                            if line.strip())
                return
            if isinstance(data, dict):
                data = next((v for k, v in data.items() if k in ("data", "rows", "records", "pairs")
                             and isinstance(v, list)), None)
            if not isinstance(data, list):
                raise InputError(f"{path}: expected a JSON list of rows")
            yield from data
        else:
            raise InputError(f"{path}: unknown file type '{suffix}' (use .jsonl, .json or .csv, "
                             "compressed or not as .gz, .bz2, .xz or .zst)")
    except sources.SourceError as exc:
        raise InputError(str(exc)) from None


def _csv_rows(path: Path) -> Iterator[dict]:
    previous = csv.field_size_limit()
    csv.field_size_limit(CSV_FIELD_LIMIT)
    try:
        reader = csv.DictReader(line for _, line in sources.text_lines(path, keepends=True))
        try:
            yield from reader
        except csv.Error as exc:
            raise InputError(f"{path}: line {reader.line_num} is not valid CSV ({exc})") from None
    finally:
        csv.field_size_limit(previous)


# ------------------------------------------------------------------ one row

def _first(row: dict, keys: tuple[str, ...]) -> Any:
    """The first of the keys with a value; an empty string only when no key has more."""
    empty = None
    for k in keys:
        v = row.get(k)
        if isinstance(v, str) and not v.strip():
            empty = v
        elif v is not None:
            return v
    return empty


def _single_text(value: Any, what: str) -> str:
    """A text, or a one-element list of texts (Arena exports keep turns in lists)."""
    if isinstance(value, str) and value.lstrip().startswith("[") and value.rstrip().endswith("]"):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # not JSON, too deep, or a number too long: keep the text
            pass
    if isinstance(value, dict) and "content" in value:  # released-format response objects
        value = value["content"]
    if isinstance(value, list):
        texts = [v for v in value if v is not None]
        if len(texts) != 1:
            raise _Skip(MULTI_TURN if len(texts) > 1 else f"no {what}")
        value = texts[0]
    if value is None:
        raise _Skip(f"no {what}")
    if not isinstance(value, (str, int, float)):
        raise _Skip(f"{what} is not text")
    return str(value)


def _conversation(turns: Any, which: str) -> tuple[str, str]:
    if isinstance(turns, str):
        try:
            turns = json.loads(turns)
        except (ValueError, RecursionError):
            raise _Skip(f"conversation_{which} is not a list of messages") from None
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        raise _Skip(f"conversation_{which} is not a list of messages")
    users = [t for t in turns if t.get("role") == "user"]
    bots = [t for t in turns if t.get("role") == "assistant"]
    if len(users) > 1 or len(bots) > 1:
        raise _Skip(MULTI_TURN)
    if not users or not bots:
        raise _Skip(f"conversation_{which} lacks a user or an assistant turn")
    return str(users[0].get("content") or ""), str(bots[0].get("content") or "")


def _human(row: dict) -> int | None:
    winner = row.get("winner")
    if winner is None and any(k in row for k in ("winner_model_a", "winner_model_b", "winner_tie")):
        flags = {k: str(row.get(k, "0")).strip() in ("1", "1.0", "True", "true") for k in
                 ("winner_model_a", "winner_model_b", "winner_tie")}
        winner = "model_a" if flags["winner_model_a"] else "model_b" if flags["winner_model_b"] else "tie"
    if winner is None or (isinstance(winner, str) and not winner.strip()):
        return None
    w = str(winner).strip().lower().replace("_", " ")
    if w in ("model a", "a", "response 1", "1"):
        return 1
    if w in ("model b", "b", "response 2", "2"):
        return 2
    if "both" in w or "bad" in w:
        raise _Skip(BOTH_BAD)
    if "tie" in w:
        raise _Skip(TIE)
    raise _Skip(f"unknown winner {winner!r}")


def _text_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def parse_row(row: Any, position: int) -> RawPair:
    if not isinstance(row, dict):
        raise _Skip("not an object")
    if "conversation_a" in row or "conversation_b" in row:
        query, r1 = _conversation(row.get("conversation_a"), "a")
        query_b, r2 = _conversation(row.get("conversation_b"), "b")
        if query.strip() != query_b.strip():
            raise _Skip("the two conversations start with different queries")
        if row.get("turn") not in (None, "", 1, "1"):
            raise _Skip(MULTI_TURN)
    else:
        query = _single_text(_first(row, QUERY_KEYS), "query")
        r1 = _single_text(_first(row, RESPONSE_KEYS[1]), "response_a")
        r2 = _single_text(_first(row, RESPONSE_KEYS[2]), "response_b")
    if not query.strip():
        raise _Skip("empty query")
    human = _human(row)
    group = _text_or_none(_first(row, GROUP_KEYS))
    models = {}
    for n in (1, 2):
        m = _first(row, MODEL_KEYS[n])
        resp = row.get(f"response_{n}")
        if m is None and isinstance(resp, dict):
            m = resp.get("model")
        models[n] = _text_or_none(m)
    source_id = _first(row, ID_KEYS)
    if source_id is not None and not isinstance(source_id, (str, int, float)) or isinstance(source_id, bool):
        raise _Skip("id is not a number or text")
    pair = RawPair(position=position, query=query, response_1=r1, response_2=r2, model_1=models[1],
                   model_2=models[2], human=human, reference=_text_or_none(_first(row, REFERENCE_KEYS)),
                   scenario_group=_GROUPS.get(group.lower(), group) if group else None,
                   scenario_auto_j=_text_or_none(_first(row, SCENARIO_KEYS)), source_id=source_id)
    for name in ("query", "response_1", "response_2", "model_1", "model_2", "reference", "scenario_group",
                 "scenario_auto_j"):
        value = getattr(pair, name)
        if isinstance(value, str) and not sources.encodes(value):  # a lone surrogate from an embedded \\u escape
            raise _Skip(f"{name} holds a lone surrogate (not valid Unicode)")
    return pair


def read_pairs(path: str | Path) -> InputReport:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{names.shown_path(path)}: no such file")
    try:  # the file's name becomes the source name 'annotated:<name>': checked before any paid call
        names.check_name(path.name, "source name")
    except names.NameRefused as exc:
        raise InputError(f"{names.shown_path(path)}: the file name can't be a source name: {exc}; "
                         "rename the file") from None
    report = InputReport(path)
    for position, row in enumerate(iter_rows(path)):
        report.rows += 1
        try:
            report.pairs.append(parse_row(row, position))
        except _Skip as why:
            report.skipped.append((position, str(why)))
    return report
