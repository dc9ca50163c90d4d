"""Reading one released-format record (SPEC section 2) into a checked, typed pair.

Real files vary: numbers come as strings, lists may be empty or null, a query-specific
entry may be a bare score or a list of "description | value" strings. Everything here
accepts those variants and refuses anything else with a `RecordError` that names the
record and the field.
"""

from __future__ import annotations

import math
from operator import itemgetter
from typing import Any

from ..properties.annotations import QUERY_SPECIFIC_KEYS, SEVERITIES, Pair, QSItem, Response
from ..properties.paper import BASIC

class RecordError(ValueError):
    """A record that breaks the format: says which record and which field."""

    def __init__(self, where: str, field_name: str, problem: str):
        self.where, self.field, self.problem = where, field_name, problem
        super().__init__(f"{where}, field '{field_name}': {problem}")


# ---------------------------------------------------------------- small parsers

def _where(position: int, source_id: str | None) -> str:
    if source_id is not None and len(source_id) > 40:
        source_id = source_id[:37] + "..."
    return f"record {position}" + (f" (id {source_id})" if source_id is not None else "")


MAX_COUNT = 2**31 - 1   # word counts and ids are stored as INTEGER
_BASIC_KEYS = [p.source_key for p in BASIC]
_BASIC_VALUES = itemgetter(*_BASIC_KEYS)
_NUMBER_TYPES = {int, float}  # not bool: a rating of true is refused
_SEVERITY_SET = frozenset(SEVERITIES)


def shown(value: Any) -> str:
    """A value for a message: short, one line (a 5,000-digit number would not be)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 200:
        return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_number(value: Any, where: str, name: str) -> float | None:
    """A finite number, a numeric string ("2", " 2.0 "), or None for missing/null/empty/NaN."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RecordError(where, name, f"expected a number, got {shown(value)}")
    number = None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            raise RecordError(where, name, f"{shown(value)} is too large to store") from None
    elif isinstance(value, str) and len(value) <= 100:
        try:
            number = float(value.strip())
        except ValueError:
            pass
    if number is None:
        raise RecordError(where, name, f"expected a number, got {shown(value)}")
    if math.isnan(number):
        return None   # NaN is how parquet and pandas write a missing value
    if math.isinf(number):
        raise RecordError(where, name, f"expected a finite number, got {shown(value)} (too large to store)")
    return number


def parse_count(value: Any, where: str, name: str) -> int | None:
    """A whole number from 0 to MAX_COUNT (a word count), or None when missing."""
    number = parse_number(value, where, name)
    if number is None:
        return None
    if number < 0 or number > MAX_COUNT or number != int(number):
        raise RecordError(where, name, f"expected a whole number from 0 to {MAX_COUNT:,}, got {shown(value)}")
    return int(number)


