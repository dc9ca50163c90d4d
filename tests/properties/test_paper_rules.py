"""Every feature rule of SPEC section 4."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.demo import generate_records
from pipeline.properties.paper import SHORT_LENGTH_THRESHOLD
from pipeline.properties.paper_rules import clearly_different_length, compare_length, compare_rating, compare_relevance, feature_matrix, pair_features, usable
from pipeline.properties.paper import BASIC, PROPERTY_NAMES
from pipeline.ingest.records import parse_record
from records_factory import error, make_record


def feats(rec):
    return pair_features(parse_record(rec, 0))


def test_identical_responses_have_all_zero_features():
    f = feats(make_record())
    assert list(f) == PROPERTY_NAMES
    assert set(f.values()) == {0}


@pytest.mark.parametrize("r1, r2, expected", [(3, 1, 1), (0, 2, -1), (2, 2, 0), ("3", "2", 1)])
def test_basic_rating_is_sign_of_difference(r1, r2, expected):
    f = feats(make_record(r1={"friendly": r1}, r2={"friendly": r2}))
    assert f["friendly"] == expected


@pytest.mark.parametrize("r1, r2, expected", [(3, 0, 1), (0, 1, -1), (3, 1, 0), (1, 3, 0), (0, 0, 0)])
def test_relevance_compares_zero_against_nonzero_only(r1, r2, expected):
    f = feats(make_record(r1={"relevance without considering inaccuracy": r1},
                          r2={"relevance without considering inaccuracy": r2}))
    assert f["relevant"] == expected


def test_non_repetitive_flips_the_repetitive_rating():
    f = feats(make_record(r1={"repetitive": 3}, r2={"repetitive": 0}))
    assert f["non-repetitive"] == -1
    f = feats(make_record(r1={"repetitive": 0}, r2={"repetitive": 2}))
    assert f["non-repetitive"] == 1


@pytest.mark.parametrize("bad", [5, -1, 3.5, None])
def test_rating_outside_zero_to_three_counts_as_zero(bad):
    assert compare_rating(bad, 0) == 0
    assert compare_rating(bad, 2) == -1
    f = feats(make_record(r1={"polite": bad}, r2={"polite": 1}))
    assert f["polite"] == -1


def test_missing_rating_field_counts_as_zero():
    rec = make_record(r2={"clear and understandable": 1})
    del rec["basic_response_1"]["clear and understandable"]
    assert feats(rec)["clear"] == -1


def test_relevance_rule_directly():
    assert compare_relevance(2, 0) == 1 and compare_relevance(None, 2) == -1 and compare_relevance(1, 3) == 0


def test_fewer_errors_is_better_per_severity():
    rec = make_record(errors_response_1={"applicable or not": "applicable", "errors": [error("minor")]},
                      errors_response_2={"applicable or not": "applicable",
                                         "errors": [error("severe"), error("severe"), error("minor")]})
    f = feats(rec)
    assert f["no minor errors"] == 0
    assert f["no moderate errors"] == 0
    assert f["no severe errors"] == 1


def test_not_applicable_error_check_makes_pair_unusable():
    rec = make_record(errors_response_2={"applicable or not": "not applicable", "errors": [error("severe")]})
    pair = parse_record(rec, 0)
    assert not usable(pair)
    assert pair_features(pair)["no severe errors"] == 0


def test_missing_error_check_counts_as_not_applicable():
    rec = make_record(errors_response_1=None)
    assert not usable(parse_record(rec, 0))


# --- length (SPEC 4d) -------------------------------------------------------------

@pytest.mark.parametrize("short, threshold", sorted(SHORT_LENGTH_THRESHOLD.items()))
def test_each_short_length_threshold(short, threshold):
    assert clearly_different_length(short, threshold)
    assert not clearly_different_length(short, threshold - 1)


def test_spec_thresholds_table():
    assert SHORT_LENGTH_THRESHOLD == {0: 1, 1: 3, 2: 5, 3: 7, 4: 8, 5: 10, 6: 11, 7: 13, 8: 14, 9: 16,
                                      10: 17, 11: 19}


@pytest.mark.parametrize("short, long, expected", [
    (12, 21, False),   # ratio ok (<=0.7*21=14.7) but difference 9 < 10
    (14, 24, True),    # 14 <= 16.8 and diff 10
    (15, 24, False),   # 15 > 0.7*24 and diff < 20
    (80, 100, True),   # 80 <= 0.8*100 and diff 20
    (81, 100, False),  # 81 > 80, diff 19 < 40
    (360, 400, True),  # 360 <= 0.9*400 and diff 40
    (361, 400, False),
    (100, 139, True),  # ratio 0.72 > 0.7, but 100 <= 0.8*139 and diff 39 >= 20
    (101, 120, False), # 101 > 0.8*120 = 96, and 101 > 0.7*120
])
def test_long_length_rules(short, long, expected):
    assert clearly_different_length(short, long) is expected


def test_length_feature_direction():
    assert compare_length(100, 10) == 1
    assert compare_length(10, 100) == -1
    assert compare_length(100, 99) == 0
    assert compare_length(None, 50) == 0
    rec = make_record(response_1={"content": "a", "model": "m", "num_words": "3"},
                      response_2={"content": "b", "model": "n", "num_words": 7})
    assert feats(rec)["lengthy"] == -1


# --- query-specific (SPEC 4c) -----------------------------------------------------

def test_query_specific_only_when_prerequisite_met():
    qs1 = {"clarify user intent": 3, "showing empathetic": 3}
    qs2 = {"clarify user intent": 0, "showing empathetic": 0}
    rec = make_record(**{"query-specific_response_1": qs1, "query-specific_response_2": qs2})
    f = feats(rec)
    assert f["clarify intent"] == 0 and f["show empathetic"] == 0
    rec = make_record(**{"clear intent": "No", "explicitly express feelings": "Yes",
                         "query-specific_response_1": qs1, "query-specific_response_2": qs2})
    f = feats(rec)
    assert f["clarify intent"] == 1 and f["show empathetic"] == 1


def test_constraints_use_the_mean_over_items_and_descriptions_may_contain_bars():
    rec = make_record(**{
        "explicit constraints": ["use | as separator", "be short"],
        "query-specific_response_1": {"satisfying explicit constraints": ["use | as separator | 3", "be short | 0"]},
        "query-specific_response_2": {"satisfying explicit constraints": ["use | as separator | 1", "be short | 1"]},
    })
    pair = parse_record(rec, 0)
    items = pair.r1.query_specific["satisfy constraints"]
    assert items[0].description == "use | as separator" and items[0].score == 3
    assert pair_features(pair)["satisfy constraints"] == 1  # mean 1.5 > 1.0


def test_stances_use_their_scale_and_unknown_labels_count_zero():
    rec = make_record(**{
        "explicit subjective stances": ["cats are best"],
        "query-specific_response_1": {"supporting explicit subjective stances": ["cats are best | Weakly opposed"]},
        "query-specific_response_2": {"supporting explicit subjective stances": ["cats are best | something odd"]},
    })
    pair = parse_record(rec, 0)
    assert pair.r1.query_specific["support stances"][0].score == -1
    assert pair.r2.query_specific["support stances"][0].score == 0
    assert pair_features(pair)["support stances"] == -1


def test_mistakes_use_their_scale():
    rec = make_record(**{
        "explicit mistakes or biases": ["2+2=5"],
        "query-specific_response_1": {"correcting explicit mistakes or biases": ["2+2=5 | Pointed out but not corrected"]},
        "query-specific_response_2": {"correcting explicit mistakes or biases": ["2+2=5 | Corrected without being pointed out"]},
    })
    f = feats(rec)
    assert f["correct mistakes"] == -1  # 1 < 2


def test_bare_score_and_string_score_and_null_lists():
    rec = make_record(**{
        "clear intent": "No",
        "explicit constraints": None,
        "query-specific_response_1": {"clarify user intent": "2", "satisfying explicit constraints": None},
        "query-specific_response_2": {"clarify user intent": ["help | 1"]},
    })
    f = feats(rec)
    assert f["clarify intent"] == 1
    assert f["satisfy constraints"] == 0


# --- many pairs at once (the loader's path) -----------------------------------------

_RATING = st.sampled_from([None, 0, 1, 2, 3, 2.5, -1, 5, "3", " 1 ", "", float("nan")])
_QS = st.one_of(st.none(), st.just([]), st.sampled_from([0, 2, "1", 1e308]),
                st.lists(st.sampled_from(["a | 3", "b | 0", "c | Weakly opposed", "d | odd", "e | 1e308"]), max_size=3))


@st.composite
def _records(draw):
    def errors():
        return draw(st.one_of(st.none(), st.fixed_dictionaries({
            "applicable or not": st.sampled_from(["applicable", "not applicable"]),
            "errors": st.lists(st.builds(error, st.sampled_from(["minor", "moderate", "severe", " Severe", None])),
                               max_size=4)})))

    keys = [p.source_key for p in BASIC]
    qs_keys = ["clarify user intent", "showing empathetic", "satisfying explicit constraints",
               "supporting explicit subjective stances", "correcting explicit mistakes or biases"]
    return make_record(
        r1={k: draw(_RATING) for k in keys}, r2={k: draw(_RATING) for k in keys},
        response_1={"content": "a", "num_words": draw(st.one_of(st.none(), st.integers(0, 500)))},
        response_2={"content": "b", "num_words": draw(st.one_of(st.none(), st.integers(0, 500)))},
        errors_response_1=errors(), errors_response_2=errors(),
        **{"clear intent": draw(st.sampled_from(["Yes", "No", None])),
           "explicitly express feelings": draw(st.sampled_from(["Yes", "No", None])),
           "explicit constraints": draw(st.sampled_from([[], ["x"]])),
           "explicit subjective stances": draw(st.sampled_from([[], ["y"]])),
           "explicit mistakes or biases": draw(st.sampled_from([[], ["z"]])),
           "query-specific_response_1": {k: draw(_QS) for k in qs_keys},
           "query-specific_response_2": {k: draw(_QS) for k in qs_keys}})


@settings(max_examples=40, deadline=None)
@given(st.lists(_records(), min_size=1, max_size=12))
def test_feature_matrix_equals_pair_features(recs):
    pairs = [parse_record(r, i) for i, r in enumerate(recs)]
    expected = [list(pair_features(p).values()) for p in pairs]
    assert feature_matrix(pairs).tolist() == expected


def test_feature_matrix_of_the_demo_and_of_no_pairs():
    pairs = [parse_record(r, i) for i, r in enumerate(generate_records()[:600])]
    matrix = feature_matrix(pairs)
    assert matrix.dtype == np.int8 and matrix.shape == (600, len(PROPERTY_NAMES))
    assert matrix.tolist() == [list(pair_features(p).values()) for p in pairs]
    assert feature_matrix([]).shape == (0, len(PROPERTY_NAMES))
