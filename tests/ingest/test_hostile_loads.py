"""Issue 20, classes 1, 4 and 5 (data files), by hand-picked cases: each load ends in stored rows
that are right, or in one line naming the file, row and field, with the database file unchanged.
The generated cases are in test_fuzz_battles.py."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from fuzzing import one_line_error
from pipeline.cli import app
from pipeline.ingest.loader import load_source
from records_factory import make_record
from pipeline.ingest.release_load import load_records

runner = CliRunner()


def rows(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def jsonl(path, items):
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def generic(i, winner=1, **extra):
    return {"prompt": f"q{i}", "response_1": f"a{i}", "response_2": f"b{i}", "winner": winner, **extra}


def refused(args, db, *needles):
    before = db.read_bytes() if db.exists() else None
    result = runner.invoke(app, [*args, "--db", str(db)], env={"COLUMNS": "10000"})
    assert result.exit_code != 0, result.output
    assert one_line_error(result.output), result.output
    for needle in needles:
        assert needle in result.output, result.output
    assert (db.read_bytes() if db.exists() else None) == before
    return result.output


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "db.duckdb"
    result = runner.invoke(app, ["load", str(jsonl(tmp_path / "base.jsonl", [generic(i) for i in range(3)])),
                                 "--db", str(path)])
    assert result.exit_code == 0, result.output
    return path


# ------------------------------------------------------------------ class 1: data loss


def test_a_load_never_joins_a_generated_source(tmp_path):
    from pipeline.demo import DEMO_SOURCE

    db = tmp_path / "d.duckdb"
    load_records([make_record(0)], source=DEMO_SOURCE, kind="generated", generated=True, db=db)
    real = jsonl(tmp_path / "real.jsonl", [generic(i) for i in range(3)])
    refused(["load", str(real), "--name", DEMO_SOURCE], db, "generated", "--name")


def test_a_source_does_not_change_kind(db, tmp_path):
    arena = tmp_path / "x.jsonl"
    jsonl(arena, [{"instruction": "q", "output_1": "a", "output_2": "b", "preference": 1}])
    refused(["load", str(arena), "--name", "base.jsonl"], db, "kind", "pairs:generic")


def test_the_demo_keeps_real_pairs_whatever_their_source_is_called(tmp_path):
    from pipeline.demo import DemoRefused, _holds_real_data

    db = tmp_path / "d.duckdb"
    load_records([make_record(0)], source="demo (generated)", kind="generated", generated=True, db=db)
    assert not _holds_real_data(db)
    con = duckdb.connect(str(db))  # a real pair filed under the demo's source by an older version
    con.execute("UPDATE pairs SET source = 'elsewhere'")
    con.close()
    assert _holds_real_data(db)
    from pipeline.demo import build_demo
    with pytest.raises(DemoRefused):
        build_demo(db, fit=False)


def test_a_folder_file_whose_first_line_is_not_an_object_is_refused(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    jsonl(folder / "a.jsonl", [generic(i) for i in range(2)])
    (folder / "b.jsonl").write_text('"just a string"\n' + json.dumps(generic(5)) + "\n")
    out = refused(["load", str(folder)], tmp_path / "f.duckdb", "b.jsonl", "line 1", "a string")
    assert "no records" not in out
    out = refused(["load", str(folder / "b.jsonl")], tmp_path / "g.duckdb", "line 1", "expected a JSON object")
    (folder / "b.jsonl").write_text("[1, 2]\n")
    refused(["load", str(folder)], tmp_path / "f.duckdb", "b.jsonl", "line 1", "a list")


def test_conflicting_votes_are_counted_not_lost(tmp_path):
    db = tmp_path / "v.duckdb"
    path = jsonl(tmp_path / "v.jsonl", [generic(0, 1), generic(0, 2), generic(0, 2), generic(0, 1)])
    report = load_source(str(path), db=db)
    assert report.new_labels == 1
    assert report.left_out == 3
    assert any(line.startswith("2 votes left out on stored pairs: conflicting vote") for line in report.skipped)
    assert any(line.startswith("1 duplicate votes") for line in report.skipped)
    assert report.new_labels + report.left_out == report.records == 4
    assert "3 votes left out or duplicate" in report.summary()


def test_arena_votes_of_other_raters_are_counted(tmp_path):
    row = json.loads((Path(__file__).parent / "formats" / "fixtures" / "arena_conversations.jsonl")
                     .read_text().splitlines()[0])
    other = dict(row, judge="someone_else", winner="model_b")
    db = tmp_path / "a.duckdb"
    report = load_source(str(jsonl(tmp_path / "a.jsonl", [row, other])), db=db)
    assert (report.new_labels, report.left_out) == (1, 1)
    assert any("another rater" in line for line in report.skipped)


def test_battles_by_other_models_are_their_own_pairs(tmp_path):
    db = tmp_path / "b.duckdb"
    a = generic(0, 1, model_1="ref", model_2="m1")
    b = generic(0, 2, model_1="ref", model_2="m2")       # the same texts, another model
    c = generic(0, 1, model_1="ref", model_2="m1")       # a true duplicate of a
    report = load_source(str(jsonl(tmp_path / "b.jsonl", [a, b, c])), db=db)
    assert report.new_pairs == 2 and report.new_labels == 2 and report.duplicates_in_source == 1
    assert rows(db, "SELECT model_2 FROM pairs ORDER BY model_2") == [("m1",), ("m2",)]
    # a second load of the third battle's texts by yet another model: a new battle too
    d = generic(0, 1, model_1="ref", model_2="m3")
    report = load_source(str(jsonl(tmp_path / "c.jsonl", [d, b])), db=db)
    assert (report.new_pairs, report.existing_pairs, report.new_labels, report.left_out) == (1, 1, 1, 1)
    assert rows(db, "SELECT count(*), count(DISTINCT pair_key) FROM pairs") == [(3, 3)]


def test_an_empty_attribute_key_is_counted_and_groups_keep_working(db, tmp_path):
    from pipeline import groups

    # LMArena's category_tag {"": true} flattens to an empty key
    rows_in = [dict(ARENA, question_id=f"q{i}", is_code=False, category_tag={"": True, "ok": True},
                    conversation_b=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": f"b{i}"}])
               for i in range(2)]
    path = jsonl(tmp_path / "t.jsonl", rows_in)
    assert groups.add_group("G", "pair_id >= 0", db=db) == 3
    report = load_source(str(path), db=db)
    assert report.format == "lmarena"
    assert any(line.startswith("2 attribute values left out: an attribute with an empty name") for line in report.skipped)
    assert rows(db, "SELECT count(*) FROM pair_attributes WHERE trim(key) = ''") == [(0,)]
    assert groups.add_group("H", "ok", db=db) == 2
    assert groups.list_groups(db, kinds=("custom",))[0].n_pairs == 5


def test_an_empty_key_stored_by_an_older_version_does_not_break_groups(db):
    from pipeline import groups

    con = duckdb.connect(str(db))
    con.execute("INSERT INTO pair_attributes VALUES (0, '', 'x')")
    con.close()
    assert groups.add_group("G", "pair_id < 2", db=db) == 2


def test_a_load_that_would_freeze_a_group_is_refused(db, tmp_path):
    from pipeline import groups

    first = jsonl(tmp_path / "c1.jsonl", [generic(20 + i, is_code=i % 2 == 0) for i in range(2)])
    result = runner.invoke(app, ["load", str(first), "--attribute-col", "is_code", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert groups.add_group("coders", "is_code", db=db) == 1
    second = jsonl(tmp_path / "c2.jsonl", [generic(30, is_code="maybe")])
    refused(["load", str(second), "--attribute-col", "is_code"], db, "'coders'", "'maybe'", "is_code")


@pytest.mark.parametrize("condition", ["1", "pair_id", "num_words_1 - 100", "'x'"])
def test_conditions_that_are_not_boolean_are_refused(db, condition):
    from pipeline import groups

    with pytest.raises(groups.GroupError, match="true or false"):
        groups.add_group("G", condition, db=db)


# ------------------------------------------------------------------ class 4: tracebacks from data files


ARENA = {"question_id": "q", "model_a": "x", "model_b": "y", "winner": "model_a", "judge": "u",
         "conversation_a": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"}],
         "conversation_b": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "b"}]}


@pytest.mark.parametrize("value,needle", [("[" * 5000 + "]" * 5000, "nested too deeply"),
                                          ("[" + "9" * 5000 + "]", "too long")])
def test_json_inside_a_string_field_ends_in_one_line(db, tmp_path, value, needle):
    path = jsonl(tmp_path / "arena.jsonl", [ARENA, dict(ARENA, conversation_a=value)])
    refused(["load", str(path)], db, "row 1", "conversation_a", needle)
    folder = tmp_path / "two"
    folder.mkdir()
    jsonl(folder / "a.jsonl", [ARENA])
    jsonl(folder / "b.jsonl", [dict(ARENA, conversation_b=value)])
    refused(["load", str(folder)], db, "b.jsonl: row 0", "conversation_b")


def test_arena55k_cells_with_deep_json_or_long_numbers_end_in_one_line(db, tmp_path):
    import csv

    for cell in ("[" * 5000 + "]" * 5000, "[" + "9" * 5000 + "]"):
        path = tmp_path / "k.csv"
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "model_a", "model_b", "prompt", "response_a", "response_b",
                        "winner_model_a", "winner_model_b", "winner_tie"])
            w.writerow([1, "x", "y", '["hi"]', '["a"]', '["b"]', 1, 0, 0])
            w.writerow([2, "x", "y", '["hi"]', cell, '["b"]', 1, 0, 0])
        refused(["load", str(path)], db, "row 1", "response_a")


def test_pair_ids_stay_within_integer(tmp_path):
    db = tmp_path / "ids.duckdb"
    rec = make_record(0)
    rec["id"] = 2147483645
    load_records([rec], source="release", db=db)
    path = jsonl(tmp_path / "raw.jsonl", [generic(i) for i in range(5)])
    report = load_source(str(path), db=db)
    assert report.new_pairs == 5
    ids = [i for (i,) in rows(db, "SELECT pair_id FROM pairs ORDER BY pair_id")]
    assert len(ids) == 6 and len(set(ids)) == 6 and max(ids) <= 2**31 - 1
    more = jsonl(tmp_path / "more.jsonl", [generic(100 + i) for i in range(4)])
    assert load_source(str(more), db=db).new_pairs == 4


# ------------------------------------------------------------------ class 5: wrong types


WRONG = [
    ({**ARENA, "model_a": {"name": "x"}}, "model_a"),
    ({**ARENA, "judge": {"id": 1}}, "judge"),
    ({**ARENA, "turn": float("inf")}, "turn"),
    ({"instruction": "q", "output_1": "a", "output_2": "b", "preference": 1, "annotator": {"x": 1}}, "annotator"),
    ({"instruction": "q", "output_1": "a", "output_2": "b", "preference": True}, "preference"),
    ({"prompt": "q", "chosen": "a", "rejected": [{"role": "user", "content": "q"},
                                                 {"role": "assistant", "content": "b"}]}, "rejected"),
    ({"prompt": "q", "chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
      "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}],
      "score_chosen": True, "score_rejected": 1}, "score_chosen"),
    ({"prompt": "q", "response_1": "a", "response_2": {"struct": 1}, "winner": 1}, "response_2"),
]


@pytest.mark.parametrize("row,field", WRONG, ids=[f for _, f in WRONG])
def test_wrong_types_are_refused_naming_row_and_field(db, tmp_path, row, field):
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps(row, allow_nan=True) + "\n")
    refused(["load", str(path)], db, "row 0", f"field '{field}")


def test_a_forensics_response_that_is_a_dict_is_refused(db, tmp_path):
    data = {"metadata": {}, "annotators": {"h": {"name": "human", "type": "human"}},
            "comparisons": [{"id": 1, "prompt": "q", "response_a": {"text": {"x": 1}}, "response_b": {"text": "b"},
                             "annotations": {"h": {"pref": "a"}}}]}
    path = tmp_path / "f.json"
    path.write_text(json.dumps(data))
    refused(["load", str(path)], db, "row 0", "response_a.text")


def test_a_forensics_metadata_note_is_kept_under_its_name(tmp_path):
    data = {"metadata": {}, "annotators": {"h": {"name": "human", "type": "human"}},
            "comparisons": [{"id": 1, "prompt": "q", "response_a": {"text": "a"}, "response_b": {"text": "b"},
                             "annotations": {"h": {"pref": "a"}}, "metadata": "some note"}]}
    path = tmp_path / "f.json"
    path.write_text(json.dumps(data))
    db = tmp_path / "f.duckdb"
    load_source(str(path), db=db)
    assert rows(db, "SELECT key, value FROM pair_attributes") == [("metadata", "some note")]


def test_parquet_binary_prompt_and_struct_response_are_refused(db, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"prompt": [b"q"], "response_1": ["a"], "response_2": ["b"], "winner": [1]}), path)
    refused(["load", str(path)], db, "row 0", "field 'prompt'", "binary")
    pq.write_table(pa.table({"prompt": ["q"], "response_1": ["a"], "response_2": [{"x": 1}], "winner": [1]}), path)
    refused(["load", str(path)], db, "row 0", "field 'response_2'")
    # a struct as response_1 reads as the release's layout, which refuses it in its own words
    pq.write_table(pa.table({"prompt": ["q"], "response_1": [{"x": 1}], "response_2": ["b"], "winner": [1]}), path)
    refused(["load", str(path)], db, "record 0", "field '")


def test_a_csv_with_a_column_twice_is_refused(db, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("prompt,response_1,response_2,winner,prompt\nq,a,b,1,other\n")
    refused(["load", str(path)], db, "line 1", "'prompt'", "more than once")


@pytest.mark.parametrize("option", [["--prompt-col", "x"], ["--winner-col", "w"], ["--attribute-col", "a"]])
def test_column_options_with_another_format_are_refused(db, tmp_path, option):
    path = jsonl(tmp_path / "arena.jsonl", [ARENA])
    refused(["load", str(path), "--format", "arena", *option], db, "--format generic")



def test_release_votes_on_a_pair_that_has_them_are_counted(tmp_path):
    db = tmp_path / "r.duckdb"
    first = make_record(0)
    load_records([first], source="one", db=db)
    again = json.loads(json.dumps(first))
    again["id"] = 99
    report = load_records([again], source="two", db=db)
    n = len([v for v in first["preference_labels"].values() if v is not None])
    assert n > 0 and report.new_labels == 0 and report.left_out == n
    assert report.skipped and "votes left out" in report.summary()