def parse_yes_no(value: Any, where: str, name: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("yes", "true", "y"):
            return True
        if v in ("no", "false", "n"):
            return False
        if not v:
            return None
    raise RecordError(where, name, f"expected Yes or No, got {shown(value)}")


def parse_text_list(value: Any, where: str, name: str) -> list[str]:
    """A list of strings; null or '' is empty; a lone string is a one-item list."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):  # numpy arrays from parquet
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        out = []
        for i, item in enumerate(value):
            if item is None:
                continue
            if not isinstance(item, (str, int, float)):
                raise RecordError(where, f"{name}[{i}]", f"expected text, got {type(item).__name__}")
            out.append(str(item))
        return out
    raise RecordError(where, name, f"expected a list, got {type(value).__name__}")


def _mapping(value: Any, where: str, name: str, required: bool = True) -> dict | None:
    if value is None:
        if required:
            raise RecordError(where, name, "missing")
        return None
    if not isinstance(value, dict):
        raise RecordError(where, name, f"expected an object, got {type(value).__name__}")
    return value


def _text(value: Any, where: str, name: str, required: bool = True) -> str | None:
    if value is None:
        if required:
            raise RecordError(where, name, "missing")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise RecordError(where, name, f"expected text, got {type(value).__name__}")
    return value


# ---------------------------------------------------------------- parts of a record

def parse_qs_value(value: Any, scale: dict[str, float] | None, where: str, name: str) -> list[QSItem]:
    """One query-specific entry: a bare score/label, or a list of 'description | value'."""
    if value is None or value == "" or value == []:
        return []
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple, str)):
        value = value.tolist()
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for i, item in enumerate(items):
        if item is None:
            continue
        if isinstance(item, dict) or isinstance(item, (list, tuple)):
            raise RecordError(where, f"{name}[{i}]", f"expected 'description | value' or a score, got {type(item).__name__}")
        desc, raw = None, item
        if isinstance(item, str) and "|" in item:
            desc, raw = item.rsplit("|", 1)  # the description may contain '|' itself
            desc, raw = desc.strip(), raw.strip()
        score = _qs_score(raw, scale)
        if not math.isfinite(score):
            raise RecordError(where, f"{name}[{i}]", f"expected a finite score, got {shown(raw)}")
        out.append(QSItem(desc, None if raw is None else str(raw).strip(), score))
    return out


def _qs_score(raw: Any, scale: dict[str, float] | None) -> float:
    """A label on its scale; unknown labels count 0 (SPEC 4c)."""
    if isinstance(raw, bool):
        return 0.0
    if isinstance(raw, (int, float)):
        try:
            return 0.0 if isinstance(raw, float) and math.isnan(raw) else float(raw)
        except OverflowError:
            return math.inf   # refused by the caller, with the field's name
    text = str(raw).strip()
    if scale is not None and text.lower() in scale:
        return scale[text.lower()]
    try:
        return float(text)
    except ValueError:
        return 0.0


_APPLICABLE = {"applicable": True, "not applicable": False}  # the flag as the release writes it


def _applicable(flag: Any, where: str, name: str) -> bool:
    if isinstance(flag, bool):
        return flag
    if isinstance(flag, str) and flag.strip().lower() in ("applicable", "yes", "true"):
        return True
    if isinstance(flag, str) and flag.strip().lower() in ("not applicable", "no", "false", "n/a"):
        return False
    raise RecordError(where, f"{name}.applicable or not", f"expected 'applicable' or 'not applicable', got {shown(flag)}")


def parse_errors(value: Any, where: str, name: str) -> tuple[bool, list[dict[str, str | None]]]:
    """(applicable, errors). A missing check counts as not applicable."""
    obj = _mapping(value, where, name, required=False)
    if obj is None:
        return False, []
    flag = obj.get("applicable or not", "applicable")
    applicable = _APPLICABLE.get(flag) if type(flag) is str else None
    if applicable is None:
        applicable = _applicable(flag, where, name)
    raw = obj.get("errors")
    if type(raw) is not list:  # a list is the common case
        if raw is None:
            raw = []
        if hasattr(raw, "tolist") and not isinstance(raw, list):
            raw = raw.tolist()
        if not isinstance(raw, (list, tuple)):
            raise RecordError(where, f"{name}.errors", f"expected a list, got {type(raw).__name__}")
    errors = []
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            raise RecordError(where, f"{name}.errors[{i}]", f"expected an object, got {type(e).__name__}")
        sev = e.get("severity")
        if not (type(sev) is str and sev in _SEVERITY_SET):  # else written as the release writes it
            sev = sev.strip().lower() if isinstance(sev, str) else None
            if sev is not None and sev not in SEVERITIES:
                raise RecordError(where, f"{name}.errors[{i}].severity",
                                  f"expected severe, moderate or minor, got {shown(e.get('severity'))}")
        etype, desc = e.get("type"), e.get("brief description", e.get("description"))
        if type(etype) is not str:  # text is the common case: the field name is built only when needed
            etype = _text(etype, where, f"{name}.errors[{i}].type", False)
        if type(desc) is not str:
            desc = _text(desc, where, f"{name}.errors[{i}].brief description", False)
        errors.append({"severity": sev, "type": etype, "description": desc})
    return applicable, errors


def _plain_ratings(basic: dict) -> dict[str, float] | None:
    """The basic ratings when every one is a plain finite number (the common case, checked in a
    few calls over all 20), else None: `parse_number` reads each, and names what it refuses.
    Whole numbers stay ints (a number, as the rules read it; the ratings table stores floats)."""
    try:
        values = _BASIC_VALUES(basic)
    except KeyError:  # a rating missing: None, from parse_number
        return None
    if not set(map(type, values)) <= _NUMBER_TYPES:
        return None
    try:  # fsum converts each to float (an int too large for one raises) and gives NaN or inf as they are
        total = math.fsum(values)
    except (OverflowError, ValueError):  # ... or a sum past the largest float, or inf - inf: read one by one
        return None
    if not math.isfinite(total):
        return None
    return dict(zip(_BASIC_KEYS, values))


class _Fields:
    """A response's field names, built once: they name the field in a message, and most records
    never need one."""

    def __init__(self, n: int):
        self.response, self.basic = f"response_{n}", f"basic_response_{n}"
        self.errors, self.qs = f"errors_response_{n}", f"query-specific_response_{n}"
        self.content, self.num_words, self.model = (f"response_{n}.{k}" for k in ("content", "num_words", "model"))


_FIELDS = {1: _Fields(1), 2: _Fields(2)}


def parse_response(rec: dict, n: int, where: str) -> Response:
    f = _FIELDS[n]
    resp = rec.get(f.response)
    if isinstance(resp, str):  # a flat variant: the content alone
        resp = {"content": resp}
    resp = _mapping(resp, where, f.response)
    content = resp.get("content")
    if type(content) is not str:
        content = _text(content, where, f.content)
    num_words = resp.get("num_words")
    if not (type(num_words) is int and 0 <= num_words <= MAX_COUNT):  # else a plain count, as it is
        num_words = parse_count(num_words, where, f.num_words)
    basic = _mapping(rec.get(f.basic), where, f.basic, required=False) or {}
    ratings = _plain_ratings(basic)
    if ratings is None:
        ratings = {key: parse_number(basic.get(key), where, f"{f.basic}.{key}") for key in _BASIC_KEYS}
    applicable, errors = parse_errors(rec.get(f.errors), where, f.errors)
    qs_raw = _mapping(rec.get(f.qs), where, f.qs, required=False) or {}
    qs = {}
    for key, (short, scale) in QUERY_SPECIFIC_KEYS.items():
        value = qs_raw.get(key)
        empty = value is None or (type(value) is list and not value)  # most entries: skip the call
        qs[short] = [] if empty else parse_qs_value(value, scale, where, f"{f.qs}.{key}")
    model = resp.get("model")
    if type(model) is not str:
        model = _text(model, where, f.model, False)
    return Response(content=content, model=model, num_words=num_words, ratings=ratings,
                    applicable=applicable, errors=errors, query_specific=qs)


CHOICES = dict.fromkeys(("response_1", "1", "a", "model_a"), 1) | dict.fromkeys(("response_2", "2", "b", "model_b"), 2)


def parse_labels(value: Any, where: str) -> dict[str, int]:
    obj = _mapping(value, where, "preference_labels", required=False) or {}
    labels = {}
    for judge, choice in obj.items():
        if choice is None:
            continue  # this judge did not label the pair
        c = CHOICES.get(choice) if type(choice) is str else None  # 50 judges x 100,000 pairs: exact first
        if c is None:
            c = CHOICES.get(str(choice).strip().lower())
        if c is None:
            raise RecordError(where, f"preference_labels.{judge}", f"expected response_1 or response_2, got {shown(choice)}")
        labels[str(judge)] = c
    return labels


def parse_record(rec: Any, position: int, labels: bool = True) -> Pair:
    """Check and type one released-format record found at `position` (0-based) in its source.
    `labels=False` leaves its votes out (`Pair.labels` empty): the loader checks a chunk's votes
    together (`release_labels`)."""
    if not isinstance(rec, dict):
        raise RecordError(f"record {position}", "(record)", f"expected a JSON object, got {type(rec).__name__}")
    raw_id = rec.get("id", rec.get("pair_id"))
    source_id = None if raw_id is None else str(raw_id)
    where = _where(position, source_id)
    query = _text(rec.get("query"), where, "query")
    return Pair(
        position=position, source_id=source_id, query=query,
        scenario_auto_j=_text(rec.get("scenario_auto-j"), where, "scenario_auto-j", False),
        scenario_group=_text(rec.get("scenario_group"), where, "scenario_group", False),
        reference=_text(rec.get("gpt-4-turbo_reference"), where, "gpt-4-turbo_reference", False),
        clear_intent=parse_yes_no(rec.get("clear intent"), where, "clear intent"),
        express_feelings=parse_yes_no(rec.get("explicitly express feelings"), where, "explicitly express feelings"),
        constraints=parse_text_list(rec.get("explicit constraints"), where, "explicit constraints"),
        stances=parse_text_list(rec.get("explicit subjective stances"), where, "explicit subjective stances"),
        mistakes=parse_text_list(rec.get("explicit mistakes or biases"), where, "explicit mistakes or biases"),
        labels=parse_labels(rec.get("preference_labels"), where) if labels else {},
        r1=parse_response(rec, 1, where),
        r2=parse_response(rec, 2, where),
    )
