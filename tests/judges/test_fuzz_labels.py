"""Property-based: malformed labels files end in one line, never a traceback (issue 13.4).

The reader (`parse_labels_file`, which the Add judge page calls on uploads) collects every
problem and raises nothing for any content; `add-judge` prints one line, exits non-zero
and leaves the database file byte for byte as it was.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import CASES, ENCODINGS, FAST, HOSTILE_JSON, SLOW, case_db, encode, run_or_refuse_cleanly
from pipeline.judges import parse_labels_file
from pipeline.ingest.release_load import load_records
from records_factory import make_record

N = 5

choice = st.sampled_from(["A", "B", "1", "2", "0.7", "0.5", "", "x", "[/b]"]) | st.sampled_from(HOSTILE_JSON)
pair_id = st.sampled_from(["0", "1", "4", "-1", "2147483648", "1e400", "9" * 5000, "NaN", '"\\ud800"', "null"])


def _json_text(kind: str, ids: list[str], values: list[str]) -> str:
    if kind == "list":
        return "[" + ", ".join(v if v else '""' for v in values) + "]"
    if kind == "object":
        return "{" + ", ".join(f'"{i.strip(chr(34))}": {v or chr(34) * 2}' for i, v in zip(ids, values)) + "}"
    if kind == "jsonl":
        return "".join(f'{{"pair_id": {i}, "preferred": {v or chr(34) * 2}}}\n' for i, v in zip(ids, values))
    return "pair_id,preferred\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, values))


labels_files = st.builds(
    lambda kind, ids, values, how, big: (kind, encode(_json_text(kind, ids, values) + big, how)),
    st.sampled_from(["list", "object", "jsonl", "csv"]),
    st.lists(pair_id, min_size=1, max_size=N), st.lists(choice.map(lambda c: c if c[:1] in '"[{-0123456789tnNI' else json.dumps(c)), min_size=1, max_size=N),
    st.sampled_from(ENCODINGS),
    st.sampled_from(["", "", ',"' + "x" * 200_000 + '"', "[" * 5000, "\x00"]))


@pytest.fixture(scope="module")
def labels_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz-labels") / "l.duckdb"
    load_records([make_record(i) for i in range(N)], source="first", db=db)
    return db


SUFFIX = {"list": "json", "object": "json", "jsonl": "jsonl", "csv": "csv"}


@FAST
@given(case=labels_files)
def test_any_labels_file_parses_or_lists_its_problems(case, labels_db):
    CASES["labels: parsed"] += 1
    kind, data = case
    parsed = parse_labels_file(data, f"labels.{SUFFIX[kind]}", db=labels_db)
    if not parsed.ok:
        message = parsed.error_message()
        assert "\n" not in message and len(message) < 2000
        assert all(len(str(e)) < 400 for e in parsed.errors)
    else:
        assert all(0 <= lab.pair_id < N and lab.preferred in (1, 2) for lab in parsed.labels)


@SLOW
@given(case=labels_files)
def test_add_judge_with_a_malformed_file_changes_nothing(case, labels_db, tmp_path_factory):
    CASES["labels: add-judge command"] += 1
    kind, data = case
    folder, db, before = case_db(labels_db, tmp_path_factory)
    file = folder / f"labels.{SUFFIX[kind]}"
    file.write_bytes(data)
    run_or_refuse_cleanly(["add-judge", "fuzzed", str(file), "--db", str(db), "--no-fit"], db, before)


@pytest.mark.parametrize("how", ["utf-8", "utf-8-sig", "utf-16"])
def test_labels_with_a_bom_or_utf16_are_read(how, labels_db):
    parsed = parse_labels_file(encode(json.dumps({"0": "A", "1": "B"}), how), "l.json", db=labels_db)
    assert parsed.ok and [(lab.pair_id, lab.preferred) for lab in parsed.labels] == [(0, 1), (1, 2)]


@pytest.mark.parametrize("content, says", [
    ('{"0": "A", "99999999999999999999999": "B"}', "at most 2,147,483,647"),
    ('{"0": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply"),
    ('{"0": ' + "9" * 5000 + "}", "too long"),
    # past the csv module's field limit: one line either way (pipeline.ingest.formats raises the limit process-wide)
    ("pair_id,preferred\n0," + "x" * 200_000 + "\n", ("not valid CSV", "is not a choice")),
    ('{"0": 1e400}', "not a probability"),
])
def test_hostile_labels_are_one_line(content, says, labels_db):
    name = "l.csv" if content.startswith("pair_id") else "l.json"
    parsed = parse_labels_file(content.encode(), name, db=labels_db)
    message = parsed.error_message()
    assert not parsed.ok and "\n" not in message and len(message) < 400
    assert any(s in message for s in ((says,) if isinstance(says, str) else says)), message


def test_zz_report_cases():
    print("\nfuzz cases:", dict(CASES))
