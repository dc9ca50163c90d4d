"""What every format reader produces: raw labelled pairs, the votes on them, and why rows are left out.

A reader turns rows of one file into `RawPair`s (query, two responses, their models, the votes,
the number of turns, attributes) or `Skip`s (a row left out, with its reason). It checks each
row and raises `RowError` (the row and the field) for one that breaks its format.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Union

from ..records import RecordError, shown
from ..sources import SourceError

# Reasons a row or a vote is left out; counted and reported.
TIE, BOTH_BAD, NO_VOTE = "tie", "both bad", "no vote"
MULTI_TURN, EMPTY = "multi-turn", "empty response"
EMPTY_KEY = "an attribute with an empty name"
EXAMPLES_KEPT = 5  # row numbers shown per skip reason
# Votes on a stored battle that are not labels (one label per judge and battle)
CONFLICT = "conflicting vote (the same judge voted the other way on the same battle; the first vote is kept)"
OTHER_RATER = "another rater's vote on a battle this judge already has (one label per judge and battle)"
_SURROGATE = re.compile("[\ud800-\udfff]")


class RowError(RecordError):
    """A row that breaks its format: names the file's row and the field. The problem is cut to a
    few hundred characters, so a huge value quoted in it still makes one short line."""

    MAX_PROBLEM = 300

    def __init__(self, where: str, field_name: str, problem: str):
        problem = " ".join(str(problem).split())
        if len(problem) > self.MAX_PROBLEM:
            problem = problem[:self.MAX_PROBLEM - 3] + "..."
        super().__init__(where, field_name, problem)


class NoFormat(SourceError):
    """A file in none of the formats: says which were tried and why each failed."""


@dataclass(frozen=True)
class Options:
    """How to read raw pairs. `judge` names the crowd's judge; `columns` maps a role
    (prompt, response_1, response_2, model_1, model_2, winner, rater, id) to a column name."""

    judge: str | None = None     # None: the format's default (`human` for a crowd)
    multi_turn: bool = False
    columns: tuple[tuple[str, str], ...] = ()
    attribute_columns: tuple[str, ...] = ()

    def column(self, role: str) -> str | None:
        return dict(self.columns).get(role)

    def key(self) -> str:
        """What changes the result of a read: part of the source's fingerprint."""
        return json.dumps([self.judge, self.multi_turn, sorted(self.columns), list(self.attribute_columns)])


@dataclass(slots=True)
class Label:
    judge: str
    preferred: int               # 1 or 2
    prob_1: float | None = None  # the judge's probability that response 1 is better, when it gave one
    rater: str | None = None     # the person behind a crowd vote (e.g. Arena's `judge`)


@dataclass(slots=True)
class RawPair:
    position: int                # 0-based row in the source
    query: str
    response_1: str
    response_2: str
    model_1: str | None = None
    model_2: str | None = None
    labels: list[Label] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # reasons for votes on this pair that are not labels
    n_turns: int = 1
    source_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    ties: list[tuple[str, str | None]] = field(default_factory=list)  # (judge, rater) of each tie vote


@dataclass(frozen=True, slots=True)
class Tie:
    """A tie vote, kept for boards that count it as half a win (`ties` table); not a label."""

    judge: str
    rater: str | None
    model_1: str | None
    model_2: str | None
    query: str
    response_1: str
    response_2: str


def not_a_label(pair: RawPair, reason: str, judge: str | None, rater: str | None = None) -> None:
    """A vote that is not a label: its reason is counted; a tie is also kept with its judge."""
    pair.left_out.append(reason)
    if reason == TIE and judge:
        pair.ties.append((judge, rater))


@dataclass(slots=True)
class Skip:
    position: int
    reason: str


Item = Union[RawPair, Skip]


