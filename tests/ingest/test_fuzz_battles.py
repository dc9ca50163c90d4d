"""Property-based (issue 20, classes 1, 4, 5 and issue 17's "every battle kept"):

- generated rows with repeated texts, models, raters and votes: every row ends as a stored
  label, a counted skip or a counted duplicate, and every battle (query, texts, models) is its
  own pair;
- generated wrong-typed values in every field every format reads: refused in one line naming
  the row and the field, never stored as "", NULL or a repr;
- generated nesting depths and number sizes in JSON inside string fields, JSONL, JSON and CSV,
  in a folder's second file too: one line, the database file byte-identical;
- generated source names: a real load can never be wiped by the demo's safeguard;
- generated group conditions of known type: only boolean ones are stored.
"""

from __future__ import annotations

import csv
import json
import math

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzzing import CASES, FAST, SLOW, case_db, run_or_refuse_cleanly
from pipeline.ingest import formats
from pipeline.ingest.loader import load_source
from pipeline.ingest.records import RecordError
from pipeline.ingest.sources import SourceError

settings_small = settings(SLOW, max_examples=20)  # two loads per case
FEW = settings(FAST, max_examples=30)             # a guarded connection per case


def _rows(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ------------------------------------------------------------------ every row accounted for, every battle kept

row_strategy = st.fixed_dictionaries({
    "prompt": st.sampled_from(["q1", "q2"]),
    "response_1": st.sampled_from(["a", "b", ""]),
    "response_2": st.sampled_from(["b", "c"]),
    "model_1": st.sampled_from(["ref", "m1"]),
    "model_2": st.sampled_from(["m2", "m3", None]),
    "winner": st.sampled_from([1, 2, "tie", "both_bad", None]),
    "rater": st.sampled_from(["u1", "u2", None]),
})


@pytest.mark.slow
@settings_small
@given(first=st.lists(row_strategy, min_size=1, max_size=12), second=st.lists(row_strategy, min_size=1, max_size=12))
def test_every_row_is_a_label_a_counted_skip_or_a_counted_duplicate(first, second, empty_db, tmp_path_factory):
    CASES["battles: rows accounted for"] += 1
    folder, db, _ = case_db(empty_db, tmp_path_factory)
    battles = set()
    for n, batch in enumerate((first, second)):
        path = folder / f"rows{n}.jsonl"
        path.write_text("".join(json.dumps({**r, "n": n}) + "\n" for r in batch))  # n: two files, two sources
        labels_before = _rows(db, "SELECT count(*) FROM labels")[0][0]
        report = load_source(str(path), db=db)
        assert report.records == len(batch)
        assert report.new_labels + report.left_out == len(batch), report.skipped
        assert _rows(db, "SELECT count(*) FROM labels")[0][0] - labels_before == report.new_labels
        for r in batch:
            if r["response_1"] and isinstance(r["winner"], int):
                battles.add((r["prompt"], r["response_1"], r["response_2"], r["model_1"], r["model_2"]))
    stored = set(_rows(db, "SELECT query, response_1, response_2, model_1, model_2 FROM pairs"))
    assert stored == battles


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    from pipeline.store import db as dbmod

    db = tmp_path_factory.mktemp("empty") / "e.duckdb"
    with dbmod.writing(db):
        pass
    return db


# ------------------------------------------------------------------ wrong types, every format

ARENA = {"question_id": "q", "model_a": "x", "model_b": "y", "winner": "model_a", "judge": "u", "turn": 1,
         "language": "English",
         "conversation_a": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"}],
         "conversation_b": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "b"}]}
LMARENA = {**ARENA, "is_code": False, "category_tag": {"math": {"math": True}}, "judge_hash": "h"}
BASES = {
    "arena": (ARENA, ["question_id", "model_a", "model_b", "judge", "turn", "language", "winner"]),
    "lmarena": (LMARENA, ["model_a", "model_b", "judge_hash", "is_code", "turn"]),
    "alpaca-eval": ({"instruction": "q", "output_1": "a", "output_2": "b", "generator_1": "x", "generator_2": "y",
                     "annotator": "gpt4", "preference": 1.0, "dataset": "d"},
                    ["instruction", "output_1", "output_2", "generator_1", "generator_2", "annotator", "preference",
                     "dataset"]),
    "ultrafeedback": ({"prompt": "q", "chosen": "a", "rejected": "b", "score_chosen": 5, "score_rejected": 1,
                       "prompt_id": "p"}, ["prompt", "chosen", "rejected", "score_chosen", "score_rejected",
                                           "prompt_id"]),
    "arena-55k": ({"id": 1, "model_a": "x", "model_b": "y", "prompt": '["q"]', "response_a": '["a"]',
                   "response_b": '["b"]', "winner_model_a": 1, "winner_model_b": 0, "winner_tie": 0},
                  ["id", "model_a", "model_b", "prompt", "response_a", "response_b", "winner_model_a"]),
    "hh-rlhf": ({"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b"},
                ["chosen", "rejected"]),
    "forensics": ({"id": "c", "prompt": "q", "response_a": {"text": "a", "model": "x"},
                   "response_b": {"text": "b", "model": "y"}, "annotations": {"h": {"pref": "a"}}},
                  ["id", "prompt", "response_a", "response_b", "annotations"]),
    "generic": ({"prompt": "q", "response_1": "a", "response_2": "b", "model_1": "x", "model_2": "y", "winner": 1,
                 "rater": "r"}, ["prompt", "response_1", "response_2", "model_1", "model_2", "winner", "rater"]),
}
# values no text, name, vote or score field may take in silence
wrong_values = st.one_of(
    st.booleans(),
    st.dictionaries(st.sampled_from(["name", "id", "x", "value"]), st.integers(0, 9) | st.text(max_size=3),
                    min_size=1, max_size=2),
    st.lists(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=1), min_size=1, max_size=2),
    st.sampled_from([math.inf, -math.inf]),
)


