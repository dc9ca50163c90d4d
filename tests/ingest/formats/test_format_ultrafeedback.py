"""UltraFeedback: binarized message lists with scores, plain strings, and openbmb's completions."""

import json

from formats_fixtures import labels, read


def _chosen(pair):
    return pair.response_1 if pair.labels[0].preferred == 1 else pair.response_2


def test_binarized_pairs_label_the_chosen_reply_in_hash_order():
    pairs, reading = read("ultrafeedback_binarized.jsonl")
    assert reading.format == "ultrafeedback"
    happy = pairs[0]
    assert happy.query == "Give me a synonym for happy." and _chosen(happy) == "Joyful."
    assert {p.labels[0].preferred for p in pairs} == {1, 2}
    assert all(lab.judge == "ultrafeedback" for p in pairs for lab in p.labels)
    assert reading.judge_kinds["ultrafeedback"] == "llm"
    assert happy.source_id == "p01"


def test_scores_follow_the_responses_and_equal_scores_are_a_tie():
    pairs, reading = read("ultrafeedback_binarized.jsonl")
    assert reading.skips.rows == {"tie": 1, "multi-turn": 1}
    for pair in pairs:
        chosen_first = pair.labels[0].preferred == 1
        s1, s2 = float(pair.attributes["score_1"]), float(pair.attributes["score_2"])
        assert (s1 > s2) == chosen_first


def test_multi_turn_query_is_the_conversation_before_the_final_reply():
    pairs, _ = read("ultrafeedback_binarized.jsonl", multi_turn=True)
    (pair,) = [p for p in pairs if p.n_turns == 2]
    assert pair.query == "User: Say hi.\n\nAssistant: Hi!\n\nUser: Again."
    assert _chosen(pair) == "Hi again!"


def test_openbmb_completions_pair_the_best_with_the_worst():
    pairs, reading = read("openbmb_ultrafeedback.jsonl")
    (pair,) = pairs
    assert reading.skips.rows == {"tie": 1}
    assert _chosen(pair) == "A noun names a person, place or thing."
    models = {pair.response_1: pair.model_1, pair.response_2: pair.model_2}
    assert models == {"A noun names a person, place or thing.": "gpt-4", "Nouns.": "falcon-40b"}
    assert pair.attributes["source"] == "evol_instruct"


def test_plain_string_chosen_and_rejected_with_a_prompt(tmp_path):
    path = tmp_path / "dpo.jsonl"
    path.write_text(json.dumps({"prompt": "Name a fruit.", "chosen": "Apple.", "rejected": "Carrot."}) + "\n")
    (pair,), _ = read(path, judge="my-rm")
    assert pair.query == "Name a fruit." and _chosen(pair) == "Apple."
    assert labels(pair)[0][0] == "my-rm"
