"""Record parsing: the variants real files bring are accepted, anything else refused by name."""

import pytest

from pipeline.records import RecordError, parse_record
from records_factory import make_record


def test_numbers_as_strings_and_empty_lists_and_nulls_are_accepted():
    rec = make_record(**{"explicit constraints": None, "explicit subjective stances": [],
                         "preference_labels": {"human": "response_2", "missing-judge": None}})
    rec["response_1"]["num_words"] = "42"
    rec["basic_response_1"]["polite"] = " 3 "
    pair = parse_record(rec, 7)
    assert pair.r1.num_words == 42
    assert pair.r1.ratings["polite"] == 3
    assert pair.constraints == [] and pair.stances == []
    assert pair.labels == {"human": 2}


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r.pop("query"), "query"),
    (lambda r: r.update(query=["not", "text"]), "query"),
    (lambda r: r["basic_response_2"].update({"friendly": "very"}), "basic_response_2.friendly"),
    (lambda r: r.update({"clear intent": "Maybe"}), "clear intent"),
    (lambda r: r.update(preference_labels={"human": "left"}), "preference_labels.human"),
    (lambda r: r.update(response_1=None), "response_1"),
    (lambda r: r["response_2"].update(num_words="many"), "response_2.num_words"),
    (lambda r: r.update(errors_response_1={"applicable or not": "perhaps"}), "errors_response_1.applicable or not"),
    (lambda r: r.update(errors_response_1={"errors": [{"severity": "catastrophic"}]}), "errors_response_1.errors[0].severity"),
    (lambda r: r.update(errors_response_2={"errors": "none"}), "errors_response_2.errors"),
    (lambda r: r.update({"explicit constraints": {"a": 1}}), "explicit constraints"),
    (lambda r: r.update({"query-specific_response_1": {"clarify user intent": {"score": 2}}}),
     "query-specific_response_1.clarify user intent[0]"),
])
def test_bad_fields_are_refused_with_record_and_field(mutate, field):
    rec = make_record(id=99)
    mutate(rec)
    with pytest.raises(RecordError) as info:
        parse_record(rec, 12)
    assert info.value.field == field
    assert "record 12 (id 99)" in str(info.value)
    assert field in str(info.value)


def test_a_record_that_is_not_an_object_is_refused():
    with pytest.raises(RecordError, match="record 3"):
        parse_record(["a", "list"], 3)


def test_flat_response_text_is_accepted():
    rec = make_record(response_1="just the text")
    assert parse_record(rec, 0).r1.content == "just the text"


def test_labels_accept_common_spellings():
    rec = make_record(preference_labels={"a": "A", "b": "2", "c": "Response_1 "})
    assert parse_record(rec, 0).labels == {"a": 1, "b": 2, "c": 1}