@settings(FAST, max_examples=200)
@given(fmt=st.sampled_from(sorted(BASES)), which=st.integers(0, 100), value=wrong_values)
def test_a_wrong_type_in_any_field_is_refused_naming_row_and_field(fmt, which, value, tmp_path_factory):
    CASES["wrong types: read"] += 1
    base, fields = BASES[fmt]
    field = fields[which % len(fields)]
    row = {**base, field: value}
    if fmt == "forensics":  # one JSON object: annotators, then the comparisons
        path = tmp_path_factory.getbasetemp() / "wrong.json"
        path.write_text(json.dumps({"metadata": {}, "annotators": {"h": {"name": "human", "type": "human"}},
                                    "comparisons": [base, row]}))
    else:
        path = tmp_path_factory.getbasetemp() / "wrong.jsonl"
        path.write_text(json.dumps(base) + "\n" + json.dumps(row) + "\n")
    try:
        pairs = list(formats.Reading(fmt, [path], formats.Options()).pairs())
    except (SourceError, RecordError) as exc:
        message = str(exc)
        assert "\n" not in message and "row 1" in message and f"'{field}" in message, message
        return
    # accepted: only where the value has a meaning there (a boolean or a list as an attribute)
    meaningful = field in ("is_code", "language", "turn") and not isinstance(value, float)
    one_hot = field == "winner_model_a" and isinstance(value, bool)  # a parquet boolean column of the one-hot winner
    assert meaningful or one_hot, (field, value)
    # a one-hot winner set to false leaves that row without a vote: a counted skip, not a pair
    assert len(pairs) == (1 if one_hot and value is False else 2)


# ------------------------------------------------------------------ nesting and number sizes in every JSON reader

@pytest.fixture(scope="module")
def base_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz-battles") / "b.duckdb"
    path = db.parent / "base.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q{i}", "response_1": "a", "response_2": "b", "winner": 1}) + "\n"
                            for i in range(3)))
    load_source(str(path), db=db)
    return db


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _digits(n: int) -> str:
    return "9" * n


def _write(path, kind: str, hostile: str | None, where: str) -> None:
    """A file of two rows, the second with `hostile` JSON text as a string field or a raw value
    (None: two ordinary rows)."""
    if kind == "csv":  # arena-55k cells hold JSON lists
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "model_a", "model_b", "prompt", "response_a", "response_b",
                        "winner_model_a", "winner_model_b", "winner_tie"])
            w.writerow([1, "x", "y", '["hi"]', '["a"]', '["b"]', 1, 0, 0])
            cells = {"prompt": '["hi"]', "response_a": '["a2"]', "winner_model_a": 1}
            if hostile is not None:
                cells[where] = hostile
            w.writerow([2, "x", "y", cells["prompt"], cells["response_a"], '["b"]', cells["winner_model_a"], 0, 0])
        return
    second = json.dumps({**ARENA, "question_id": "q2"}) if hostile is None else json.dumps(
        {**ARENA, "question_id": "q2", where: "HOLE"}).replace('"HOLE"', (
            json.dumps(hostile) if where.startswith("conversation") else hostile))
    lines = [json.dumps(ARENA), second]
    path.write_text("\n".join(lines) + "\n" if kind == "jsonl" else "[" + ",\n".join(lines) + "]")


hostile_cases = st.tuples(
    st.sampled_from(["jsonl", "json", "csv"]),
    st.sampled_from(["deep", "digits"]),
    st.integers(1, 6000),
    st.booleans(),  # in the second file of a folder
    st.integers(0, 2),
)


@SLOW
@given(case=hostile_cases)
def test_deep_nesting_and_long_numbers_end_in_one_line(case, base_db, tmp_path_factory):
    CASES["nesting and numbers: load command"] += 1
    kind, what, size, in_folder, spot = case
    hostile = _deep(size) if what == "deep" else _digits(size)
    if kind == "csv":
        where = ["prompt", "response_a", "winner_model_a"][spot]
        if what == "digits" and where != "winner_model_a":
            hostile = f"[{hostile}]"  # a JSON list of turns holding the number
    else:
        where = ["conversation_a", "turn", "model_a"][spot]
    folder, db, before = case_db(base_db, tmp_path_factory)
    target = folder / "in"
    target.mkdir()
    if in_folder:
        _write(target / f"a_ok.{kind}", kind, None, where)
    _write(target / f"b.{kind}", kind, hostile, where)
    result = run_or_refuse_cleanly(["load", str(target if in_folder else target / f"b.{kind}"), "--db", str(db)],
                                   db, before)
    if result.exit_code == 0:  # a value that is fine there (a short number, shallow nesting)
        assert size < 4300 if what == "digits" else size < 1000, result.output


