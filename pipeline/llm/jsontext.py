"""Getting the JSON out of an LLM's answer, forgiving the usual wrapping.

Even in JSON mode, servers and models wrap answers in code fences, add a sentence before
or after, leave trailing commas, or (rarely) write Python literals. Anything else is an
InvalidAnswer that says what the text looked like.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from .errors import InvalidAnswer

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _span(text: str) -> str | None:
    """From the first opening brace or bracket to the last matching closer."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return None
    start = min(starts)
    end = text.rfind("}" if text[start] == "{" else "]")
    return text[start:end + 1] if end > start else None


def _attempts(text: str):
    yield text
    for block in _FENCE.findall(text):
        yield block
    span = _span(text)
    if span:
        yield span
        yield _TRAILING_COMMA.sub(r"\1", span)


def extract_json(text: str) -> Any:
    """The JSON value in `text`, or InvalidAnswer."""
    if not text or not text.strip():
        raise InvalidAnswer("empty answer")
    for candidate in _attempts(text.strip()):
        try:
            return json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
    span = _span(text)
    if span:  # Python-style dicts: {'a': 1, 'b': True}
        try:
            value = ast.literal_eval(span)
            if isinstance(value, (dict, list)):
                return value
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            pass
    preview = " ".join(text.split())[:60]
    raise InvalidAnswer(f"not valid JSON (starts with {preview!r})")


def extract_object(text: str) -> dict[str, Any]:
    value = extract_json(text)
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    if not isinstance(value, dict):
        raise InvalidAnswer(f"expected a JSON object, got a {type(value).__name__}")
    return value
