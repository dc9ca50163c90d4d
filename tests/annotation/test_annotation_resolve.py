"""Reading step answers shaped like real LLM output, and resolving them into released records."""

from __future__ import annotations

import json

import pytest

from pipeline.annotation import steps
from pipeline.annotation.inputs import RawPair
from pipeline.annotation.protocol import Protocol
from pipeline.annotation.steps import Facts, PairTask
from pipeline.properties.paper_rules import pair_features
from pipeline.llm import CallResult, InvalidAnswer, LLMSettings
from pipeline.ingest.writing import pair_key
from pipeline.properties.paper import BASIC
from pipeline.ingest.records import parse_record

FREE = list(steps.FREE_KEYS)


def _task(swapped: bool) -> PairTask:
    for i in range(50):  # find a pair whose hash gives the wanted order
        pair = RawPair(0, f"Question {i}?", "First answer. It is short.", "Second answer, longer than the first.",
                       "model-x", "model-y", human=2)
        task = PairTask(pair, pair_key(pair.query, pair.response_1, pair.response_2))
        if task.swapped == swapped:
            return task
    raise AssertionError("no pair with that order")


def test_swap_is_deterministic_and_balanced():
    keys = [pair_key(f"q{i}", "a", "b") for i in range(400)]
    flags = [PairTask(RawPair(0, "q", "a", "b"), k).swapped for k in keys]
    assert 150 < sum(flags) < 250
    assert flags == [PairTask(RawPair(0, "q", "a", "b"), k).swapped for k in keys]
    t = _task(True)
    assert t.shown() == {"response_a": t.pair.response_2, "response_b": t.pair.response_1}
    assert t.unswap("for A", "for B") == ("for B", "for A")


@pytest.mark.parametrize("text", [
    '{"clear intent": "Yes", "explicitly express feelings": "no", "explicit constraints": ["be brief"], '
    '"explicit subjective stances": [], "explicit mistakes or biases": null, "scenario_group": "code"}',
    '```json\n{"Clear Intent": "yes.", "Explicitly_Express_Feelings": false, "explicit constraints": "be brief", '
    '"explicit subjective stances": "none", "explicit mistakes or biases": [], "scenario group": "CODE", '
    '"notes": "extra key"}\n```',
])
def test_facts_in_varied_shapes(text):
    facts = steps.parse_facts(text)
    assert (facts.clear_intent, facts.express_feelings) == ("Yes", "No")
    assert facts.constraints == ["be brief"] and facts.stances == [] and facts.mistakes == []
    assert facts.scenario_group == "Code"


def test_facts_missing_or_unreadable_fields_are_invalid():
    with pytest.raises(InvalidAnswer, match="explicit constraints"):
        steps.parse_facts('{"clear intent": "Yes", "explicitly express feelings": "No"}')
    with pytest.raises(InvalidAnswer, match="Yes or No"):
        steps.parse_facts('{"clear intent": "maybe", "explicitly express feelings": "No", "explicit constraints": [],'
                          '"explicit subjective stances": [], "explicit mistakes or biases": []}')
    unknown_group = steps.parse_facts('{"clear intent": "No", "explicitly express feelings": "No", '
                                      '"explicit constraints": [], "explicit subjective stances": [], '
                                      '"explicit mistakes or biases": [], "scenario_group": "Poetry"}')
    assert unknown_group.scenario_group is None


def test_ratings_with_strings_floats_short_names_and_labels():
    a = {k: "2" for k in FREE}
    a["harmlessness"] = 3.0
    a.pop("funny and humorous")
    a["funny"] = "Score: 1"  # the short property name
    b = {k: {"score": 0, "reason": "none"} for k in FREE}
    text = json.dumps({"Response A": a, "response_b": b, "summary": "extra"})
    ra, rb = steps.parse_free(text)
    assert ra["harmlessness"] == 3 and ra["funny and humorous"] == 1 and ra["polite"] == 2
    assert set(rb.values()) == {0} and len(ra) == len(rb) == 18


def test_ratings_missing_or_out_of_range_are_invalid():
    a = {k: 1 for k in FREE}
    b = dict(a)
    del b["polite"]
    with pytest.raises(InvalidAnswer, match="missing 1 rating"):
        steps.parse_free(json.dumps({"response_a": a, "response_b": b}))
    with pytest.raises(InvalidAnswer, match="outside 0-3"):
        steps.parse_free(json.dumps({"response_a": {**a, "polite": 5}, "response_b": a}))
    with pytest.raises(InvalidAnswer, match="response_b"):
        steps.parse_free(json.dumps({"response_a": a}))


def test_followup_items_as_strings_objects_mappings_or_bare_values():
    facts = Facts("No", "Yes", ["under 50 words", "in French"], ["cats are best"], ["2+2=5"])
    a = {"clarify user intent": "2", "showing empathetic": 1,
         "satisfying explicit constraints": ["under 50 words | 3", "in French | 0"],
         "supporting explicit subjective stances": [{"stance": "cats are best", "label": "weakly supported"}],
         "correcting explicit mistakes or biases": {"2+2=5": "Neither"}}
    b = {"clarify intent": 0, "show empathetic": "3/3",
         "satisfying explicit constraints": [2, "1"],
         "supporting explicit subjective stances": ["cats are best | Strongly opposed."],
         "correcting explicit mistakes or biases": ["2+2=5 | pointed out and corrected"]}
    ra, rb = steps.parse_followup(json.dumps({"response_a": a, "response_b": b}), facts)
    assert ra["clarify user intent"] == 2 and rb["showing empathetic"] == 3
    assert ra["satisfying explicit constraints"] == ["under 50 words | 3", "in French | 0"]
    assert rb["satisfying explicit constraints"] == ["under 50 words | 2", "in French | 1"]
    assert ra["supporting explicit subjective stances"] == ["cats are best | Weakly supported"]
    assert rb["supporting explicit subjective stances"] == ["cats are best | Strongly opposed"]
    assert ra["correcting explicit mistakes or biases"] == ["2+2=5 | Neither pointed out nor corrected"]
    assert rb["correcting explicit mistakes or biases"] == ["2+2=5 | Pointed out and corrected"]


