"""Generic pairs sorted in SQL (formats/generic_scan.py), from CSV, parquet and JSON: the same tables
and report as the row-by-row path, with winners as words, as probabilities (kept in
labels.prob_1) and as numbers; columns named by options; rows Python must judge go row by row."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fuzzing import SLOW
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_raw_bulk import contents, load_both_ways, loaded_or_refused_alike, taken_alike

from pipeline.ingest import raw_bulk, raw_load
from pipeline.ingest.formats import Options
from pipeline.ingest.loader import load_source

HEADER = ["id", "prompt", "response_1", "response_2", "model_1", "model_2", "winner", "rater", "topic"]


def pair_row(i: int, prompt="p", r1="a", r2="b", m1="m1", m2="m2", winner="1", rater="r", **over) -> dict:
    row = {"id": f"g{i}", "prompt": prompt, "response_1": r1, "response_2": r2, "model_1": m1, "model_2": m2,
           "winner": winner, "rater": rater, "topic": f"t{i % 2}"}
    row.update(over)
    return row


def write_csv(path: Path, rows: list[dict], header=HEADER) -> Path:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([row.get(c, "") for c in header] for row in rows)
    path.write_bytes(out.getvalue().encode("utf-8"))
    return path


def write_parquet(path: Path, rows: list[dict], schema: pa.Schema | None = None) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def probabilities(db: Path) -> list[float]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [p for (p,) in con.execute("SELECT prob_1 FROM labels WHERE prob_1 IS NOT NULL ORDER BY pair_id").fetchall()]
    finally:
        con.close()


TEXT_WINNERS = ["1", "2", "a", "B", "model_a", "Response_2", "tie", "both_bad", "", "0.7", "0.25", ".5", "1.0", "0.",
                "1.", "0.999"]
rows = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["a", "b", " ", "é, \"q\"\nx"]), st.sampled_from(["b", "c", ""]),
                          st.sampled_from(["m1", "m2", ""]), st.sampled_from(["m2", "m3"]), st.sampled_from(TEXT_WINNERS),
                          st.sampled_from(["r1", "r2", ""])),
                min_size=1, max_size=12)


def _row(i, prompt, r1, r2, m1, m2, winner, rater) -> dict:
    return pair_row(i, prompt=f"p{prompt}", r1=r1, r2=r2, m1=m1, m2=m2, winner=winner, rater=rater)


@pytest.mark.slow
@settings(SLOW, max_examples=12)
@given(first=rows, second=rows, as_parquet=st.booleans(), as_folder=st.booleans())
def test_generated_files_store_the_same_both_ways(first, second, as_parquet, as_folder, tmp_path_factory,
                                                  monkeypatch):
    folder = tmp_path_factory.mktemp("bulkgeneric")
    (folder / "parts").mkdir()
    write = write_parquet if as_parquet else write_csv
    files = [write(folder / "parts" / f"part{k}.{'parquet' if as_parquet else 'csv'}",
                   [_row(i, *r) for i, r in enumerate(part)]) for k, part in enumerate((first, second))]
    taken_alike(files, folder, as_folder, monkeypatch, Options(attribute_columns=("topic",)))


def test_probabilities_ties_and_words_are_read_as_python_reads_them(tmp_path, monkeypatch):
    winners = ["0.7", "0.2", ".5", "1.0", "0.", "a", "model_b", "TIE", "", "2"]
    path = write_csv(tmp_path / "votes.csv", [pair_row(i, prompt=f"p{i}", winner=w) for i, w in enumerate(winners)])
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]
    assert probabilities(tmp_path / "bulk.duckdb") == [0.7, 0.2, 0.0]  # 1.0 is a vote without one
    records, new, *_, skipped, _ = bulk[0]
    assert (records, new) == (10, 7)  # two ties and one without a vote left out


@pytest.mark.parametrize("winners", [[0.7, 0.5, 1.0, 2.0, None, math.nan, 0.0, 0.25], [1, 2, None, 2],
                                     ["a", None, "0.7", ""]])
def test_parquet_winners_as_numbers_and_text_with_nulls(winners, tmp_path, monkeypatch):
    rows = [pair_row(i, prompt=f"p{i}", winner=w, topic=i) for i, w in enumerate(winners)]
    path = write_parquet(tmp_path / "numbers.parquet", rows)
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch, options=Options(attribute_columns=("topic",)))
    assert bulk == by_row and calls == [True]
    expected = {float: [0.7, 0.0, 0.25], int: [], str: [0.7]}[type(winners[0])]
    assert probabilities(tmp_path / "bulk.duckdb") == expected


def test_columns_named_by_options_both_ways(tmp_path, monkeypatch):
    header = ["q", "left", "right", "verdict", "who"]
    rows = [{"q": f"q{i}", "left": f"l{i % 3}", "right": "r", "verdict": ("a", "b", "0.9")[i % 3], "who": "x"}
            for i in range(9)]
    path = write_csv(tmp_path / "named.csv", rows, header=header)
    options = Options(columns=(("prompt", "q"), ("response_1", "left"), ("response_2", "right"),
                               ("winner", "verdict"), ("rater", "who")), attribute_columns=("who",))
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch, options=options)
    assert bulk == by_row and calls == [True]


def test_attributes_named_key_and_value_are_stored_the_same_both_ways(tmp_path, monkeypatch):
    """The staged attributes are unpivoted by DuckDB into (pair_id, key, value): attributes of
    those very names, and empty or missing values, come out as Python's rows do."""
    rows = [pair_row(i, prompt=f"p{i}", key=("k", "", None)[i % 3], value=f"v{i}" if i % 2 else None)
            for i in range(6)]
    path = write_parquet(tmp_path / "named.parquet", rows)
    options = Options(attribute_columns=("key", "value"))
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch, options=options)
    assert bulk == by_row and calls == [True]
    stored = contents(tmp_path / "bulk.duckdb")["pair_attributes"]
    assert ("key", "k") in {(k, v) for _, k, v in stored} and ("value", "v1") in {(k, v) for _, k, v in stored}


