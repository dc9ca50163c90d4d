"""Rendering a custom-property request, reading its answer, and undoing the A/B swap."""

from __future__ import annotations

import json

import pytest

from pipeline.properties.custom.definition import CustomProperty
from pipeline.properties.custom.prompt import PairText, build_request, chunks, parse_answer, unswap
from pipeline.llm import LLMSettings, load_template
from pipeline.llm.errors import InvalidAnswer

HUMOUR = CustomProperty("humour", "Which response uses more humour?", "compare")
HEDGING = CustomProperty("hedging", "How much does the response hedge?", "rating", "Words like 'might'.")
PROPS = (HUMOUR, HEDGING)
SETTINGS = LLMSettings(model="stub-model")


def _pair(i: int) -> PairText:
    return PairText(i, f"key-{i}", f"query {i}", f"first response {i}", f"second response {i}")


def _swapped_and_not() -> tuple[PairText, PairText]:
    pairs = [_pair(i) for i in range(40)]
    return next(p for p in pairs if p.swapped), next(p for p in pairs if not p.swapped)


def test_the_template_is_versioned_data():
    tpl = load_template("custom_properties")
    assert tpl.version == "custom_properties@1"
    assert {"system", "user", "item.compare", "item.rating"} <= set(tpl.sections)


def test_the_request_shows_every_question_and_the_answer_shape():
    pair = _pair(1)
    req = build_request(pair, PROPS, SETTINGS)
    text = req.messages[-1]["content"]
    assert "Which response uses more humour?" in text and "How much does the response hedge?" in text
    assert "(Words like 'might'.)" in text
    shape = json.loads(text.strip().splitlines()[-1])
    assert shape == {"humour": "A | B | same", "hedging": {"A": "<0-3>", "B": "<0-3>"}}
    assert req.json_mode and req.prompt_version == "custom_properties@1"
    assert req.item_key == "key-1" and req.max_tokens > 64


def test_about_half_the_pairs_are_swapped_and_the_responses_follow():
    pairs = [_pair(i) for i in range(200)]
    share = sum(p.swapped for p in pairs) / len(pairs)
    assert 0.35 < share < 0.65
    swapped, plain = _swapped_and_not()
    assert swapped.shown() == {"response_a": swapped.response_2, "response_b": swapped.response_1}
    assert plain.shown() == {"response_a": plain.response_1, "response_b": plain.response_2}
    text = build_request(swapped, PROPS, SETTINGS).messages[-1]["content"]
    assert text.index(swapped.response_2) < text.index(swapped.response_1)


def test_parse_accepts_the_usual_spellings():
    got = parse_answer('```json\n{"Humour": "Response B", "hedging": {"response_a": "2", "B": 0}}\n```', PROPS)
    assert got == {"humour": "B", "hedging": (2, 0)}
    assert parse_answer('{"humour": "same", "hedging": [3, 1]}', PROPS) == {"humour": "same", "hedging": (3, 1)}


@pytest.mark.parametrize("text, why", [
    ('{"hedging": {"A": 1, "B": 2}}', "no answer for property 'humour'"),
    ('{"humour": "C", "hedging": {"A": 1, "B": 2}}', "expected \"A\", \"B\" or \"same\""),
    ('{"humour": "A", "hedging": {"A": 4, "B": 2}}', "whole number 0..3"),
    ('{"humour": "A", "hedging": {"A": 1.5, "B": 2}}', "whole number 0..3"),
    ('{"humour": "A", "hedging": {"A": true, "B": 2}}', "not a number"),
    ('{"humour": "A", "hedging": 2}', "expected {\"A\": 0-3"),
    ("not json at all", "not valid JSON"),
])
def test_parse_refuses_what_it_cannot_read(text, why):
    with pytest.raises(InvalidAnswer, match=None) as err:
        parse_answer(text, PROPS)
    assert why in str(err.value)


def test_unswap_maps_answers_back_to_response_1_and_2():
    swapped, plain = _swapped_and_not()
    answer = {"humour": "A", "hedging": (3, 1)}           # as shown: A funnier, A hedges more
    plain_rows = {r.property: r for r in unswap(plain, PROPS, answer)}
    swapped_rows = {r.property: r for r in unswap(swapped, PROPS, answer)}
    assert plain_rows["humour"].value == 1 and swapped_rows["humour"].value == -1
    assert (plain_rows["hedging"].score_1, plain_rows["hedging"].score_2, plain_rows["hedging"].value) == (3, 1, 1)
    assert (swapped_rows["hedging"].score_1, swapped_rows["hedging"].score_2, swapped_rows["hedging"].value) == \
        (1, 3, -1)
    same = unswap(swapped, PROPS, {"humour": "same", "hedging": (2, 2)})
    assert [r.value for r in same] == [0, 0]


def test_properties_are_asked_in_chunks_in_file_order():
    many = tuple(CustomProperty(f"p{i}", f"Question {i}?", "compare") for i in range(23))
    size = load_template("custom_properties").int_meta("max_properties")
    parts = chunks(many)
    assert [len(c) for c in parts] == [size, size, 23 - 2 * size]
    assert [p.name for c in parts for p in c] == [p.name for p in many]
