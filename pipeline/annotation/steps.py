"""The annotation protocol (SPEC section 7), one step at a time: what to ask, how to read it.

Each step builds its request from a pair (and what earlier steps found) and parses the
answer into the released record's shapes, raising InvalidAnswer when a field is missing
or unreadable. Steps that show both responses in one call swap them for half of the
pairs (decided by a hash of the pair, as alpaca_eval does) and undo the swap here, so
position bias cancels over a data set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..llm import LLMRequest, LLMSettings, extract_object, load_template
from ..llm.errors import InvalidAnswer
from ..llm.pairs import is_swapped
from ..properties.paper import BASIC, SCENARIO_GROUPS
from . import coerce
from .inputs import RawPair

JOB = "annotate"
REFERENCE, FACTS, FOLLOWUP, AWARE, FREE, ACCURACY = (
    "reference", "query-facts", "query-followup", "query-aware-basic", "query-free-basic", "accuracy")
STEPS = (REFERENCE, FACTS, FOLLOWUP, AWARE, FREE, ACCURACY)
TEMPLATES = {REFERENCE: "annotate_0_reference", FACTS: "annotate_1_query_facts",
             FOLLOWUP: "annotate_2_query_followup", AWARE: "annotate_3_query_aware_basic",
             FREE: "annotate_4_query_free_basic", ACCURACY: "annotate_5_accuracy"}

AWARE_KEYS = ("relevance without considering inaccuracy", "information richness without considering inaccuracy")
FREE_KEYS = tuple(p.source_key for p in BASIC if p.source_key not in AWARE_KEYS)
SHORT_NAME = {p.source_key: p.name for p in BASIC}
STANCE_LABELS = ("Strongly supported", "Weakly supported", "Neutral", "Weakly opposed", "Strongly opposed")
MISTAKE_LABELS = ("Pointed out and corrected", "Pointed out but not corrected",
                  "Corrected without being pointed out", "Neither pointed out nor corrected")
ERROR_TYPES = ("factual error", "information contradiction to the query", "math operation error",
               "code generation error")
SEVERITY_WORDS = {"severe": "severe", "major": "severe", "critical": "severe", "high": "severe",
                  "moderate": "moderate", "medium": "moderate", "minor": "minor", "low": "minor", "trivial": "minor"}
QS_KEYS = {"intent": "clarify user intent", "feelings": "showing empathetic",
           "constraints": "satisfying explicit constraints", "stances": "supporting explicit subjective stances",
           "mistakes": "correcting explicit mistakes or biases"}
_GROUPS = {coerce.norm(g): g for g in SCENARIO_GROUPS}

assert len(FREE_KEYS) == 18


# ------------------------------------------------------------------ the pair as shown

@dataclass
class PairTask:
    pair: RawPair
    key: str                                  # loader.pair_key: links calls to the stored pair
    swapped: bool = field(init=False)

    def __post_init__(self) -> None:
        self.swapped = is_swapped(self.key)

    def shown(self) -> dict[str, str]:
        r1, r2 = self.pair.response_1, self.pair.response_2
        a, b = (r2, r1) if self.swapped else (r1, r2)
        return {"response_a": a, "response_b": b}

    def unswap(self, a: Any, b: Any) -> tuple[Any, Any]:
        """(for response 1, for response 2) from (for A, for B)."""
        return (b, a) if self.swapped else (a, b)


@dataclass
class Facts:
    clear_intent: str                         # 'Yes' / 'No'
    express_feelings: str
    constraints: list[str]
    stances: list[str]
    mistakes: list[str]
    scenario_group: str | None = None

    def present(self) -> list[str]:
        """The follow-up items that apply, in the prompt's order."""
        flags = {"intent": self.clear_intent == "No", "feelings": self.express_feelings == "Yes",
                 "constraints": bool(self.constraints), "stances": bool(self.stances),
                 "mistakes": bool(self.mistakes)}
        return [k for k, on in flags.items() if on]

    def items(self, kind: str) -> list[str]:
        return {"constraints": self.constraints, "stances": self.stances, "mistakes": self.mistakes}.get(kind, [])


# ------------------------------------------------------------------ requests

def make_request(step: str, task: PairTask, settings: LLMSettings, **values: Any) -> LLMRequest:
    tpl = load_template(TEMPLATES[step])
    return LLMRequest(job=JOB, step=step, item_key=task.key, model=settings.model,
                      messages=tpl.messages(**values), prompt_version=tpl.version,
                      json_mode=step != REFERENCE, max_tokens=tpl.int_meta("max_tokens"),
                      temperature=settings.temperature, seed=settings.seed)


def reference_request(task: PairTask, settings: LLMSettings) -> LLMRequest:
    return make_request(REFERENCE, task, settings, query=task.pair.query)


def facts_request(task: PairTask, settings: LLMSettings) -> LLMRequest:
    return make_request(FACTS, task, settings, query=task.pair.query)