@dataclass
class Skips:
    """Rows and votes left out, by reason, with the first few row numbers of each."""

    rows: Counter = field(default_factory=Counter)
    votes: Counter = field(default_factory=Counter)
    attributes: Counter = field(default_factory=Counter)   # attribute values not stored, by reason
    duplicates: int = 0          # votes equal to one already stored (or earlier in the source)
    examples: dict[str, list[int]] = field(default_factory=dict)
    ties: list[Tie] = field(default_factory=list)

    def row(self, position: int, reason: str) -> None:
        self.rows[reason] += 1
        seen = self.examples.setdefault(reason, [])
        if len(seen) < EXAMPLES_KEPT:
            seen.append(position)

    def lines(self) -> list[str]:
        out = []
        for reason, n in sorted(self.rows.items(), key=lambda kv: -kv[1]):
            rows = ", ".join(map(str, self.examples.get(reason, [])))
            more = ", ..." if n > len(self.examples.get(reason, [])) else ""
            out.append(f"{n} rows left out: {reason} (rows {rows}{more})")
        for reason, n in sorted(self.votes.items(), key=lambda kv: -kv[1]):
            out.append(f"{n} votes left out on stored pairs: {reason}")
        if self.duplicates:
            out.append(f"{self.duplicates} duplicate votes (the same judge's same vote on the same battle, "
                       "already stored or earlier in the file) counted once")
        for reason, n in sorted(self.attributes.items(), key=lambda kv: -kv[1]):
            out.append(f"{n} attribute values left out: {reason}")
        return out

    def total(self) -> int:
        """Votes and rows accounted for without a stored label."""
        return sum(self.rows.values()) + sum(self.votes.values()) + self.duplicates


def settle(items: Iterator[Item], skips: Skips) -> Iterator[RawPair]:
    """Pairs that carry at least one label; everything else is counted in `skips`."""
    for item in items:
        if isinstance(item, RawPair) and item.ties:
            skips.ties.extend(Tie(judge, rater, item.model_1, item.model_2, item.query, item.response_1,
                                  item.response_2) for judge, rater in item.ties)
        if isinstance(item, Skip):
            skips.row(item.position, item.reason)
        elif not item.labels:
            reasons = sorted(set(item.left_out)) or [NO_VOTE]
            skips.row(item.position, reasons[0] if len(reasons) == 1 else "no usable vote: " + ", ".join(reasons))
        else:
            for reason in item.left_out:
                skips.votes[reason] += 1
            for key in [k for k in item.attributes if not k.strip()]:
                # an empty key cannot be a column of a group condition (nor a useful attribute)
                del item.attributes[key]
                skips.attributes[EMPTY_KEY] += 1
            yield item


# ------------------------------------------------------------------ small helpers shared by readers

def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "binary data"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, float):
        return f"the number {value!r}"
    return type(value).__name__


def text(value: Any, where: str = "a row", name: str = "text") -> str:
    """A message's text: a string, or a list of {type, text} parts (text parts joined by a blank line).
    Anything else (binary data, a boolean, an object without 'text', an infinite number) is refused
    with a RowError naming the row and field: taking it as text would store "b'...'" or "" in silence."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        if "text" not in value:
            raise RowError(where, name, "expected text, got an object without 'text'")
        return text(value.get("text"), where, f"{name}.text")
    if isinstance(value, (list, tuple)):
        parts = [text(p, where, f"{name}[{i}]") for i, p in enumerate(value)
                 if not isinstance(p, dict) or p.get("type", "text") == "text"]
        return "\n\n".join(p for p in parts if p)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            raise RowError(where, name, f"expected text, got {_kind(value)}")
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if value.bit_length() < 1000 else _too_long(where, name)
    raise RowError(where, name, f"expected text, got {_kind(value)}")


def _too_long(where: str, name: str) -> str:
    raise RowError(where, name, "a number too long to store")


def clean(s: str) -> str:
    """JSON may carry lone surrogates (half an emoji); the database cannot store them."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", s)


