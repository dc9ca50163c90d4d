"""HH-RLHF transcripts: the final Assistant turns are the responses, in a hash-decided order."""

import pytest

from formats_fixtures import read
from pipeline.ingest.formats import RowError
from pipeline.ingest.formats.base import hashed_swap


def test_final_turns_are_the_responses_and_the_label_follows_the_chosen_text():
    pairs, reading = read("hh_rlhf.jsonl")
    assert reading.format == "hh-rlhf" and len(pairs) == 5
    for pair in pairs:
        (label,) = pair.labels
        chosen = pair.response_1 if label.preferred == 1 else pair.response_2
        rejected = pair.response_2 if label.preferred == 1 else pair.response_1
        assert not chosen.startswith("Assistant") and "Human:" not in chosen
        assert label.preferred == (2 if hashed_swap(pair.query, chosen, rejected) else 1)
    basil = pairs[0]
    assert basil.query == "How do I keep basil fresh?"
    assert {basil.response_1, basil.response_2} == {"Trim the stems and stand them in a glass of water on the counter.",
                                                    "Put it in the freezer."}


def test_the_hash_puts_the_chosen_text_second_for_some_pairs():
    pairs, _ = read("hh_rlhf.jsonl")
    assert {p.labels[0].preferred for p in pairs} == {1, 2}


def test_multi_turn_keeps_the_earlier_dialogue_as_the_query():
    pairs, reading = read("hh_rlhf.jsonl")
    assert reading.skips.rows == {"multi-turn": 1}
    pairs, _ = read("hh_rlhf.jsonl", multi_turn=True)
    (pair,) = [p for p in pairs if p.n_turns == 2]
    assert pair.query == ("Human: What's a good first plant?\n\nAssistant: A pothos is hard to kill.\n\n"
                          "Human: Does it need much light?")
    assert {pair.response_1, pair.response_2} == {"No, indirect light is fine.", "Full sun all day."}


def test_a_transcript_without_turns_names_the_row(tmp_path):
    path = tmp_path / "hh.jsonl"
    path.write_text('{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: hello", "rejected": "\\n\\nHuman: hi\\n\\nAssistant: yo"}\n'
                    '{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: hello", "rejected": "just text"}\n')
    with pytest.raises(RowError, match=r"hh.jsonl: row 1, field 'rejected': no 'Human:'"):
        read(path)