def test_an_empty_response_is_skipped_whatever_its_winner(tmp_path, monkeypatch):
    """generic.read skips a row with an empty response before it reads the winner: still plain."""
    path = write_csv(tmp_path / "empty.csv", [pair_row(0), pair_row(1, r2=" ", winner="nonsense"), pair_row(2)])
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [True]


# Winners Python must judge (or refuse): the file goes row by row, or is refused alike.
ODD_TEXT = {"padded": " a ", "out of range": "2.0", "zero": "0", "dotted capital I": "TİE", "unknown": "left",
            "exponent": "0.5e0", "signed": "+0.5", "spaced number": " 0.5"}
ODD_PARQUET = {"float out of range": [0.5, 1.5], "negative": [-0.5], "whole number 3": [1, 3], "boolean": [True],
               "infinite": [math.inf]}


@pytest.mark.parametrize("name", sorted(ODD_TEXT))
def test_odd_text_winners_store_the_same_both_ways(name, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "odd.csv", [pair_row(0), pair_row(1, prompt="q", winner=ODD_TEXT[name])])
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch)
    if loaded is not None:
        bulk, by_row, calls = loaded
        assert bulk == by_row and calls == [False]


@pytest.mark.parametrize("name", sorted(ODD_PARQUET))
def test_odd_parquet_winners_store_the_same_both_ways(name, tmp_path, monkeypatch):
    rows = [pair_row(i, prompt=f"p{i}", winner=w) for i, w in enumerate(ODD_PARQUET[name])]
    path = write_parquet(tmp_path / "odd.parquet", rows)
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch)
    if loaded is not None:
        bulk, by_row, calls = loaded
        assert bulk == by_row and calls == [False]


def test_parquet_texts_of_other_types_go_row_by_row(tmp_path, monkeypatch):
    rows = [pair_row(i, prompt=f"p{i}", r1=1.5) for i in range(3)]
    bulk, by_row, calls = load_both_ways([write_parquet(tmp_path / "floats.parquet", rows)], tmp_path, monkeypatch)
    assert bulk == by_row and calls == [False]
    (tmp_path / "ints").mkdir()
    rows = [pair_row(i, prompt=i, r1=i, model_1=7) for i in range(3)]  # whole numbers read as text: taken
    bulk, by_row, calls = load_both_ways([write_parquet(tmp_path / "ints.parquet", rows)], tmp_path / "ints",
                                         monkeypatch)
    assert bulk == by_row and calls == [True]


