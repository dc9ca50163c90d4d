"""Bad input: files that are not tables of rows, rows that are not objects, broken JSON, odd text."""

import json

import pytest

from formats_fixtures import read
from pipeline.ingest import formats
from pipeline.ingest.formats import RowError
from pipeline.ingest.formats.base import clean, text
from pipeline.ingest.sources import SourceError


def test_a_json_object_without_a_list_of_rows_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"name": "not rows"}))
    with pytest.raises(SourceError, match=r"x.json: expected a JSON list of rows, or an object with one of"):
        formats.detect(path)


def test_a_row_that_is_not_an_object_names_the_row(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps([{"prompt": "q", "response_1": "a", "response_2": "b", "winner": 1}, "oops"]))
    with pytest.raises(RowError, match=r"x.json: row 1, field 'row': expected an object, got str"):
        read(path)


def test_broken_json_lines_name_the_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"prompt": "q", "response_1": "a", "response_2": "b", "winner": 1}) + "\n{oops\n")
    with pytest.raises(SourceError, match=r"x.jsonl: line 2\b.*not valid JSON"):
        read(path)


def test_an_unknown_role_in_a_conversation_names_the_message(tmp_path):
    conv = [{"role": "user", "content": "q"}, {"role": "narrator", "content": "x"}]
    row = {"model_a": "m", "model_b": "n", "winner": "model_a", "conversation_a": conv, "conversation_b": conv}
    path = tmp_path / "arena.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(RowError, match=r"row 0, field 'conversation_a\[1\]\.role': unknown role 'narrator'"):
        read(path)


def test_an_empty_file_has_no_records(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("")
    with pytest.raises(SourceError, match="no records"):
        formats.detect(path)


def test_an_unsupported_suffix_is_refused(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello")
    with pytest.raises(SourceError, match=r"unsupported file type '.txt'"):
        formats.resolve(str(path))


def test_lone_surrogates_become_replacement_characters_and_parts_join():
    assert clean("half \ud83d emoji") == "half \ufffd emoji"
    assert clean("ok ü") == "ok ü"
    assert text([{"type": "text", "text": "a"}, {"type": "image", "image": "x"}, {"type": "text", "text": "b"}]) == "a\n\nb"


def test_a_huge_value_quoted_in_a_row_error_still_makes_one_short_line():
    from pipeline.ingest.formats.base import RowError, winner

    with pytest.raises(RowError) as err:
        winner("x" * 200_000 + "\n" + "y", "f.jsonl: row 3", "winner")
    message = str(err.value)
    assert message.startswith("f.jsonl: row 3, field 'winner'") and len(message) < 400 and "\n" not in message
