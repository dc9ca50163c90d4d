"""Small released-format records for tests: a valid default, and keyword overrides."""

from __future__ import annotations

import copy

from pipeline.properties.paper import BASIC


def make_record(i: int = 0, *, r1: dict | None = None, r2: dict | None = None, **fields) -> dict:
    """A valid record; `r1`/`r2` override basic ratings of response 1/2 by original key."""
    basic1 = {p.source_key: 2 for p in BASIC}
    basic2 = {p.source_key: 2 for p in BASIC}
    basic1.update(r1 or {})
    basic2.update(r2 or {})
    rec = {
        "query": f"query number {i}",
        "scenario_auto-j": "writing_cooking_recipe",
        "scenario_group": "Daily Tasks",
        "response_1": {"content": f"first answer {i}", "model": "model-x", "num_words": 100},
        "response_2": {"content": f"second answer {i}", "model": "model-y", "num_words": 100},
        "gpt-4-turbo_reference": "a reference",
        "clear intent": "Yes",
        "explicitly express feelings": "No",
        "explicit constraints": [],
        "explicit subjective stances": [],
        "explicit mistakes or biases": [],
        "preference_labels": {"human": "response_1", "gpt-4-turbo": "response_2"},
        "basic_response_1": basic1,
        "basic_response_2": basic2,
        "errors_response_1": {"applicable or not": "applicable", "errors": []},
        "errors_response_2": {"applicable or not": "applicable", "errors": []},
        "query-specific_response_1": {},
        "query-specific_response_2": {},
    }
    rec.update(copy.deepcopy(fields))
    return rec


def error(severity: str, kind: str = "factual error") -> dict:
    return {"brief description": f"a {severity} mistake", "severity": severity, "type": kind}