def test_a_file_name_duckdb_cannot_be_given_goes_row_by_row(tmp_path, monkeypatch):
    """DuckDB takes a path as UTF-8 text: a name with another byte is read by Python (CSV, parquet,
    and the JSON lines of Arena and HH-RLHF alike), not a crash."""
    import os

    from formats.test_arena_scan import battle

    folder = os.fsencode(tmp_path)
    named = {b"pairs\xff.csv": lambda p: write_csv(p, [pair_row(0), pair_row(1, prompt="q")]),
             b"pairs\xff.parquet": lambda p: os.rename(write_parquet(tmp_path / "plain.parquet",
                                                                     [pair_row(0), pair_row(1, prompt="q")]), p),
             b"arena\xff.jsonl": lambda p: p.write_text(json.dumps(battle(0)) + "\n"),
             b"hh\xff.jsonl": lambda p: p.write_text(json.dumps({"chosen": "\n\nHuman: q\n\nAssistant: a",
                                                                  "rejected": "\n\nHuman: q\n\nAssistant: b"}) + "\n")}
    calls = []
    real = raw_bulk.prepare
    monkeypatch.setattr(raw_bulk, "prepare", lambda *a, **k: calls.append(real(*a, **k)) or calls[-1])
    for k, (name, write) in enumerate(named.items()):
        path = Path(os.fsdecode(os.path.join(folder, name)))
        write(path)
        stored = []
        for bulk in (True, False):
            monkeypatch.setattr(raw_load, "BULK", bulk)
            db = tmp_path / f"{k}_{bulk}.duckdb"
            report = load_source(str(path), db=db, name=f"pairs{k}")  # the file's own name is refused
            assert report.new_pairs == (2 if k < 2 else 1), name
            stored.append(contents(db))
        assert stored[0] == stored[1], name
    assert calls == [None] * len(named)  # every file declined, before DuckDB was given its name


# JSON lines: every value a JSON leaf of its own type, read as generic.read reads it.

def write_jsonl(path: Path, rows: list[dict]) -> Path:

    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_json_list(path: Path, rows: list[dict], indent: int | None = 2) -> Path:
    """The rows as one JSON list, indented as AlpacaEval writes its annotations."""

    path.write_text(json.dumps(rows, ensure_ascii=False, indent=indent), encoding="utf-8")
    return path


# JSON lines, one JSON list (indented, or all on one line), JSON lines named .json: (suffix, writer)
JSON_FILES = {"lines": (".jsonl", write_jsonl), "list": (".json", write_json_list),
              "flat list": (".json", lambda path, rows: write_json_list(path, rows, indent=None)),
              "lines named .json": (".json", write_jsonl)}


@pytest.fixture(params=sorted(JSON_FILES))
def json_file(request):
    """A writer of rows to a JSON file of each layout: json_file(folder, stem, rows) -> its path."""
    suffix, writer = JSON_FILES[request.param]
    return lambda folder, stem, rows: writer(folder / f"{stem}{suffix}", rows)


JSON_WINNERS = [1, 2, "a", "Model_B", "tie", "both_bad", "", None, "0.7", 0.7, 0.25, 0.5, 1.0, 2.0, 0.0, "1"]
json_rows = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["a", "b", " ", "é, \"q\"\nx", 7, None]),
                               st.sampled_from(["b", "c", "", 12]), st.sampled_from(["m1", "m2", "", 5, None]),
                               st.sampled_from(["m2", "m3"]), st.sampled_from(JSON_WINNERS),
                               st.sampled_from(["r1", "r2", "", None]),
                               st.sampled_from(["t", "", 3, True, False, None])),
                     min_size=1, max_size=12)


def _json_row(i, prompt, r1, r2, m1, m2, winner, rater, topic) -> dict:
    return pair_row(i, prompt=f"p{prompt}", r1=r1, r2=r2, m1=m1, m2=m2, winner=winner, rater=rater, topic=topic)


@pytest.mark.slow
@settings(SLOW, max_examples=12)
@given(first=json_rows, second=json_rows, as_folder=st.booleans(), layout=st.sampled_from(sorted(JSON_FILES)))
def test_generated_json_files_store_the_same_both_ways(first, second, as_folder, layout, tmp_path_factory,
                                                       monkeypatch):
    assume(layout != "lines named .json" or min(len(first), len(second)) > 1)  # one object alone is no list
    folder = tmp_path_factory.mktemp("bulkgenericjson")
    (folder / "parts").mkdir()
    suffix, writer = JSON_FILES[layout]
    files = [writer(folder / "parts" / f"part{k}{suffix}", [_json_row(i, *r) for i, r in enumerate(part)])
             for k, part in enumerate((first, second))]
    taken_alike(files, folder, as_folder, monkeypatch, Options(attribute_columns=("topic",)))


def test_json_winners_of_every_kind_are_read_as_python_reads_them(json_file, tmp_path, monkeypatch):
    rows = [pair_row(i, prompt=f"p{i}", winner=w, topic=i % 2 == 0) for i, w in enumerate(JSON_WINNERS)]
    path = json_file(tmp_path, "votes", rows)
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch, options=Options(attribute_columns=("topic",)))
    assert bulk == by_row and calls == [True]
    assert probabilities(tmp_path / "bulk.duckdb") == [0.7, 0.7, 0.25, 0.0]  # "0.7", 0.7, 0.25 and 0.0


