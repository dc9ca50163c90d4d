"""A .json file holding one list is read element by element (`json_stream.json_list`): the same
values, and the same one-line errors, as json.loads of the whole file, at any chunk size. JSON
lines named .json are read line by line; an object holding the rows in a list in two streamed
passes (`json_stream.object_rows`); other .json files whole, as before."""

from __future__ import annotations

import gzip
import json
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest import json_stream, sources
from pipeline.ingest.formats import files

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                   st.text(max_size=12))
VALUES = st.recursive(LEAVES, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                     st.dictionaries(st.text(max_size=5), kids, max_size=3)),
                      max_leaves=8)
LAYOUTS = st.sampled_from([None, 0, 2, "\t"])
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _whole(path):
    """The reference: what json.loads of the whole text gives (sources.loads)."""
    return sources.loads(sources.read_text(path), path)


def _streamed(path):
    items = json_stream.json_list(path)
    assert items is not None
    return list(items)


def _outcome(read, path):
    try:
        return "ok", read(path)
    except sources.SourceError as exc:
        return "error", str(exc)


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Chunks of a few characters, so values, escapes and characters are cut everywhere."""
    monkeypatch.setattr(json_stream, "TEXT_CHUNK", 5)


@SETTINGS
@given(rows=st.lists(VALUES, max_size=6), indent=LAYOUTS, ascii_only=st.booleans())
def test_elements_are_json_loads_values(tmp_path, tiny_chunks, rows, indent, ascii_only):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows, indent=indent, ensure_ascii=ascii_only), encoding="utf-8")
    assert _streamed(path) == _whole(path) == rows


@SETTINGS
@given(rows=st.lists(VALUES, min_size=1, max_size=4), indent=LAYOUTS, data=st.data())
def test_a_cut_or_spoiled_list_fails_as_json_loads_does(tmp_path, tiny_chunks, rows, indent, data):
    text = json.dumps(rows, indent=indent, ensure_ascii=False)
    at = data.draw(st.integers(1, len(text)), label="at")
    spoil = data.draw(st.sampled_from(["", "x", ",", "]", "}", '"', "\\", " 1", "[", "\n"]), label="spoil")
    path = tmp_path / "rows.json"
    path.write_text(text[:at] + spoil + (text[at:] if spoil else ""), encoding="utf-8")
    whole = _outcome(_whole, path)
    if whole[0] == "ok" and not isinstance(whole[1], list):
        return  # not a list any more: json_list does not take it
    if json_stream.json_list(path) is None:
        return
    assert _outcome(_streamed, path) == whole


@pytest.mark.parametrize("text, message", [
    ("[1, 2", "line 1, column 6 (Expecting ',' delimiter)"),
    ('[{"a": 1}\n,\n{"a": 2} x]', "line 3, column 10 (Expecting ',' delimiter)"),
    ("[1,]", "line 1, column 4 (Expecting value)"),
    ("[1] [2]", "line 1, column 5 (Extra data)"),
    ('[\n  "abc', "line 2, column 3 (Unterminated string starting at)"),
])
def test_errors_name_the_whole_files_line_and_column(tmp_path, tiny_chunks, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(sources.SourceError) as got:
        _streamed(path)
    assert str(got.value) == f"{path}: not valid JSON at {message}"


def test_bad_strings_and_bytes_are_named_as_read_text_names_them(tmp_path, tiny_chunks):
    surrogate = tmp_path / "surrogate.json"
    surrogate.write_text('[{"a": "ok"}, {"prompt": "x\\ud800y"}]', encoding="utf-8")
    with pytest.raises(sources.SourceError, match=r"field '\[1\]\.prompt': holds a lone surrogate"):
        _streamed(surrogate)
    deep = tmp_path / "deep.json"
    deep.write_text("[" + "[" * (sources.MAX_DEPTH + 1) + "]" * (sources.MAX_DEPTH + 1) + "]", encoding="utf-8")
    assert _outcome(_streamed, deep) == _outcome(_whole, deep)
    assert "nested more than" in _outcome(_streamed, deep)[1]
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'[{"a": "caf\xe9"}]')
    assert _outcome(_streamed, latin) == _outcome(_whole, latin)
    nul = tmp_path / "nul.json"
    nul.write_bytes(b'[{"a": "x"}, ' + b" " * 5000 + b'"\x00"]')
    assert _outcome(_streamed, nul) == _outcome(_whole, nul)
    assert "NUL" in _outcome(_streamed, nul)[1]


def test_a_character_cut_between_chunks_is_whole(tmp_path, monkeypatch):
    path = tmp_path / "emoji.json"
    rows = [{"t": "é€😀" * k} for k in range(1, 9)]
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    for size in (1, 2, 3, 7):
        monkeypatch.setattr(json_stream, "TEXT_CHUNK", size)
        assert _streamed(path) == rows


def test_other_json_files_are_read_whole_as_before(tmp_path):
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"data": [{"a": 1}]}), encoding="utf-8")
    lines = tmp_path / "lines.json"
    lines.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"a": 1}]).encode())
    utf16 = tmp_path / "utf16.json"
    utf16.write_text(json.dumps([{"a": 1}]), encoding="utf-16")
    assert json_stream.json_list(wrapped) is None and json_stream.json_list(lines) is None
    assert json_stream.json_list(utf16) is None  # UTF-16 is decoded whole
    assert _streamed(bom) == [{"a": 1}]
    assert list(sources.iter_json(wrapped)) == [{"a": 1}]
    assert list(sources.iter_json(lines)) == [{"a": 1}, {"a": 2}]
    assert list(sources.iter_json(utf16)) == [{"a": 1}]
    table = files.open_table(wrapped)  # an object holding the rows: streamed, its lists left empty
    assert table.context == {"data": []} and list(table.rows) == [{"a": 1}]


def test_a_big_list_is_never_held_whole(tmp_path):
    """Tens of MB of rows, read with a fraction of that in memory: the file is a stream."""
    path = tmp_path / "big.json.gz"
    row = {"prompt": "p" * 500, "response_1": "a" * 2000, "response_2": "b" * 2000, "winner": 1}
    n = 5000
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        out.write("[\n" + ",\n".join(json.dumps({**row, "id": i}) for i in range(n)) + "\n]\n")
    table = files.open_table(path)
    tracemalloc.start()
    count = sum(1 for _ in table.rows)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == n
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.1f} MB for a {n * 4600 / 2**20:.0f} MB list"


@pytest.mark.parametrize("text, shape", [
    ('[{"a": 1}]', "list"),
    ('  \n{"a": 1}\n{"a": 2}\n', "lines"),
    ('{"a": 1}\n\n  {"a": 2}', "lines"),
    ('{"data": [{"a": 1}]}', None),
    ('{\n "data": [{"a": 1}]\n}\n', None),       # one object over several lines
    ('{"a": 1} {"a": 2}', None),                   # no newline between: json.loads's error, as before
    ('{"a": 1}\n[1]', None),                      # not JSON lines of objects: read whole, as before
    ('{"a": \n', None),                            # a broken first object: read whole
])
def test_the_shape_of_a_json_file(tmp_path, text, shape):
    path = tmp_path / "f.json"
    path.write_text(text, encoding="utf-8")
    assert json_stream.json_shape(path) == shape


def test_json_lines_named_json_are_streamed_and_refused_as_before(tmp_path, tiny_chunks):
    path = tmp_path / "lines.json"
    rows = [{"a": i, "t": "x" * i} for i in range(30)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert list(sources.iter_json(path)) == rows == list(files.open_table(path).rows)
    path.write_text(path.read_text() + '{"a": oops}\n', encoding="utf-8")
    for read in (lambda: list(sources.iter_json(path)), lambda: list(files.open_table(path).rows)):
        with pytest.raises(sources.SourceError, match=r"line 31: not valid JSON at column 7"):
            read()


def test_a_long_first_object_is_not_taken_for_json_lines(tmp_path, monkeypatch):
    """An object holding the rows, on several lines, is read whole once: its first value (the
    whole object) is not parsed to the end only to find it is no JSON line."""
    monkeypatch.setattr(json_stream, "FIRST_LINE_LIMIT", 100)
    monkeypatch.setattr(json_stream, "TEXT_CHUNK", 10)
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"data": [{"a": i} for i in range(50)]}, indent=1), encoding="utf-8")
    assert json_stream.json_shape(path) is None
    assert list(sources.iter_json(path)) == [{"a": i} for i in range(50)]
    lines = tmp_path / "lines.json"
    lines.write_text("".join(json.dumps({"a": i}) + "\n" for i in range(50)), encoding="utf-8")
    assert json_stream.json_shape(lines) == "lines"


# An object holding the rows (Feedback Forensics' AnnotatedPairs): its members in any order, keys
# repeated (json.loads keeps the last), lists under several keys.
KEYS = st.sampled_from(["comparisons", "data", "annotators", "metadata", "rows", "x"])
MEMBERS = st.lists(st.tuples(KEYS, st.one_of(VALUES, st.lists(VALUES, max_size=4))), max_size=6)


def _object_text(members, indent) -> str:
    sep = "\n" + " " * indent if indent else ""
    return "{" + ",".join(f"{sep}{json.dumps(k)}: {json.dumps(v, indent=indent, ensure_ascii=False)}"
                          for k, v in members) + ("\n}" if indent else "}")


def _held(path):
    """What the caller makes of a whole read: (the object, lists emptied; the rows), or None."""
    data = _whole(path)
    if not isinstance(data, dict):
        return None
    key = next((k for k in files.LIST_KEYS if isinstance(data.get(k), list)), None)
    if key is None:
        return None
    return {k: [] if isinstance(v, list) else v for k, v in data.items()}, data[key]


def _object_rows(path):
    found = json_stream.object_rows(path, files.LIST_KEYS)
    return None if found is None else (found[0], list(found[1]))


@SETTINGS
@given(members=MEMBERS, indent=st.sampled_from([0, 2]))
def test_an_object_holding_the_rows_is_streamed_as_json_loads_reads_it(tmp_path, tiny_chunks, members, indent):
    path = tmp_path / "held.json"
    path.write_text(_object_text(members, indent), encoding="utf-8")
    assert _object_rows(path) == _held(path)


@SETTINGS
@given(members=MEMBERS.filter(lambda m: any(isinstance(v, list) and k == "comparisons" for k, v in m)),
       data=st.data())
def test_a_spoiled_object_is_left_to_the_whole_read(tmp_path, tiny_chunks, members, data):
    """Anything json.loads refuses is not streamed (the caller reads it whole, and its error is
    json.loads's); anything it takes is streamed as it reads it."""
    text = _object_text(members, 1)
    at = data.draw(st.integers(1, len(text)), label="at")
    spoil = data.draw(st.sampled_from(["", "x", ",", "]", "}", '"', "\\", " 1", "[", ":", "\\ud800"]), label="spoil")
    path = tmp_path / "held.json"
    path.write_text(text[:at] + spoil + (text[at:] if spoil else ""), encoding="utf-8")
    whole = _outcome(_whole, path)
    if whole[0] == "error":
        assert json_stream.object_rows(path, files.LIST_KEYS) is None
        return
    streamed = _object_rows(path)
    # A lone surrogate in a value json.loads then drops (a repeated key's earlier list) is refused
    # by the stream's check of every element all the same: that file is read whole, to the outcome
    # above. Any other file json.loads takes is streamed.
    if not (streamed is None and spoil == "\\ud800"):
        assert streamed == _held(path)


def test_a_lone_surrogate_in_a_member_json_loads_drops_is_left_to_the_whole_read(tmp_path):
    """Found by the test above (2026-12-05): json.loads keeps the last of a repeated key, so a lone
    surrogate in the first one's list is no error of the whole read; the stream checks it as it
    reads it, and leaves the file to the whole read, whose outcome is the caller's."""
    path = tmp_path / "held.json"
    path.write_text('{"comparisons": [{"0\\ud800": null}], "comparisons": []}', encoding="utf-8")
    assert _whole(path) == {"comparisons": []}
    assert json_stream.object_rows(path, files.LIST_KEYS) is None


def test_the_rows_held_by_an_object_are_never_held_whole(tmp_path):
    """Tens of MB of comparisons, with the annotators after them, read with a fraction of that in
    memory; the forensics format is found from the streamed object."""
    path = tmp_path / "forensics.json.gz"
    n = 5000
    comparison = {"prompt": "p" * 500, "response_a": {"text": "a" * 2000, "model": "m1"},
                  "response_b": {"text": "b" * 2000, "model": "m2"}, "annotations": {"h": {"pref": "a"}}}
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        out.write('{"metadata": {"version": "2.0"}, "comparisons": [\n')
        out.write(",\n".join(json.dumps({**comparison, "id": i}) for i in range(n)))
        out.write('\n], "annotators": {"h": {"name": "crowd", "type": "human"}}}\n')
    tracemalloc.start()
    table = files.open_table(path)
    count = sum(1 for _ in table.rows)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == n and table.context["annotators"] == {"h": {"name": "crowd", "type": "human"}}
    assert table.context["comparisons"] == []
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.1f} MB for a {n * 4600 / 2**20:.0f} MB object"


def _records_whole(path):
    """The released records' reader's rule on the whole value: the first list under one of its
    keys, in the object's order."""
    data = _whole(path)
    lists = [v for k, v in data.items() if k in sources.RECORD_KEYS and isinstance(v, list)]
    if not lists:
        raise sources.SourceError("no list")
    return lists[0]


@SETTINGS
@given(members=MEMBERS, indent=st.sampled_from([0, 2]))
def test_released_records_held_by_an_object_are_streamed_in_the_objects_order(tmp_path, tiny_chunks, members,
                                                                              indent):
    path = tmp_path / "records.json"
    path.write_text(_object_text(members, indent), encoding="utf-8")
    found = json_stream.object_rows(path, sources.RECORD_KEYS, in_file_order=True)
    whole = _outcome(_records_whole, path)
    if found is None:
        assert whole[0] == "error"
        return
    assert list(found[1]) == whole[1] == list(sources.iter_json(path))
