"""AlpacaEval annotations: each annotator is a judge; 1.5 is a tie; weighted preferences keep prob_1."""

import json

import pytest

from formats_fixtures import labels, read
from pipeline.ingest.formats import RowError


def test_annotators_become_judges_on_the_same_pair():
    pairs, reading = read("alpaca_eval_annotations.json")
    assert reading.format == "alpaca-eval"
    tea, tea_weighted, nile = pairs
    assert (tea.query, tea.model_1, tea.model_2) == ("How do I make tea?", "gpt4_1106_preview", "text_davinci_003")
    assert labels(tea) == [("alpaca_eval_gpt4_turbo_fn", 1, None, None)]
    assert labels(tea_weighted) == [("weighted_alpaca_eval_gpt4_turbo", 1, pytest.approx(0.8), None)]
    assert labels(nile) == [("alpaca_eval_gpt4_turbo_fn", 2, None, None)]
    assert tea.attributes == {"dataset": "helpful_base"}


def test_a_tie_and_a_missing_preference_are_left_out():
    _, reading = read("alpaca_eval_annotations.json")
    assert reading.skips.rows == {"tie": 1, "no vote": 1}


def test_a_preference_off_the_scale_names_the_row(tmp_path):
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps([{"instruction": "q", "output_1": "a", "output_2": "b", "preference": 3}]))
    with pytest.raises(RowError, match=r"row 0, field 'preference': expected a number from 1 to 2"):
        read(path)
