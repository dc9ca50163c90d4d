"""Labels files: every format, choices, bad input refused whole (pipeline.judges.labels_file)."""

from __future__ import annotations

import io
import json

import pytest
from typer.testing import CliRunner

from dbquery import rows
from judges_db import N, flat, small_db, small_template, snapshot, write  # noqa: F401 - fixtures
from pipeline.cli import app
from pipeline.judges import LabelsRefused, add_judge, parse_choice, parse_labels_file
from pipeline.ingest.release_load import load_records
from records_factory import make_record


# ---------------------------------------------------------------- choices


@pytest.mark.parametrize("value, expected", [
    ("A", (1, None)), ("b", (2, None)), (1, (1, None)), (2, (2, None)), ("2", (2, None)),
    ("response_1", (1, None)), ("Response_2", (2, None)), (0.7, (1, 0.7)), ("0.25", (2, 0.25)),
    (1.0, (1, 1.0)), (0.0, (2, 0.0)), (0.5, None), (None, None),
])
def test_choices(value, expected):
    assert parse_choice(value) == expected


@pytest.mark.parametrize("value, reason", [
    ("C", "not a choice"), (3, "not a choice"), (1.5, "not a probability"), (-0.1, "not a probability"),
    (True, "not a choice"), (0, "ambiguous"), ("tie", "not a choice"), (float("nan"), "not a probability"),
    ([1], "not a choice"),
])
def test_not_choices(value, reason):
    with pytest.raises(ValueError, match=reason):
        parse_choice(value)


# ---------------------------------------------------------------- formats