def test_followup_refuses_unknown_labels_and_missing_parts():
    facts = Facts("Yes", "No", [], ["x"], [])
    with pytest.raises(InvalidAnswer, match="expected one of"):
        steps.parse_followup(json.dumps({"response_a": {"supporting explicit subjective stances": ["x | loves it"]},
                                         "response_b": {"supporting explicit subjective stances": ["x | Neutral"]}}),
                             facts)
    with pytest.raises(InvalidAnswer, match="missing field"):
        steps.parse_followup(json.dumps({"response_a": {}, "response_b": {}}), facts)


def test_errors_with_synonyms_and_not_applicable():
    text = json.dumps({"response_a": {"applicable or not": "Applicable", "errors": [
        {"description": "wrong year", "severity": "Major", "type": "Factual Error"},
        {"brief description": "bad sum", "severity": "minor", "type": "math"}]},
        "response_b": {"applicable or not": "not applicable"}})
    ea, eb = steps.parse_accuracy(text)
    assert [e["severity"] for e in ea["errors"]] == ["severe", "minor"]
    assert ea["errors"][0] == {"brief description": "wrong year", "severity": "severe", "type": "factual error"}
    assert ea["errors"][1]["type"] == "math operation error"
    assert eb == {"applicable or not": "not applicable", "errors": []}
    with pytest.raises(InvalidAnswer, match="severity"):
        steps.parse_accuracy(json.dumps({"response_a": {"applicable or not": "applicable", "errors": [
            {"brief description": "x", "severity": "catastrophic", "type": "factual error"}]},
            "response_b": {"applicable or not": "applicable", "errors": []}}))
    with pytest.raises(InvalidAnswer, match="errors"):
        steps.parse_accuracy(json.dumps({"response_a": {"applicable or not": "applicable"},
                                         "response_b": {"applicable or not": "applicable", "errors": []}}))


@pytest.mark.parametrize("swapped", [False, True])
def test_resolved_record_is_released_format_and_undoes_the_swap(swapped):
    task = _task(swapped)
    settings = LLMSettings(model="gpt-4o")
    proto = Protocol(settings)
    facts = Facts("No", "No", ["short"], [], [])
    low = {k: 0 for k in FREE}
    high = {k: 3 for k in FREE}
    aware_a = {k: 3 for k in steps.AWARE_KEYS}
    aware_b = {k: 0 for k in steps.AWARE_KEYS}
    qs_a = {"clarify user intent": 3, "satisfying explicit constraints": ["short | 3"]}
    qs_b = {"clarify user intent": 0, "satisfying explicit constraints": ["short | 1"]}
    err_a = {"applicable or not": "applicable", "errors": []}
    err_b = {"applicable or not": "applicable",
             "errors": [{"brief description": "x", "severity": "severe", "type": "factual error"}]}
    ok = lambda step, value: CallResult("h", step, task.key, True, value)  # noqa: E731
    results = {steps.REFERENCE: ok(steps.REFERENCE, "the reference"), steps.FACTS: ok(steps.FACTS, facts),
               steps.AWARE: ok(steps.AWARE, (aware_a, aware_b)), steps.FREE: ok(steps.FREE, (high, low)),
               steps.FOLLOWUP: ok(steps.FOLLOWUP, ({**dict.fromkeys(steps.QS_KEYS.values()), **qs_a},
                                                   {**dict.fromkeys(steps.QS_KEYS.values()), **qs_b})),
               steps.ACCURACY: ok(steps.ACCURACY, (err_a, err_b))}
    record = proto.outcome(task, results).record
    # what the model said about "A" belongs to whichever response was shown as A
    shown_a = 2 if swapped else 1
    other = 3 - shown_a
    assert record[f"basic_response_{shown_a}"]["harmlessness"] == 3
    assert record[f"basic_response_{other}"]["harmlessness"] == 0
    assert record[f"errors_response_{other}"]["errors"][0]["severity"] == "severe"
    assert record[f"query-specific_response_{shown_a}"]["clarify user intent"] == 3
    assert list(record["basic_response_1"]) == [p.source_key for p in BASIC]
    assert record["response_1"]["num_words"] == 7 and record["response_2"]["num_words"] == 8
    assert record["preference_labels"] == {"human": "response_2"}
    assert record["gpt-4-turbo_reference"] == "the reference"
    assert record["annotation"]["annotator"] == "gpt-4o" and record["annotation"]["responses_swapped"] == swapped
    assert record["scenario_group"] == "Others" and record["clear intent"] == "No"
    pair = parse_record(json.loads(json.dumps(record)), 0)  # the loader's own reading of it
    features = pair_features(pair)
    sign = 1 if shown_a == 1 else -1
    assert features["harmless"] == sign and features["no severe errors"] == sign
    assert features["clarify intent"] == sign and features["satisfy constraints"] == sign


def test_a_failed_step_fails_the_pair_with_the_reason():
    task = _task(False)
    proto = Protocol(LLMSettings())
    bad = CallResult("h", steps.FREE, task.key, False, error="invalid answer: not valid JSON (after 3 answers)")
    out = proto.outcome(task, {steps.FACTS: CallResult("h", steps.FACTS, task.key, True, Facts("Yes", "No", [], [], [])),
                               steps.FREE: bad})
    assert out.record is None and out.error.startswith("query-free-basic: invalid answer")
