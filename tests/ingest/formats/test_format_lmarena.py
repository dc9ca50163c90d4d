"""LMArena 100k / 140k: content parts, both_bad, category tags and is_code as attributes."""

import json

import pyarrow as pa
import pyarrow.parquet as pq

from formats_fixtures import FIXTURES, labels, read


def test_140k_content_parts_keep_their_text_parts_only():
    pairs, reading = read("lmarena_140k.json")
    assert reading.format == "lmarena"
    haiku, german = pairs
    assert haiku.response_2 == "**Rain**\n\ngrey threads stitch the sky\npuddles hold a borrowed moon\nshoes forget the road"
    assert german.query == "Was ist 2 hoch 10?"  # side 1's user message; side 2 also had an image part
    assert labels(haiku) == [("human", 2, None, None)] and labels(german) == [("human", 1, None, None)]
    assert haiku.source_id == "e1b4a0c2-0001"


def test_both_bad_and_tie_are_left_out():
    _, reading = read("lmarena_140k.json")
    assert reading.skips.rows == {"both bad": 1, "tie": 1}
    assert reading.skips.examples == {"both bad": [1], "tie": [3]}


def test_language_is_code_and_category_tags_are_attributes():
    pairs, _ = read("lmarena_140k.json")
    haiku, german = pairs
    assert german.attributes["language"] == "de" and german.attributes["is_code"] == "false"
    assert german.attributes["math_v0.1.math"] == "true" and haiku.attributes["math_v0.1.math"] == "false"
    assert haiku.attributes["creative_writing_v0.1.creative_writing"] == "true"
    assert haiku.attributes["if_v0.1.score"] == "4"
    assert haiku.attributes["evaluation_session_id"] == "s-77" and haiku.attributes["evaluation_order"] == "1"


def test_100k_json_text_columns_and_judge_hash_as_rater():
    pairs, reading = read("lmarena_100k.jsonl")
    (pair,) = pairs
    assert reading.skips.rows == {"both bad": 1}  # winner 'tie (bothbad)'
    assert (pair.query, pair.response_1) == ("List two prime numbers.", "2 and 3.")
    assert labels(pair) == [("human", 1, None, "9f2c")]
    assert pair.attributes["math_v0.1.math"] == "true"
    assert pair.attributes["dedup_tag.sampled"] == "true" and pair.attributes["is_refusal"] == "false"


def test_the_parquet_release_reads_the_same_as_json(tmp_path):
    rows = json.loads((FIXTURES / "lmarena_140k.json").read_text())
    path = tmp_path / "arena-140k.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    from_parquet, reading = read(path)
    from_json, _ = read("lmarena_140k.json")
    assert reading.format == "lmarena"
    assert [(p.query, p.response_1, p.response_2, labels(p), p.attributes) for p in from_parquet] == \
           [(p.query, p.response_1, p.response_2, labels(p), p.attributes) for p in from_json]
