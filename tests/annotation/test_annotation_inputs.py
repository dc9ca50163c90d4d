"""Raw pairs in every accepted shape, rows left out with reasons, and NLTK-equal word counts."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import SHARED_REFERENCE
from pipeline.annotation.inputs import InputError, read_pairs
from pipeline.annotation.words import count_words, word_tokenize

SAMPLE = SHARED_REFERENCE / "arena_pairs_sample.jsonl"


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_real_arena_sample():
    report = read_pairs(SAMPLE)
    assert report.rows == 2 and not report.skipped
    p = report.pairs[0]
    assert p.query.startswith("Generate a list of steps") and p.model_1 == "oasst-pythia-12b"
    assert p.human == 2 and p.reference.startswith("1. Choose your destination")
    assert p.scenario_group == "Functional Writing" and p.scenario_auto_j == "functional_writing"
    assert p.source_id == 0


def test_word_counts_equal_the_samples_nltk_counts():
    for row in map(json.loads, SAMPLE.read_text().splitlines()):
        for field in ("prompt", "response_a", "response_b"):
            assert count_words(row[field]) == row[f"{field} word"]


@pytest.mark.parametrize("text, tokens", [
    ("Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\n\nThanks.",
     ["Good", "muffins", "cost", "$", "3.88", "in", "New", "York", ".", "Please", "buy", "me", "two", "of",
      "them", ".", "Thanks", "."]),
    # English Punkt knows 'Mr.' and 'p.m.' are abbreviations, not sentence ends
    ("Mr. Smith left at 5 p.m. yesterday, didn't he?",
     ["Mr.", "Smith", "left", "at", "5", "p.m.", "yesterday", ",", "did", "n't", "he", "?"]),
    ('She said "hi." Then left.', ["She", "said", "``", "hi", ".", "''", "Then", "left", "."]),
    ("", []),
])
def test_word_tokenize_matches_nltk(text, tokens):
    assert word_tokenize(text) == tokens


def test_names_winners_and_rows_left_out(tmp_path):
    rows = [
        {"query": "q1", "response_1": "a", "response_2": "b", "model_1": "m1", "model_2": "m2", "winner": "model_a"},
        {"prompt": "q2", "response_a": "a", "response_b": "b", "winner": "tie"},
        {"prompt": "q3", "response_a": "a", "response_b": "b", "winner": "tie (bothbad)"},
        {"prompt": "q4", "response_a": "a", "response_b": "b", "winner": "both_bad"},
        {"prompt": '["q5"]', "response_a": '["a"]', "response_b": '["b"]',  # Arena 55k style
         "winner_model_a": 0, "winner_model_b": 1, "winner_tie": 0},
        {"prompt": ["q6", "again"], "response_a": ["a", "a2"], "response_b": ["b", "b2"]},
        {"prompt": "q7", "response_a": "a"},
        "not an object",
        {"prompt": "q9", "response_a": "", "response_b": "b", "group": "code"},
    ]
    report = read_pairs(_write_jsonl(tmp_path / "in.jsonl", rows))
    assert [p.query for p in report.pairs] == ["q1", "q5", "q9"]
    assert [p.human for p in report.pairs] == [1, 2, None]
    assert report.pairs[0].model_1 == "m1" and report.pairs[2].response_1 == ""
    assert report.pairs[2].scenario_group == "Code"
    assert report.skipped_counts == {"tie": 1, "both bad": 2, "multi-turn": 1, "no response_b": 1,
                                     "not an object": 1}


def test_arena_conversations_single_turn_only(tmp_path):
    def conv(q, a, extra=()):
        return [{"role": "user", "content": q}, {"role": "assistant", "content": a}, *extra]
    rows = [
        {"conversation_a": conv("hello?", "hi A"), "conversation_b": conv("hello?", "hi B"),
         "model_a": "x", "model_b": "y", "winner": "model_b", "question_id": "abc", "turn": 1},
        {"conversation_a": conv("q", "a", [{"role": "user", "content": "more"}, {"role": "assistant", "content": "m"}]),
         "conversation_b": conv("q", "b"), "turn": 2, "winner": "model_a"},
    ]
    report = read_pairs(_write_jsonl(tmp_path / "arena.json", rows))  # JSON lines under a .json name
    (p,) = report.pairs
    assert (p.query, p.response_1, p.response_2, p.human, p.source_id) == ("hello?", "hi A", "hi B", 2, "abc")
    assert report.skipped == [(1, "multi-turn")]


def test_csv_and_json_list(tmp_path):
    path = tmp_path / "in.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["prompt", "response_a", "response_b", "model_a", "model_b", "winner"])
        w.writeheader()
        w.writerow({"prompt": "q, with comma", "response_a": "line1\nline2", "response_b": "b",
                    "model_a": "m", "model_b": "n", "winner": ""})
    (p,) = read_pairs(path).pairs
    assert p.query == "q, with comma" and p.response_1 == "line1\nline2" and p.human is None
    listed = tmp_path / "in.json"
    listed.write_text(json.dumps({"data": [{"query": "q", "response_1": {"content": "a", "model": "m"},
                                            "response_2": {"content": "b", "model": "n"}}]}))
    (p,) = read_pairs(listed).pairs
    assert (p.response_1, p.model_1, p.model_2) == ("a", "m", "n")


def test_unreadable_files_say_where(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "q"}\n{oops\n')
    with pytest.raises(InputError, match="line 2"):
        read_pairs(bad)
    with pytest.raises(InputError, match="unknown file type"):
        read_pairs(_write_jsonl(tmp_path / "x.txt", []))
    with pytest.raises(InputError, match="no such file"):
        read_pairs(tmp_path / "missing.jsonl")


# --- issue 13.4: encodings, big CSV fields, hostile JSON: pairs or one line -------------------------------

import codecs as _codecs  # noqa: E402

import pytest as _pytest  # noqa: E402

from pipeline.annotation.inputs import InputError as _InputError  # noqa: E402
from pipeline.annotation.inputs import read_pairs as _read_pairs  # noqa: E402

_ROW = {"prompt": "pourquoi ça", "response_a": "a", "response_b": "b", "winner": "model_a"}


@_pytest.mark.parametrize("suffix, encode", [
    ("jsonl", lambda t: _codecs.BOM_UTF8 + t.encode()), ("jsonl", lambda t: t.encode("utf-16")),
    ("json", lambda t: _codecs.BOM_UTF8 + t.encode()), ("csv", lambda t: t.encode("utf-16")),
    ("csv", lambda t: _codecs.BOM_UTF8 + t.encode()),
])
def test_boms_and_utf16_are_read(tmp_path, suffix, encode):
    if suffix == "csv":
        text = "prompt,response_a,response_b,winner\n" + ",".join(_ROW.values()) + "\n"
    elif suffix == "json":
        text = json.dumps([_ROW])
    else:
        text = json.dumps(_ROW) + "\n"
    path = tmp_path / f"p.{suffix}"
    path.write_bytes(encode(text))
    report = _read_pairs(path)
    assert [p.query for p in report.pairs] == ["pourquoi ça"] and report.pairs[0].human == 1


@_pytest.mark.parametrize("suffix, data, says", [
    ("jsonl", (json.dumps(_ROW, ensure_ascii=False) + "\n").encode("latin-1"), "byte offset"),
    ("csv", b"prompt,response_a,response_b\ncaf\xe9,a,b\n", "byte offset"),
    ("jsonl", b"\x00\x01binary\n", "binary"),
    ("jsonl", b'{"prompt": ' + b"9" * 5000 + b"}\n", "too long"),
    ("jsonl", b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
    ("jsonl", b'{"prompt": "\\ud800", "response_a": "a", "response_b": "b"}\n', "lone surrogate"),
    ("csv", b'prompt,response_a,response_b\n"unclosed,a,b\n' + b"x" * 5000 + b"\n", "not valid CSV"),
])
def test_unreadable_inputs_are_one_line_naming_where(tmp_path, monkeypatch, suffix, data, says):
    from pipeline.annotation import inputs

    monkeypatch.setattr(inputs, "CSV_FIELD_LIMIT", 1000)  # a field past the limit, without a 64 MB file
    path = tmp_path / f"p.{suffix}"
    path.write_bytes(data)
    with _pytest.raises(_InputError) as exc:
        _read_pairs(path)
    message = str(exc.value)
    assert "\n" not in message and says in message and str(path) in message and "line" in message


def test_csv_fields_past_the_csv_module_default_limit_are_read(tmp_path):
    big = "x" * 300_000  # the csv module refuses fields over 131,072 characters by default
    path = tmp_path / "p.csv"
    path.write_text(f"prompt,response_a,response_b\nq,{big},b\n", encoding="utf-8")
    assert _read_pairs(path).pairs[0].response_1 == big


def test_embedded_json_too_deep_or_surrogate_skips_the_row(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [{"prompt": "[" * 3000 + "]" * 3000, "response_a": "a", "response_b": "b"},
            {"prompt": '["\\ud800"]', "response_a": "a", "response_b": "b"}, _ROW]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = _read_pairs(path)
    assert len(report.pairs) == 2 and report.skipped and "surrogate" in report.skipped[0][1]