def aware_request(task: PairTask, settings: LLMSettings) -> LLMRequest:
    return make_request(AWARE, task, settings, query=task.pair.query, **task.shown())


def free_request(task: PairTask, settings: LLMSettings) -> LLMRequest:
    return make_request(FREE, task, settings, **task.shown())


def accuracy_request(task: PairTask, settings: LLMSettings, reference: str) -> LLMRequest:
    return make_request(ACCURACY, task, settings, query=task.pair.query, reference=reference, **task.shown())


def followup_request(task: PairTask, settings: LLMSettings, facts: Facts) -> LLMRequest | None:
    """None when the query has none of the facts the follow-up rates."""
    kinds = facts.present()
    if not kinds:
        return None
    tpl = load_template(TEMPLATES[FOLLOWUP])
    parts = []
    for kind in kinds:
        listed = "\n".join(f"  {i}. {text}" for i, text in enumerate(facts.items(kind), 1))
        parts.append(tpl.render(f"item.{kind}", items=listed).rstrip())
    return make_request(FOLLOWUP, task, settings, query=task.pair.query, instructions="\n".join(parts),
                        shape=_followup_shape(kinds, facts), **task.shown())


def _followup_shape(kinds: list[str], facts: Facts) -> str:
    fields = []
    for kind in kinds:
        key = QS_KEYS[kind]
        if kind in ("intent", "feelings"):
            fields.append(f'"{key}": <0-3>')
        else:
            what = "score 0-3" if kind == "constraints" else "label"
            entries = ", ".join(json.dumps(f"{text} | <{what}>", ensure_ascii=False) for text in facts.items(kind))
            fields.append(f'"{key}": [{entries}]')
    one = "{" + ", ".join(fields) + "}"
    return '{"response_a": ' + one + ', "response_b": ' + one + "}"


# ------------------------------------------------------------------ reading answers

def parse_reference(text: str) -> str:
    if not text or not text.strip():
        raise InvalidAnswer("empty reference answer")
    return text.strip()


def parse_facts(text: str) -> Facts:
    obj = extract_object(text)
    group = coerce.get_optional(obj, "scenario_group", "scenario group", "category", "scenario")
    return Facts(
        clear_intent=coerce.yes_no(coerce.get(obj, "clear intent", field="clear intent"), "clear intent"),
        express_feelings=coerce.yes_no(coerce.get(obj, "explicitly express feelings", "express feelings",
                                                  field="explicitly express feelings"), "explicitly express feelings"),
        constraints=coerce.text_list(coerce.get(obj, "explicit constraints", "constraints",
                                                field="explicit constraints"), "explicit constraints"),
        stances=coerce.text_list(coerce.get(obj, "explicit subjective stances", "subjective stances", "stances",
                                            field="explicit subjective stances"), "explicit subjective stances"),
        mistakes=coerce.text_list(coerce.get(obj, "explicit mistakes or biases", "mistakes or biases", "mistakes",
                                             field="explicit mistakes or biases"), "explicit mistakes or biases"),
        scenario_group=_GROUPS.get(coerce.norm(group)) if isinstance(group, str) else None,
    )


def _two(text: str) -> tuple[dict, dict]:
    """The objects for response A and B, however the model labelled them."""
    obj = extract_object(text)
    found: dict[str, Any] = {}
    for key, value in obj.items():
        k = coerce.norm(key).removeprefix("response").removeprefix("output").removeprefix("text")
        if k in ("a", "b") and k not in found:
            found[k] = value
    if not found and isinstance(obj.get("responses"), list) and len(obj["responses"]) == 2:
        found = dict(zip("ab", obj["responses"]))
    for k in "ab":
        if k not in found:
            raise InvalidAnswer(f"missing field 'response_{k}'")
        if not isinstance(found[k], dict):
            raise InvalidAnswer(f"'response_{k}': expected an object, got {type(found[k]).__name__}")
    return found["a"], found["b"]


def _ratings(obj: dict, keys: tuple[str, ...], who: str) -> dict[str, int]:
    out, missing = {}, []
    for key in keys:
        try:
            out[key] = coerce.score(coerce.get(obj, key, SHORT_NAME[key], field=key), f"{who}.{key}")
        except coerce.MissingField:
            missing.append(key)
    if missing:
        raise InvalidAnswer(f"{who}: missing {len(missing)} rating(s): " + "; ".join(missing[:3]))
    return out


# The two-response readers return (for A, for B) as shown; PairTask.unswap maps them
# back. Keeping the swap out of parsing lets pairs that share a request share its answer.

def parse_aware(text: str) -> tuple[dict, dict]:
    a, b = _two(text)
    return _ratings(a, AWARE_KEYS, "response_a"), _ratings(b, AWARE_KEYS, "response_b")