def test_json_lines_gzip_and_named_columns_both_ways(tmp_path, monkeypatch):
    import gzip

    rows = [{"q": f"q{i}", "left": f"l{i % 3}", "right": "r", "verdict": ("a", 2, 0.9)[i % 3], "who": i} for i in range(9)]
    path = tmp_path / "named.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    options = Options(columns=(("prompt", "q"), ("response_1", "left"), ("response_2", "right"),
                               ("winner", "verdict"), ("rater", "who")), attribute_columns=("who",))
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch, options=options)
    assert bulk == by_row and calls == [True]


def test_a_json_row_without_a_column_reads_it_as_null_both_ways(json_file, tmp_path, monkeypatch):
    """generic.read finds the columns in the first row and reads a later row's missing one as None."""
    rows = [pair_row(0), {"prompt": "q1", "response_1": "a", "response_2": "b", "winner": "b"},
            {**pair_row(2, prompt="q2"), "Prompt": "other", "extra": [1]}]
    path = json_file(tmp_path, "ragged", rows)
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch, options=Options(attribute_columns=("topic",)))
    assert bulk == by_row and calls == [True]


# Values Python must judge (or refuse): the file goes row by row, or is refused alike.
ODD_JSON = {"winner true": {"winner": True}, "winner 3": {"winner": 3}, "winner 1.5": {"winner": 1.5},
            "winner -0.5": {"winner": -0.5}, "winner a list": {"winner": [1]}, "winner padded": {"winner": " a "},
            "response a float": {"response_1": 1.5}, "response a boolean": {"response_2": False},
            "response as parts": {"response_1": [{"type": "text", "text": "hi"}]},
            "response an object": {"response_1": {"text": "hi"}}, "prompt a float": {"prompt": 2.5},
            "model a float": {"model_1": 1.5}, "model a boolean": {"model_2": True},
            "model a huge whole number": {"model_1": 10 ** 70}, "prompt a huge whole number": {"prompt": 10 ** 320},
            "attribute a float": {"topic": 0.5}, "attribute an object": {"topic": {"a": 1}},
            "attribute a list": {"topic": ["a", 1]}, "rater an object": {"rater": {"x": 1}},
            "empty response beside a bad model": {"response_2": " ", "model_1": True},
            "empty response beside a bad response": {"response_2": "", "response_1": True}}


@pytest.mark.parametrize("name", sorted(ODD_JSON))
def test_odd_json_values_store_the_same_both_ways(name, json_file, tmp_path, monkeypatch):
    path = json_file(tmp_path, "odd", [pair_row(0), {**pair_row(1, prompt="q"), **ODD_JSON[name]}])
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch, options=Options(attribute_columns=("topic",)))
    if loaded is not None:
        bulk, by_row, calls = loaded
        assert bulk == by_row
        assert calls == [name == "empty response beside a bad model"]  # skipped before its model is read


def test_a_json_line_that_is_not_an_object_is_refused_alike(tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "mixed.jsonl", [pair_row(0)])
    path.write_text(path.read_text() + "[1, 2]\n")
    assert loaded_or_refused_alike(path, tmp_path, monkeypatch) is None


# Column names SQL must quote, or that clash with the staged columns or each other in case.
ODD_NAMES = {"quote in a name": ({'we"ird': "q"}, Options(columns=(("prompt", 'we"ird'),)), True),
             "apostrophe in an attribute": ({"it's": 1}, Options(attribute_columns=("it's",)), True),
             "accented name": ({"é": "q"}, Options(columns=(("prompt", "é"),)), True),
             "attribute named as a staged column": ({"tk": "x"}, Options(attribute_columns=("tk",)), False),
             "names alike in case": ({"Prompt": "Q"}, Options(attribute_columns=("Prompt",)), False)}


@pytest.mark.parametrize("name", sorted(ODD_NAMES))
def test_odd_json_column_names_store_the_same_both_ways(name, json_file, tmp_path, monkeypatch):
    extra, options, taken = ODD_NAMES[name]
    rows = [{**pair_row(i, prompt=f"p{i}", r1=f"a{i}"), **extra} for i in range(3)]
    bulk, by_row, calls = load_both_ways([json_file(tmp_path, "names", rows)], tmp_path, monkeypatch,
                                         options=options)
    assert bulk == by_row and calls == [taken]


# One JSON list (.json): DuckDB reads it as an array, `list_scan` counts its elements apart.

