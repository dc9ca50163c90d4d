"""Asking about custom properties: the request for one pair, and reading its answer back.

Several properties share one call (up to the template's `max_properties`, in the file's
order). Which response is shown as A is decided by a hash of the pair (as the paper's
protocol does); `parse_answer` returns what the model said about A and B as shown, and
`unswap` maps that back to response 1 and 2, so pairs that share a request share its answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from ...llm import LLMRequest, LLMSettings, extract_object, load_template
from ...llm.errors import InvalidAnswer
from ...llm.pairs import PairText  # its `swapped`: the hash-decided A/B order every LLM job uses
from .definition import CustomProperty

TEMPLATE = "custom_properties"
JOB = "custom-properties"
STEP = "custom-properties"
_SAME = {"same", "equal", "tie", "neither", "both", "none"}


def chunks(props: tuple[CustomProperty, ...] | list[CustomProperty]) -> list[tuple[CustomProperty, ...]]:
    """The properties asked together, in the file's order."""
    size = load_template(TEMPLATE).int_meta("max_properties", 10)
    props = tuple(props)
    return [props[i:i + size] for i in range(0, len(props), size)]


def _questions(props: tuple[CustomProperty, ...]) -> tuple[str, str]:
    tpl = load_template(TEMPLATE)
    lines, shape = [], {}
    for p in props:
        desc = tpl.render("description", description=p.description) if p.description else ""
        lines.append(tpl.render(f"item.{p.scale}", name=p.name, question=p.question, description=desc))
        shape[p.name] = "A | B | same" if p.scale == "compare" else {"A": "<0-3>", "B": "<0-3>"}
    return "\n".join(lines), json.dumps(shape, ensure_ascii=False)


def build_request(pair: PairText, props: tuple[CustomProperty, ...], settings: LLMSettings) -> LLMRequest:
    tpl = load_template(TEMPLATE)
    questions, shape = _questions(props)
    max_tokens = tpl.int_meta("max_tokens", 64) + tpl.int_meta("max_tokens_per_property", 24) * len(props)
    return LLMRequest(job=JOB, step=STEP, item_key=pair.pair_key, model=settings.model,
                      messages=tpl.messages(query=pair.query, questions=questions, shape=shape, **pair.shown()),
                      prompt_version=tpl.version, json_mode=True, max_tokens=max_tokens,
                      temperature=settings.temperature, seed=settings.seed)


def expected_output_tokens(n_properties: int) -> int:
    tpl = load_template(TEMPLATE)
    return tpl.int_meta("expected_output_tokens", 8) + tpl.int_meta("expected_output_tokens_per_property", 12) \
        * n_properties


# ------------------------------------------------------------------ reading the answer

def _find(answer: dict[str, Any], name: str) -> Any:
    if name in answer:
        return answer[name]
    folded = {str(k).strip().casefold(): v for k, v in answer.items()}
    if name.casefold() in folded:
        return folded[name.casefold()]
    raise InvalidAnswer(f"no answer for property {name!r}")


def _letter(value: Any, name: str) -> str:
    """'A', 'B' or 'same' from a compare answer."""
    if isinstance(value, dict):  # {"answer": "A"} and the like
        value = next(iter(value.values()), None) if len(value) == 1 else value
    text = str(value).strip().strip("*_`'\".()[] ").strip() if isinstance(value, str) else None
    if text is not None:
        word = text.split()[-1].strip(".:,").casefold() if text.split() else ""
        for candidate in (text.casefold(), word):
            if candidate in ("a", "response a"):
                return "A"
            if candidate in ("b", "response b"):
                return "B"
            if candidate in _SAME:
                return "same"
    preview = " ".join(str(value).split())[:40]
    raise InvalidAnswer(f"property {name!r}: expected \"A\", \"B\" or \"same\", got {preview!r}")


def _score(value: Any, name: str, side: str) -> int:
    if isinstance(value, bool):
        raise InvalidAnswer(f"property {name!r}: rating of {side} is not a number ({value!r})")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidAnswer(f"property {name!r}: rating of {side} is not a number ({value!r})") from None
    if number != int(number) or not 0 <= number <= 3:
        raise InvalidAnswer(f"property {name!r}: rating of {side} must be a whole number 0..3, got {value!r}")
    return int(number)


def _pair_of_scores(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, dict):
        keys = {str(k).strip().casefold().removeprefix("response").strip(" _"): v for k, v in value.items()}
        if "a" in keys and "b" in keys:
            return _score(keys["a"], name, "A"), _score(keys["b"], name, "B")
    if isinstance(value, list) and len(value) == 2:
        return _score(value[0], name, "A"), _score(value[1], name, "B")
    raise InvalidAnswer(f"property {name!r}: expected {{\"A\": 0-3, \"B\": 0-3}}, got {json.dumps(value)[:40]}")


def parse_answer(text: str, props: tuple[CustomProperty, ...]) -> dict[str, Any]:
    """Property -> 'A' / 'B' / 'same' (compare) or (score of A, score of B) (rating), as shown."""
    answer = extract_object(text)
    out: dict[str, Any] = {}
    for p in props:
        value = _find(answer, p.name)
        out[p.name] = _letter(value, p.name) if p.scale == "compare" else _pair_of_scores(value, p.name)
    return out


def validator(props: tuple[CustomProperty, ...]) -> Callable[[str], dict[str, Any]]:
    return lambda text: parse_answer(text, props)


# ------------------------------------------------------------------ response 1 and 2

@dataclass(frozen=True)
class Rated:
    """One pair's result for one property, about response 1 and 2 (the swap undone)."""
    pair_id: int
    property: str
    scale: str
    value: int                       # the feature: +1 response 1 has more, -1 response 2, 0 neither
    score_1: int | None = None       # ratings (scale 'rating')
    score_2: int | None = None


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def unswap(pair: PairText, props: tuple[CustomProperty, ...], parsed: dict[str, Any]) -> list[Rated]:
    out = []
    for p in props:
        shown = parsed[p.name]
        if p.scale == "compare":
            if shown == "same":
                value = 0
            else:
                more_is_1 = (shown == "A") != pair.swapped
                value = 1 if more_is_1 else -1
            out.append(Rated(pair.pair_id, p.name, p.scale, value))
        else:
            a, b = shown
            s1, s2 = (b, a) if pair.swapped else (a, b)
            out.append(Rated(pair.pair_id, p.name, p.scale, _sign(s1 - s2), s1, s2))
    return out
