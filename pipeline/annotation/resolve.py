"""From the steps' answers to one record in the released format (SPEC section 2).

The record goes through the same loader as the release, so it uses the release's field
names exactly; a few extra keys (`annotation`) say how it was made and are ignored by
the loader.
"""

from __future__ import annotations

from typing import Any

from ..properties.paper import BASIC
from .steps import AWARE_KEYS, QS_KEYS, Facts, PairTask
from .words import count_words

OTHERS = "Others"


def _response(text: str, model: str | None) -> dict[str, Any]:
    return {"content": text, "model": model, "num_words": count_words(text)}


def _basic(aware: dict[str, int], free: dict[str, int]) -> dict[str, int]:
    """All 20 ratings, in the registry's order."""
    merged = {**free, **aware}
    return {p.source_key: merged[p.source_key] for p in BASIC}


def build_record(task: PairTask, *, model: str, reference: str, facts: Facts,
                 followup: tuple[dict, dict] | None, aware: tuple[dict, dict], free: tuple[dict, dict],
                 accuracy: tuple[dict, dict], versions: dict[str, str], reference_given: bool) -> dict[str, Any]:
    pair = task.pair
    empty_qs = dict.fromkeys(QS_KEYS.values())
    qs1, qs2 = followup or (empty_qs, dict(empty_qs))
    record: dict[str, Any] = {
        "query": pair.query,
        "scenario_auto-j": pair.scenario_auto_j,
        "scenario_group": pair.scenario_group or facts.scenario_group or OTHERS,
        "response_1": _response(pair.response_1, pair.model_1),
        "response_2": _response(pair.response_2, pair.model_2),
        "gpt-4-turbo_reference": reference,
        "clear intent": facts.clear_intent,
        "explicitly express feelings": facts.express_feelings,
        "explicit constraints": list(facts.constraints),
        "explicit subjective stances": list(facts.stances),
        "explicit mistakes or biases": list(facts.mistakes),
        "preference_labels": {"human": f"response_{pair.human}"} if pair.human else {},
        "basic_response_1": _basic(aware[0], free[0]),
        "basic_response_2": _basic(aware[1], free[1]),
        "errors_response_1": accuracy[0],
        "errors_response_2": accuracy[1],
        "query-specific_response_1": qs1,
        "query-specific_response_2": qs2,
        "annotation": {
            "annotator": model,
            "prompt_versions": versions,
            "reference_from": "input" if reference_given else model,
            "responses_swapped": task.swapped,
        },
    }
    if pair.source_id is not None:
        record["id"] = pair.source_id
    return record


def labels_only_record(task: PairTask) -> dict[str, Any]:
    """For a pair already in the database: the loader adds its human label, nothing else."""
    pair = task.pair
    return {"query": pair.query, "response_1": {"content": pair.response_1, "model": pair.model_1},
            "response_2": {"content": pair.response_2, "model": pair.model_2},
            "preference_labels": {"human": f"response_{pair.human}"} if pair.human else {}}


assert set(AWARE_KEYS) <= {p.source_key for p in BASIC}