def test_a_gzip_json_list_of_many_rows_both_ways(tmp_path, monkeypatch):
    import gzip

    rows = [pair_row(i, prompt=f"p{i % 7}", r1=f"a{i % 5}", winner=("a", 2, 0.25, "tie")[i % 4]) for i in range(60)]
    path = tmp_path / "many.json.gz"
    path.write_bytes(gzip.compress(json.dumps(rows, indent=1).encode()))
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch, options=Options(attribute_columns=("topic",)))
    assert bulk == by_row and calls == [True]


# Lists DuckDB could read otherwise than Python: (the file's text, taken by the SQL path)
ODD_LISTS = {
    "spaces and newlines everywhere": ('\n [ {"prompt" : "q", "response_1":"a" ,\n"response_2": "b", '
                                       '"winner": 1}\n\n ,{"prompt": "q2", "response_1": "a", "response_2": "b",'
                                       ' "winner": "b"} ]\n\n', True),
    "escaped quotes and brackets in texts": (json.dumps([pair_row(0, prompt='q "[" }', r1="a\\\"],{")]), True),
    "a key spelled with escapes": ('[{"\\u0070rompt": "q", "response_1": "a", "response_2": "b", "winner": 1}]', False),
    "a byte-order mark": ("\ufeff" + json.dumps([pair_row(0)]), False),
    "the list in an object": (json.dumps({"data": [pair_row(0)]}), False),
    "lines named .json, the second not an object": (json.dumps(pair_row(0)) + "\n[1]\n", None),
    "one object over lines, then another on the same line": (json.dumps(pair_row(0), indent=1) + " " +
                                                             json.dumps(pair_row(1)), None),
    "text after the list": (json.dumps([pair_row(0)]) + "\n[]", None),
    "a trailing comma": (json.dumps([pair_row(0)])[:-1] + ",]", None),
    "a row that is a list": (json.dumps([pair_row(0), [1, 2]]), None),
    "a cut list": (json.dumps([pair_row(0), pair_row(1)])[:-3], None),
    "a lone surrogate": (json.dumps([pair_row(0), pair_row(1, prompt="x\ud800")]), None),
    "nested deep": (json.dumps([{**pair_row(0), "deep": "X"}]).replace('"X"', "[" * 60 + "0" + "]" * 60), True),
    "nested past the limit": (json.dumps([{**pair_row(0), "deep": "X"}]).replace('"X"', "[" * 70 + "0" + "]" * 70),
                              None),
}


@pytest.mark.parametrize("name", sorted(ODD_LISTS))
def test_odd_json_lists_store_the_same_both_ways_or_are_refused_alike(name, tmp_path, monkeypatch):
    """None: Python refuses the file, and so does the SQL path, with the same line."""
    text, taken = ODD_LISTS[name]
    path = tmp_path / "odd.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    loaded = loaded_or_refused_alike(path, tmp_path, monkeypatch)
    if taken is None:
        assert loaded is None
    else:
        assert loaded is not None
        bulk, by_row, calls = loaded
        assert bulk == by_row and calls == [taken]


@pytest.mark.parametrize("layout", [None, 2])
def test_list_scan_counts_what_duckdb_reads(layout, tmp_path, monkeypatch):
    from pipeline.ingest.formats import list_scan

    rows = [pair_row(i, prompt='"[{,}]"' * i, r1="\\" * i) for i in range(25)]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows, indent=layout), encoding="utf-8")
    monkeypatch.setattr(list_scan, "BLOCK", 7)  # the state carried across blocks cut anywhere
    assert list_scan.count(path, 64, 4300) == 25
    assert duckdb.sql(f"SELECT count(*) FROM read_json('{path}', format = 'array')").fetchone()[0] == 25
    path.write_text("[]")
    assert list_scan.count(path, 64, 4300) == 0


@pytest.mark.parametrize("text, count", [('[{"a": 1},]', None), ('[{"a": [1, ]}]', None), ('[{"a": 1 ,\n}]', None),
                                         ('[{"a": "x,]", "b": "\\",}"}]', 1), ('[{"a": 1}, {"b": [1, 2]}]', 2),
                                         ('[{"a": "\\u0041"}]', None), ('[{"a": "\\\\u0041"}]', 1)])
def test_list_scan_refuses_trailing_commas_and_escaped_ascii(text, count, tmp_path, monkeypatch):
    from pipeline.ingest.formats import list_scan

    path = tmp_path / "rows.json"
    path.write_text(text, encoding="utf-8")
    for block in (2, 1 << 20):  # the state carried across blocks, or one block
        monkeypatch.setattr(list_scan, "BLOCK", block)
        assert list_scan.count(path, 64, 4300) == count
