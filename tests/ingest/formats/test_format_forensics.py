"""Feedback Forensics AnnotatedPairs: every annotator is a judge; null preferences are counted."""

import json

import pytest

from formats_fixtures import FIXTURES, labels, read
from pipeline.ingest.formats import RowError


def test_every_annotator_becomes_a_judge():
    pairs, reading = read("annotated_pairs.json")
    assert reading.format == "forensics"
    lighthouse, short = pairs
    assert lighthouse.query == "Describe a lighthouse." and (lighthouse.model_1, lighthouse.model_2) == ("model-x", "model-y")
    assert labels(lighthouse) == [("Human", 1, None, None), ("Select the response that is more concise", 2, None, None),
                                  ("Select the response that uses more lists", 2, None, None)]
    assert short.query == ""  # a null prompt
    assert labels(short) == [("Human", 2, None, None), ("Select the response that is more concise", 1, None, None)]
    assert reading.judge_kinds["Human"] == "human"
    assert reading.judge_kinds["Select the response that is more concise"] == "llm"
    assert reading.judge_notes["Human"] == "Human annotator from original dataset"


def test_null_preferences_are_counted_and_a_pair_without_votes_is_left_out():
    pairs, reading = read("annotated_pairs.json")
    assert reading.skips.votes == {"no vote (not_applicable)": 1}
    assert reading.skips.rows == {"no usable vote: no vote (invalid), no vote (not_applicable)": 1}
    assert pairs[0].attributes == {"topic": "places"}


def test_format_1_text_fields(tmp_path):
    doc = json.loads((FIXTURES / "annotated_pairs.json").read_text())
    for c in doc["comparisons"]:
        c["text_a"], c["text_b"] = c.pop("response_a")["text"], c.pop("response_b")["text"]
        c["annotations"] = {k: {"pref": {"a": "text_a", "b": "text_b"}.get(v["pref"], v["pref"])}
                            for k, v in c["annotations"].items()}
    doc["metadata"]["version"] = "1.0"
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(doc))
    pairs, _ = read(path)
    assert labels(pairs[0])[0] == ("Human", 1, None, None)
    assert pairs[0].response_2 == "- tall\n- bright\n- by the sea" and pairs[0].model_1 is None


def test_an_annotation_by_an_unknown_annotator_names_the_row(tmp_path):
    doc = json.loads((FIXTURES / "annotated_pairs.json").read_text())
    doc["comparisons"][1]["annotations"]["zzz"] = {"pref": "a"}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(RowError, match=r"bad.json: row 1, field 'annotations.zzz': an annotator that is not"):
        read(path)