def parse_free(text: str) -> tuple[dict, dict]:
    a, b = _two(text)
    return _ratings(a, FREE_KEYS, "response_a"), _ratings(b, FREE_KEYS, "response_b")


def _rated_items(value: Any, items: list[str], read, field: str) -> list[str]:
    """'description | value' entries, from strings, objects, a mapping or bare values."""
    if isinstance(value, dict):
        value = [{k: v} for k, v in value.items()]
    if not isinstance(value, list):
        value = [value]
    out = []
    for i, entry in enumerate(value):
        desc = None
        if isinstance(entry, str) and "|" in entry:
            desc, entry = (part.strip() for part in entry.rsplit("|", 1))
        elif isinstance(entry, dict):
            named = coerce.get_optional(entry, "score", "label", "rating", "value")
            if named is not None:
                desc = coerce.get_optional(entry, "constraint", "stance", "mistake", "description", "item", "text")
                entry = named
            elif len(entry) == 1:
                desc, entry = next(iter(entry.items()))
        if entry is None or (isinstance(entry, str) and not entry.strip()):
            continue
        desc = desc or (items[i] if i < len(items) else f"item {i + 1}")
        out.append(f"{desc} | {read(entry, f'{field}[{i}]')}")
    if items and not out:
        raise InvalidAnswer(f"'{field}': no rated entries")
    return out


def _followup_one(obj: dict, facts: Facts, who: str) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(QS_KEYS.values())
    kinds = facts.present()
    aliases = {"intent": ("clarify intent",), "feelings": ("show empathetic", "empathy", "showing empathy"),
               "constraints": ("satisfy constraints", "constraints"), "stances": ("support stances", "stances"),
               "mistakes": ("correct mistakes", "mistakes", "correcting mistakes or biases")}
    readers = {"constraints": coerce.score,
               "stances": lambda v, f: coerce.label(v, STANCE_LABELS, f),
               "mistakes": lambda v, f: coerce.label(v, MISTAKE_LABELS, f)}
    for kind in kinds:
        key = QS_KEYS[kind]
        value = coerce.get(obj, key, *aliases[kind], field=f"{who}.{key}")
        if kind in ("intent", "feelings"):
            out[key] = coerce.score(value, f"{who}.{key}")
        else:
            out[key] = _rated_items(value, facts.items(kind), readers[kind], f"{who}.{key}")
    return out


def parse_followup(text: str, facts: Facts) -> tuple[dict, dict]:
    a, b = _two(text)
    return _followup_one(a, facts, "response_a"), _followup_one(b, facts, "response_b")


def _error(entry: Any, where: str) -> dict[str, str]:
    if not isinstance(entry, dict):
        raise InvalidAnswer(f"'{where}': expected an object with severity and type, got {entry!r:.40}")
    raw_sev = coerce.get(entry, "severity", field=f"{where}.severity")
    severity = SEVERITY_WORDS.get(coerce.norm(raw_sev))
    if severity is None:
        raise InvalidAnswer(f"'{where}.severity': expected severe, moderate or minor, got {raw_sev!r}")
    raw_type = coerce.get_optional(entry, "type", "error type", "category")
    try:
        kind = coerce.label(raw_type, ERROR_TYPES, f"{where}.type")
    except InvalidAnswer:
        kind = str(raw_type).strip() if raw_type else "factual error"  # keep what the model said
    desc = coerce.get_optional(entry, "brief description", "description", "error", "explanation")
    return {"brief description": str(desc or "").strip(), "severity": severity, "type": kind}


def _errors_one(obj: dict, who: str) -> dict[str, Any]:
    flag = coerce.get(obj, "applicable or not", "applicable", "applicability", field=f"{who}.applicable or not")
    if isinstance(flag, bool):
        applicable = flag
    else:
        f = coerce.norm(flag)
        if f in ("applicable", "yes", "true"):
            applicable = True
        elif f in ("notapplicable", "no", "false", "na", "inapplicable"):
            applicable = False
        else:
            raise InvalidAnswer(f"'{who}.applicable or not': expected applicable or not applicable, got {flag!r}")
    raw = coerce.get_optional(obj, "errors", "error list")
    if raw is None and applicable and not any(coerce.norm(k) == "errors" for k in obj):
        raise InvalidAnswer(f"missing field '{who}.errors'")
    if isinstance(raw, dict):
        raw = [raw]
    if raw is not None and not isinstance(raw, list):
        if isinstance(raw, str) and coerce.norm(raw) in ("", "none", "na"):
            raw = []
        else:
            raise InvalidAnswer(f"'{who}.errors': expected a list, got {type(raw).__name__}")
    errors = [_error(e, f"{who}.errors[{i}]") for i, e in enumerate(raw or [])]
    return {"applicable or not": "applicable" if applicable else "not applicable", "errors": errors}


def parse_accuracy(text: str) -> tuple[dict, dict]:
    a, b = _two(text)
    return _errors_one(a, "response_a"), _errors_one(b, "response_b")