def test_every_format_lands_as_given(small_db, tmp_path):
    files = {
        "list.json": json.dumps(["A", "B"] * (N // 2)),
        "object.json": json.dumps({str(i): ("response_1" if i % 2 == 0 else "response_2") for i in range(N)}),
        "records.json": json.dumps([{"pair_id": i, "preferred": 1 if i % 2 == 0 else 2} for i in range(N)]),
        "lines.jsonl": "".join(json.dumps({"pair_id": i, "preferred": "a" if i % 2 == 0 else "b"}) + "\n"
                               for i in range(N)),
        "table.csv": "pair_id,preferred\n" + "".join(f"{i},{1 if i % 2 == 0 else 2}\n" for i in range(N)),
    }
    for name, text in files.items():
        parsed = parse_labels_file(write(tmp_path, name, text), db=small_db)
        assert parsed.ok, (name, parsed.error_message())
        add_judge(f"j-{name}", parsed, db=small_db, fit=False)
        got = rows(small_db, "SELECT pair_id, preferred, prob_1 FROM labels WHERE judge = ? ORDER BY 1", [f"j-{name}"])
        assert got == [(i, 1 if i % 2 == 0 else 2, None) for i in range(N)], name
        assert rows(small_db, "SELECT source FROM judges WHERE judge = ?", [f"j-{name}"]) == [(name,)]


def test_probabilities_are_kept_ties_and_nulls_left_out(small_db, tmp_path):
    probs = {0: 0.9, 1: 0.1, 2: 0.5, 3: None, 4: 1.0, 5: 0.0}
    parsed = parse_labels_file(json.dumps({str(k): v for k, v in probs.items()}).encode(), "p.json", db=small_db)
    assert parsed.ok and parsed.ties == 1 and parsed.missing == 1
    report = add_judge("rm", parsed, db=small_db, kind="reward-model", size_b=7, note="a reward model", fit=False)
    assert report.labels == 4 and report.with_prob == 4 and report.ties == 1
    assert rows(small_db, "SELECT pair_id, preferred, prob_1 FROM labels WHERE judge = 'rm' ORDER BY 1") == [
        (0, 1, 0.9), (1, 2, 0.1), (4, 1, 1.0), (5, 2, 0.0)]
    assert rows(small_db, "SELECT kind, size_b, note FROM judges WHERE judge = 'rm'") == [
        ("reward model", 7.0, "a reward model")]


def test_csv_prob_column_and_uploads(small_db):
    content = b"pair_id,prob_1\n0,0\n1,1\n2,0.75\n"
    parsed = parse_labels_file(io.BytesIO(content), "upload.csv", db=small_db)  # as a page's upload widget
    assert parsed.ok and parsed.source == "upload.csv"
    parsed = parse_labels_file(content, "upload.csv", db=small_db)
    assert parsed.ok and [(lab.pair_id, lab.preferred, lab.prob_1) for lab in parsed.labels] == [
        (0, 2, 0.0), (1, 1, 1.0), (2, 1, 0.75)]


def test_dataset_order_is_the_first_source(small_db, tmp_path):
    load_records([make_record(100 + i) for i in range(5)], source="second", db=small_db)
    parsed = parse_labels_file(json.dumps(["B"] * N).encode(), "l.json", db=small_db)
    assert parsed.ok and {lab.pair_id for lab in parsed.labels} == set(range(N))
    wrong = parse_labels_file(json.dumps(["B"] * (N + 5)).encode(), "l.json", db=small_db)
    assert "the list has 45 labels, but source 'first' has 40 pairs" in wrong.error_message()


def test_a_repeated_record_keeps_its_position_in_dataset_order(tmp_path):
    db = tmp_path / "r.duckdb"
    recs = [make_record(i) for i in range(5)]
    load_records(recs[:3] + [recs[1]] + recs[3:], source="with a repeat", db=db)  # position 3 repeats 1
    parsed = parse_labels_file(json.dumps(["A", "B", "A", "B", "B", "A"]).encode(), "l.json", db=db)
    assert parsed.ok and parsed.repeats == 1
    by_position = dict(rows(db, "SELECT source_index, pair_id FROM pairs"))
    assert [(lab.pair_id, lab.preferred) for lab in parsed.labels] == [
        (by_position[0], 1), (by_position[1], 2), (by_position[2], 1), (by_position[4], 2), (by_position[5], 1)]


# ---------------------------------------------------------------- bad input: refused whole, nothing written


BAD = [
    ("wrong length", "short.json", json.dumps(["A"] * (N - 1)), "file: wrong length: the list has 39 labels"),
    ("unknown pair id", "ids.json", json.dumps({"0": "A", "4000": "B"}), "key '4000': no pair with id 4000"),
    ("not a choice", "bad.json", json.dumps(["A"] * 17 + ["maybe"] + ["B"] * (N - 18)),
     "entry 17: 'maybe' is not a choice"),
    ("empty file", "empty.json", "", "file: the file is empty"),
    ("blank file", "blank.csv", "  \n", "file: the file is empty"),
    ("empty list", "none.json", "[]", "file: no labels in the file"),
    ("not a pair id", "key.json", json.dumps({"first": "A"}), "key 'first': 'first' is not a pair id"),
    ("labelled twice", "twice.jsonl", '{"pair_id": 3, "preferred": "A"}\n{"pair_id": 3, "preferred": "B"}\n',
     "line 2: pair 3 is labelled twice"),
    ("duplicate key", "dup.json", '{"3": "A", "3": "B"}', "key '3' appears twice"),
    ("csv bad row", "t.csv", "pair_id,preferred\n1,A\n2,C\n", "row 3: 'C' is not a choice"),
    ("csv no header", "t.csv", "1,A\n", "needs a header with pair_id and preferred"),
    ("not json", "x.json", "[A, B]", "file: not valid JSON"),
    ("all ties", "ties.json", json.dumps({"1": 0.5}), "no pair got a label"),
    ("not utf-8", "latin.csv", b"pair_id,preferred\n1,\xe9\n", "file: not UTF-8 text"),
]


@pytest.mark.parametrize("case, name, content, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_naming_the_entry(small_db, tmp_path, case, name, content, message):
    add_judge("kept", [(0, 1), (1, 2)], db=small_db, fit=False)
    before = snapshot(small_db)
    parsed = parse_labels_file(write(tmp_path, name, content), db=small_db)
    assert not parsed.ok
    assert message in parsed.error_message()
    with pytest.raises(LabelsRefused, match=message.split(":")[0]):
        add_judge("new", parsed, db=small_db, fit=False)
    assert snapshot(small_db) == before


def test_many_bad_entries_are_counted_and_the_first_shown(small_db):
    parsed = parse_labels_file(json.dumps(["X"] * N).encode(), "x.json", db=small_db)
    msg = parsed.error_message()
    assert msg.startswith("x.json: 40 bad entries: entry 0:") and "and 30 more" in msg


def test_cli_refuses_bad_file_in_one_line(small_db, tmp_path):
    path = write(tmp_path, "bad.json", json.dumps(["A"] * 17 + ["maybe"] + ["B"] * (N - 18)))
    result = CliRunner().invoke(app, ["add-judge", "new", str(path), "--db", str(small_db)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "entry 17: 'maybe' is not a choice" in flat(result.output) and "nothing was written" in flat(result.output)
    assert rows(small_db, "SELECT count(*) FROM judges WHERE judge = 'new'") == [(0,)]
