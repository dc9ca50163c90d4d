"""Reading values the way LLMs write them: "2", 2.0, "2/3", "Yes.", keys in any case.

Each helper returns the clean value or raises InvalidAnswer naming the field, so a
step's validator stays a short list of what it needs.
"""

from __future__ import annotations

import re
from typing import Any

from ..llm.errors import InvalidAnswer

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class MissingField(InvalidAnswer):
    """The answer lacks a field (a validator may collect these before it gives up)."""


def norm(key: Any) -> str:
    """A key reduced to letters and digits: 'Clear_Intent ' == 'clear intent'."""
    return re.sub(r"[^a-z0-9]", "", str(key).lower())


def get(obj: dict, *names: str, field: str) -> Any:
    """The value under any of the names (compared loosely); InvalidAnswer when absent."""
    wanted = {norm(n) for n in names}
    for key, value in obj.items():
        if norm(key) in wanted:
            return value
    raise MissingField(f"missing field '{field}'")


def get_optional(obj: dict, *names: str) -> Any:
    wanted = {norm(n) for n in names}
    return next((v for k, v in obj.items() if norm(k) in wanted), None)


def score(value: Any, field: str, lo: int = 0, hi: int = 3) -> int:
    """A whole score in lo..hi from a number or text like '2', '2/3', 'Score: 2'."""
    if isinstance(value, bool):
        raise InvalidAnswer(f"'{field}': expected a score {lo}-{hi}, got {value!r}")
    if isinstance(value, dict):  # {"score": 2, "reason": ...}
        value = get_optional(value, "score", "rating", "value")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and (m := _NUMBER.search(value)):
        number = float(m.group())
    else:
        raise InvalidAnswer(f"'{field}': expected a score {lo}-{hi}, got {value!r}")
    if not lo <= number <= hi:
        raise InvalidAnswer(f"'{field}': score {number:g} is outside {lo}-{hi}")
    return int(round(number))


def yes_no(value: Any, field: str) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    text = str(value).strip().lower().rstrip(".!") if value is not None else ""
    if text in ("yes", "y", "true", "1"):
        return "Yes"
    if text in ("no", "n", "false", "0"):
        return "No"
    raise InvalidAnswer(f"'{field}': expected Yes or No, got {value!r}")


def text_list(value: Any, field: str) -> list[str]:
    """A list of short texts; null / '' / 'none' is empty, a lone text is one item."""
    if value is None:
        return []
    if isinstance(value, str):
        return [] if value.strip().lower() in ("", "none", "n/a", "[]") else [value.strip()]
    if isinstance(value, dict):  # {"1": "...", "2": "..."}
        value = list(value.values())
    if not isinstance(value, list):
        raise InvalidAnswer(f"'{field}': expected a list, got {type(value).__name__}")
    out = []
    for item in value:
        if isinstance(item, dict):
            item = next(iter(item.values()), None) if len(item) == 1 else \
                get_optional(item, "description", "text", "item", "content")
        if item is not None and str(item).strip():
            out.append(str(item).strip())
    return out


def label(value: Any, choices: tuple[str, ...], field: str) -> str:
    """One of the choices, matched loosely ('strongly supported.' -> 'Strongly supported')."""
    if isinstance(value, dict):
        value = get_optional(value, "label", "value", "rating", "score")
    text = norm(value)
    for choice in choices:
        if norm(choice) == text:
            return choice
    near = [c for c in choices if text and (norm(c).startswith(text) or text.startswith(norm(c)))]
    if len(near) == 1:  # 'Neither' for 'Neither pointed out nor corrected', but not an ambiguous prefix
        return near[0]
    raise InvalidAnswer(f"'{field}': expected one of {', '.join(choices)}, got {value!r}")