@FAST
@given(depth=st.integers(1, 6000), digits=st.integers(1, 6000), field=st.sampled_from(["conversation_a", "category_tag"]))
def test_json_inside_string_fields_reads_or_refuses_in_one_line(depth, digits, field, tmp_path_factory):
    CASES["nesting and numbers: read"] += 1
    path = tmp_path_factory.getbasetemp() / "nested.jsonl"
    for hostile in (_deep(depth), "[" + _digits(digits) + "]"):
        path.write_text(json.dumps(LMARENA) + "\n" + json.dumps({**LMARENA, field: hostile}) + "\n")
        try:
            list(formats.Reading("lmarena", [path], formats.Options()).pairs())
        except (SourceError, RecordError) as exc:
            assert "\n" not in str(exc) and "row 1" in str(exc) and field in str(exc), str(exc)


# ------------------------------------------------------------------ the demo's safeguard and names

demo_like = st.sampled_from(["demo (generated)", "Demo (generated)", "demo (generated) ", "ｄｅｍｏ (generated)",
                             "demo", "demo (GENERATED)"]) | st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp")), min_size=1, max_size=20)


@pytest.mark.slow
@SLOW
@given(name=demo_like)
def test_the_demo_safeguard_cannot_be_defeated_by_naming(name, tmp_path_factory):
    from pipeline.demo import DEMO_SOURCE, DemoRefused, build_demo
    from pipeline.ingest.release_load import load_records
    from records_factory import make_record

    CASES["demo safeguard: names"] += 1
    folder = tmp_path_factory.mktemp("demo")
    db = folder / "d.duckdb"
    load_records([make_record(0)], source=DEMO_SOURCE, kind="generated", generated=True, db=db)
    real = folder / "real.jsonl"
    real.write_text(json.dumps({"prompt": "real q", "response_1": "a", "response_2": "b", "winner": 1}) + "\n")
    try:
        load_source(str(real), db=db, name=name)
    except SourceError:
        assert _rows(db, "SELECT count(*) FROM pairs WHERE query = 'real q'") == [(0,)]
        return
    with pytest.raises(DemoRefused):
        build_demo(db, fit=False)
    assert _rows(db, "SELECT count(*) FROM pairs WHERE query = 'real q'") == [(1,)]


# ------------------------------------------------------------------ group conditions of known type

numeric = st.recursive(st.sampled_from(["1", "pair_id", "num_words_1", "n_turns", "2.5"]),
                       lambda inner: st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(
                           lambda t: f"({t[0]} {t[1]} {t[2]})"), max_leaves=4)
boolean = st.one_of(st.tuples(numeric, st.sampled_from(["<", ">=", "="]), numeric).map(lambda t: " ".join(t)),
                    st.sampled_from(["usable", "annotated", "query LIKE 'q%'"]))


@FEW
@given(expr=numeric, cond=boolean)
def test_only_boolean_conditions_are_stored(expr, cond, base_db):
    from pipeline import groups

    CASES["group conditions: types"] += 1
    with pytest.raises(groups.GroupError, match="true or false"):
        groups.count_matching(base_db, expr)
    groups.count_matching(base_db, cond)


# ------------------------------------------------------------------ odd attribute keys with a custom group present

odd_keys = st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",)), max_size=6),
                           st.booleans() | st.integers(-5, 5) | st.text(max_size=3), min_size=1, max_size=3)


@pytest.mark.slow
@SLOW
@given(tags=odd_keys)
def test_odd_attribute_keys_never_break_a_load_or_a_group(tags, base_db, tmp_path_factory):
    from pipeline import groups

    CASES["odd attribute keys: load with a group"] += 1
    folder, db, before = case_db(base_db, tmp_path_factory)
    groups.add_group("Everything", "pair_id >= 0", db=db)
    before = db.read_bytes()
    path = folder / "tags.jsonl"
    path.write_text(json.dumps({**LMARENA, "category_tag": tags}) + "\n")  # its keys become attribute keys
    result = run_or_refuse_cleanly(["load", str(path), "--db", str(db)], db, before)
    if result.exit_code == 0:
        assert groups.count_matching(db, "pair_id >= 0") == 4
        assert _rows(db, "SELECT count(*) FROM pair_groups WHERE group_name = 'Everything'") == [(4,)]
        assert _rows(db, "SELECT count(*) FROM pair_attributes WHERE trim(key) = ''") == [(0,)]


def test_zz_report_cases():
    print("\nfuzz cases:", dict(CASES))
