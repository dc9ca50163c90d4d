"""Chatbot Arena conversations: winners, ties, both-bad, the voter as rater, multi-turn, attributes."""

from formats_fixtures import labels, read


def test_votes_become_human_labels_with_the_voter_as_rater():
    pairs, reading = read("arena_conversations.jsonl")
    assert reading.format == "arena" and reading.rows == 5
    first, second = pairs
    assert first.query == "Name three uses for a paperclip."
    assert first.response_1.startswith("1. Hold papers") and first.response_2 == "You can clip paper with it."
    assert (first.model_1, first.model_2) == ("koala-13b", "vicuna-13b")  # model_a is response 1
    assert labels(first) == [("human", 1, None, "arena_user_101")]
    assert labels(second) == [("human", 2, None, "arena_user_102")]
    assert first.source_id == "q-001"


def test_ties_both_bad_and_multi_turn_are_counted_and_left_out():
    pairs, reading = read("arena_conversations.jsonl")
    assert [p.position for p in pairs] == [0, 1]
    assert reading.skips.rows == {"tie": 1, "both bad": 1, "multi-turn": 1}
    assert reading.skips.examples == {"tie": [2], "both bad": [3], "multi-turn": [4]}


def test_multi_turn_joins_the_turns_when_asked():
    pairs, reading = read("arena_conversations.jsonl", multi_turn=True)
    long = [p for p in pairs if p.n_turns == 2]
    assert len(long) == 1 and reading.skips.rows == {"tie": 1, "both bad": 1}
    pair = long[0]
    assert pair.query == "Suggest a name for a grey cat.\n\nSomething longer, please."
    assert pair.response_1 == "How about Ash?\n\nThen maybe Sir Reginald Smokewhisker."
    assert pair.response_2 == "Grey.\n\nGreyish."
    assert labels(pair) == [("human", 1, None, "arena_user_101")]


def test_language_turn_and_anonymity_are_attributes():
    pairs, _ = read("arena_conversations.jsonl")
    assert pairs[0].attributes == {"language": "English", "turn": "1", "anony": "true"}
    assert pairs[1].attributes["language"] == "German"


def test_judge_option_names_the_crowd():
    pairs, reading = read("arena_conversations.jsonl", judge="arena-crowd")
    assert {lab.judge for p in pairs for lab in p.labels} == {"arena-crowd"}
    assert reading.judge_kinds["arena-crowd"] == "human"
