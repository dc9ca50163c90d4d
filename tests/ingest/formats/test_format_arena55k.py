"""The Kaggle arena-human-preference-55k CSV: JSON-encoded turns and one-hot winners."""

import csv
import json

import pytest

from formats_fixtures import labels, read
from pipeline.ingest.formats import RowError


def test_one_hot_winners_become_labels():
    pairs, reading = read("arena_55k.csv")
    assert reading.format == "arena-55k"
    tomato, thanks = pairs
    assert tomato.query == "Is tomato a fruit?" and tomato.response_2 == "It is a vegetable."
    assert (tomato.model_1, tomato.model_2) == ("gpt-4-1106-preview", "gpt-4-0613")
    assert labels(tomato) == [("human", 1, None, None)] and labels(thanks) == [("human", 2, None, None)]
    assert tomato.source_id == "30192"


def test_tie_multi_turn_and_a_null_response_are_left_out():
    _, reading = read("arena_55k.csv")
    assert reading.skips.rows == {"tie": 1, "multi-turn": 1, "empty response": 1}


def test_multi_turn_joins_prompts_and_replies():
    pairs, _ = read("arena_55k.csv", multi_turn=True)
    (pair,) = [p for p in pairs if p.n_turns == 2]
    assert (pair.query, pair.response_1, pair.response_2) == ("Hi!\n\nHow are you?", "Hello!\n\nFine, thanks.",
                                                              "Hey.\n\nGood.")
    assert labels(pair) == [("human", 2, None, None)]


def test_two_winner_flags_name_the_row_and_field(tmp_path):
    path = tmp_path / "train.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "model_a", "model_b", "prompt", "response_a", "response_b", "winner_model_a",
                    "winner_model_b", "winner_tie"])
        w.writerow([1, "a", "b", json.dumps(["q"]), json.dumps(["x"]), json.dumps(["y"]), 1, 0, 0])
        w.writerow([2, "a", "b", json.dumps(["q2"]), json.dumps(["x"]), json.dumps(["y"]), 1, 1, 0])
    with pytest.raises(RowError, match=r"train.csv: row 1, field 'winner_model_a': more than one"):
        read(path)


def test_a_response_that_is_not_json_names_the_row(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n'
                    '1,a,b,"[""q""]","[""x""","[""y""]",1,0,0\n')
    with pytest.raises(RowError, match=r"row 0, field 'response_a': not valid JSON"):
        read(path)