def optional_str(value: Any, where: str = "a row", name: str = "name") -> str | None:
    """A name or id (a model, a rater, an annotator): text or a finite number, None when missing.
    An object, a list, binary data or a boolean is refused: it would be stored as NULL or as a repr."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        s = clean(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 200:
        s = str(value)
    elif isinstance(value, float) and math.isfinite(value):
        s = str(value)
    else:
        raise RowError(where, name, f"expected text or a number, got {_kind(value)}")
    return s if s != "" else None


def hashed_swap(*texts: str) -> bool:
    """True for about half of all pairs, decided by their content: chosen/rejected data put the
    chosen text first, so without this every label would be 1."""
    h = hashlib.sha1()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return bool(h.digest()[0] & 1)


def chosen_rejected(pair: RawPair, chosen: str, rejected: str, models: tuple[str | None, str | None],
                    judge: str, rater: str | None = None, *, tie: bool = False) -> bool:
    """Fill a pair from a chosen and a rejected text, in the hash-decided order; True if swapped
    (response 1 is the rejected text)."""
    swap = hashed_swap(pair.query, chosen, rejected)
    (r1, m1), (r2, m2) = ((rejected, models[1]), (chosen, models[0])) if swap else \
        ((chosen, models[0]), (rejected, models[1]))
    pair.response_1, pair.response_2, pair.model_1, pair.model_2 = r1, r2, m1, m2
    if tie:
        not_a_label(pair, TIE, judge, rater)
    else:
        pair.labels.append(Label(judge, 2 if swap else 1, None, rater))
    return swap


def flatten(prefix: str, value: Any, out: dict[str, str], where: str = "a row") -> None:
    """Nested tags as flat attributes: {'math_v0.1': {'math': True}} -> 'math_v0.1.math' = 'true'.
    An infinite number or binary data is refused (RowError): stored as 'inf' or "b'...'" it would
    read as something it is not."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, float) and math.isinf(value) or isinstance(value, (bytes, bytearray, memoryview)):
        raise RowError(where, prefix or "attributes", f"expected a value, got {_kind(value)}")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 1000:
        raise RowError(where, prefix or "attributes", "a number too long to store")
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else str(k), v, out, where)
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        out[prefix] = json.dumps(list(value), ensure_ascii=False, default=str)
    else:
        out[prefix] = clean(str(value))


def maybe_json(value: Any, where: str, name: str) -> Any:
    """Some releases store lists and structs as JSON text (CSV, or a string column)."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowError(where, name, f"not valid JSON ({exc.msg} at character {exc.pos})") from None
        except RecursionError:
            raise RowError(where, name, "JSON text nested too deeply to read") from None
        except ValueError:  # an integer past Python's 4,300-digit conversion limit
            raise RowError(where, name, "JSON text holding a number too long to read") from None
    return value


# A winner written as a word: Arena's model_a / model_b / tie / tie (bothbad), LMArena's both_bad,
# and the usual spellings of "the first" / "the second" in other files.
WINNERS: dict[str, int | str] = {
    "model_a": 1, "a": 1, "1": 1, "response_1": 1, "response_a": 1, "output_1": 1, "text_a": 1, "first": 1,
    "model_b": 2, "b": 2, "2": 2, "response_2": 2, "response_b": 2, "output_2": 2, "text_b": 2, "second": 2,
    "tie": TIE, "draw": TIE, "equal": TIE, "same": TIE,
    "tie (bothbad)": BOTH_BAD, "tie (both bad)": BOTH_BAD, "both_bad": BOTH_BAD, "both bad": BOTH_BAD,
    "bothbad": BOTH_BAD,
}


def winner(value: Any, where: str, name: str) -> int | str:
    """1 or 2, or the reason the row has no label (tie, both bad, no vote)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_VOTE
    if isinstance(value, bool):
        raise RowError(where, name, f"expected a winner, got {value!r}")
    if isinstance(value, (dict, list, tuple, bytes, bytearray)):
        raise RowError(where, name, f"expected a winner, got {_kind(value)}")
    if isinstance(value, (int, float)) and value in (1, 2):
        return int(value)
    key = str(value).strip().lower()
    if key == "":
        return NO_VOTE
    if key in WINNERS:
        return WINNERS[key]
    raise RowError(where, name, f"unknown winner {shown(value)} (expected model_a, model_b, tie or both_bad)")


__all__ = ["Options", "Label", "RawPair", "Skip", "Skips", "RowError", "NoFormat", "settle", "text", "clean",
           "optional_str", "hashed_swap", "winner", "WINNERS", "chosen_rejected", "flatten", "maybe_json",
           "Tie", "not_a_label",
           "TIE", "BOTH_BAD", "NO_VOTE", "MULTI_TURN", "EMPTY", "EXAMPLES_KEPT", "CONFLICT", "OTHER_RATER"]
