"""Record parsing: the variants real files bring are accepted, anything else refused by name."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.records import RecordError, parse_errors, parse_number, parse_record, parse_response
from pipeline.properties.paper import BASIC
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


# --- issue 13.4: no traceback from any input, one line naming file, record/line and field ------------------

import codecs as _codecs  # noqa: E402
import json as _json  # noqa: E402

from typer.testing import CliRunner as _CliRunner  # noqa: E402

from pipeline.ingest import sources as _sources  # noqa: E402
from pipeline.cli import app as _app  # noqa: E402

_runner = _CliRunner()


def _line(rec: dict, **raw_fields: str) -> str:
    """A record as JSON with some fields given as raw JSON text (NaN, 1e400, ...)."""
    text = _json.dumps(rec)
    for i, (path, fragment) in enumerate(raw_fields.items()):
        marker = f"@@{i}@@"
        obj = _json.loads(text)
        target = obj
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = marker
        text = _json.dumps(obj).replace(_json.dumps(marker), fragment)
    return text


@pytest.mark.parametrize("field, fragment, says", [
    ("response_1__num_words", "1e400", "response_1.num_words"),
    ("response_1__num_words", "Infinity", "response_1.num_words"),
    ("response_2__num_words", "12345678901234567890123", "whole number from 0 to 2,147,483,647"),
    ("response_2__num_words", "-3", "whole number"),
    ("response_1__num_words", '"NaN and more"', "expected a number"),
    ("basic_response_1__harmlessness", "-Infinity", "finite number"),
    ("basic_response_2__harmlessness", "1e999", "basic_response_2.harmlessness"),
    ("query", "9" * 5000, "too long to read"),
    ("query", '"bad \\ud800 text"', "lone surrogate"),
    ("query", "[" * 5000 + "]" * 5000, "nested too deeply"),
    ("query", '{"a":' * 80 + "1" + "}" * 80, "nested more than 64 levels"),
])
def test_values_the_loader_cannot_hold_are_one_line(tmp_path, field, fragment, says):
    src = tmp_path / "bad.jsonl"
    src.write_text(_json.dumps(make_record(0)) + "\n" + _line(make_record(1), **{field: fragment}) + "\n")
    db = tmp_path / "x.duckdb"
    result = _runner.invoke(_app, ["load", str(src), "--db", str(db)], env={"COLUMNS": "10000"})
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "bad.jsonl" in lines[0], result.output
    assert ("record 1" in lines[0]) or ("line 2" in lines[0])
    assert not db.exists()


def test_nan_is_a_missing_value():
    rec = make_record(0)
    rec["response_1"]["num_words"] = float("nan")
    assert parse_record(rec, 0).r1.num_words is None


@pytest.mark.parametrize("how, ok", [("utf-8-sig", True), ("utf-16", True), ("utf-32", True),
                                     ("latin-1", False), ("binary", False)])
def test_encodings(tmp_path, how, ok):
    text = "".join(_json.dumps(make_record(i), ensure_ascii=False).replace("query number", "quëry") + "\n"
                   for i in range(2))
    data = {"utf-8-sig": _codecs.BOM_UTF8 + text.encode(), "utf-16": text.encode("utf-16"),
            "utf-32": text.encode("utf-32"), "latin-1": text.encode("latin-1"),
            "binary": b"\x89PNG\r\n\x1a\n\x00\x00" + text.encode()}[how]
    src = tmp_path / "f.jsonl"
    src.write_bytes(data)
    if ok:
        assert [r["query"] for r in _sources.iter_jsonl(src)] == ["quëry 0", "quëry 1"]
        result = _runner.invoke(_app, ["load", str(src), "--db", str(tmp_path / "x.duckdb")])
        assert result.exit_code == 0, result.output
        return
    with pytest.raises(_sources.SourceError) as exc:
        list(_sources.iter_jsonl(src))
    message = str(exc.value)
    assert "\n" not in message and "byte offset" in message and "f.jsonl" in message
    assert ("0xEB" in message) if how == "latin-1" else ("NUL" in message)


def test_utf8_bom_in_a_json_file(tmp_path):
    src = tmp_path / "f.json"
    src.write_bytes(_codecs.BOM_UTF8 + _json.dumps([make_record(0)]).encode())
    assert [r["query"] for r in _sources.iter_json(src)] == ["query number 0"]


# --- the fast paths read what the careful ones read ------------------------------------------

_ODD_NUMBERS = st.sampled_from([0, 3, -2, 2.5, 2**60, 2**1100, -(2**1100), 1e308, float("nan"), float("inf"),
                                -float("inf"), True, False, None, "2", " 1 ", "", "x", [], {}])
_RESPONSE = st.fixed_dictionaries({"content": st.sampled_from(["a", 7, None, ["x"]]),
                                   "num_words": st.sampled_from([0, 12, 2**31, -1, 2.0, 2.5, "3", None, True])})


def _careful(basic: dict) -> dict:
    """The ratings read one by one by parse_number (None where it refuses)."""
    try:
        return {p.source_key: parse_number(basic.get(p.source_key), "w", p.source_key) for p in BASIC}
    except RecordError:
        return None


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([p.source_key for p in BASIC]), _ODD_NUMBERS), _RESPONSE,
       st.booleans())
def test_a_response_reads_as_its_fields_read_one_by_one(ratings, response, plain):
    """The shortcuts for plain ratings, counts, texts and error lists give what the one-by-one
    reading gives, and refuse what it refuses, with its message."""
    if plain:  # all 20 ratings plain numbers: the shortcut's case
        ratings = {p.source_key: ratings.get(p.source_key, 1) for p in BASIC}
        ratings = {k: (v if type(v) in (int, float) else 2) for k, v in ratings.items()}
    rec = {"response_1": response, "basic_response_1": ratings}
    expected = _careful(ratings)
    try:
        got = parse_response(rec, 1, "record 0")
    except RecordError as exc:
        assert "response_1" in exc.field or "basic_response_1" in exc.field
        if exc.field.startswith("basic_response_1"):
            assert expected is None
        return
    assert expected is not None
    assert {k: (None if v is None else float(v)) for k, v in got.ratings.items()} == expected
    assert got.content == (response["content"] if isinstance(response["content"], str) else str(response["content"]))


@pytest.mark.parametrize("severity, kept", [("minor", "minor"), (" Severe", "severe"), ("MODERATE ", "moderate"),
                                             (None, None), (3, None)])
@pytest.mark.parametrize("flag, applicable", [("applicable", True), ("not applicable", False), (" Yes", True),
                                              ("N/A", False), (True, True)])
def test_error_checks_as_written_and_as_people_write_them(severity, kept, flag, applicable):
    got = parse_errors({"applicable or not": flag, "errors": [{"severity": severity, "type": "t"}]}, "w", "e")
    assert got == (applicable, [{"severity": kept, "type": "t", "description": None}])
