"""Generic files: columns named by options, winners in the usual spellings, probabilities, attributes."""

import json

import pytest

from formats_fixtures import labels, read
from pipeline.ingest.formats import RowError

COLUMNS = (("prompt", "question"), ("response_1", "answer_left"), ("response_2", "answer_right"),
           ("model_1", "bot_left"), ("model_2", "bot_right"), ("winner", "choice"), ("rater", "who"))


def test_named_columns_map_to_the_roles():
    pairs, reading = read("generic_pairs.csv", "generic", columns=COLUMNS, attribute_columns=("topic",))
    water, rhyme, number = pairs
    assert (water.query, water.response_1, water.model_2) == ("Best time to water plants?", "Early morning.", "m2")
    assert labels(water) == [("human", 1, None, "r1")] and labels(rhyme) == [("human", 2, None, "r2")]
    assert labels(number) == [("human", 1, 0.8, "r3")]  # a probability that response 1 is better
    assert water.attributes == {"topic": "garden"}
    assert reading.skips.rows == {"tie": 1}


def test_default_column_names_need_no_options(tmp_path):
    path = tmp_path / "pairs.jsonl"
    rows = [{"prompt": "p", "response_a": "x", "response_b": "y", "model_a": "m", "model_b": "n", "winner": "model_b"},
            {"prompt": "p2", "response_a": "x", "response_b": "y", "winner": "both_bad"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs, reading = read(path)
    assert reading.format == "generic"
    assert labels(pairs[0]) == [("human", 2, None, None)] and pairs[0].model_1 == "m"
    assert reading.skips.rows == {"both bad": 1}


def test_an_unknown_winner_names_the_row_and_field(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("prompt,response_1,response_2,winner\nq,a,b,1\nq2,a,b,maybe\n")
    with pytest.raises(RowError, match=r"pairs.csv: row 1, field 'winner': unknown winner 'maybe'"):
        read(path)


def test_a_named_column_that_is_missing_is_refused(tmp_path):
    from pipeline.ingest.formats import NoFormat

    with pytest.raises(NoFormat, match=r"not in format generic: missing column 'nope' \(given for prompt\)"):
        read("generic_pairs.csv", "generic", columns=(("prompt", "nope"),))
