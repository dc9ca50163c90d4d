"""Property-based: malformed released-format files never end in a traceback (issue 13.4).

Two levels: the readers (sources.loads / text_lines + records.parse_record) on many
generated cases, and the `load` command on fewer, where the invariant is the issue's:
one line, a non-zero exit, and the database file byte for byte as it was.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from fuzzing import (CASES, ENCODINGS, FAST, SLOW, case_db, encode, fragments, json_with_hole, leaf_paths,
                     run_or_refuse_cleanly)
from pipeline.ingest import sources
from pipeline.cli import app
from pipeline.ingest.records import RecordError, parse_record
from records_factory import make_record

runner = CliRunner()
PATHS = leaf_paths(make_record(0))


@FAST
@given(path=st.sampled_from(PATHS), fragment=fragments)
def test_a_hostile_value_anywhere_is_a_record_or_one_error(path, fragment, tmp_path_factory):
    CASES["records: hostile value, parsed"] += 1
    line = json_with_hole(make_record(0), path, fragment)
    file = tmp_path_factory.getbasetemp() / "one.jsonl"
    file.write_text(line + "\n", encoding="utf-8")
    try:
        for i, rec in enumerate(sources.iter_jsonl(file)):
            pair = parse_record(rec, i)
            for r in (pair.r1, pair.r2):
                assert r.num_words is None or 0 <= r.num_words < 2**31
                assert all(v is None or abs(v) < float("inf") for v in r.ratings.values())
    except (RecordError, sources.SourceError) as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 600
        assert "record 0" in message or "line 1" in message


@FAST
@given(how=st.sampled_from(ENCODINGS), n=st.integers(1, 3))
def test_any_encoding_reads_or_names_the_byte(how, n, tmp_path_factory):
    CASES["records: encodings, parsed"] += 1
    text = "".join(json.dumps(make_record(i), ensure_ascii=False) + "\n" for i in range(n)).replace(
        "query number", "quëry number")
    file = tmp_path_factory.getbasetemp() / "enc.jsonl"
    file.write_bytes(encode(text, how))
    try:
        got = [parse_record(r, i) for i, r in enumerate(sources.iter_jsonl(file))]
    except (RecordError, sources.SourceError) as exc:
        assert how in ("latin-1", "binary", "truncated"), exc
        assert "\n" not in str(exc) and ("offset" in str(exc) or "line" in str(exc))
        return
    assert how in ("utf-8", "utf-8-sig", "utf-16", "truncated")
    if how != "truncated":
        assert [p.query for p in got] == [f"quëry number {i}" for i in range(n)]


@pytest.fixture(scope="module")
def base_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz-load")
    src = folder / "first.jsonl"
    src.write_text("".join(json.dumps(make_record(i)) + "\n" for i in range(3)))
    db = folder / "base.duckdb"
    assert runner.invoke(app, ["load", str(src), "--db", str(db)]).exit_code == 0
    return db


@SLOW
@given(path=st.sampled_from(PATHS), fragment=fragments, how=st.sampled_from(ENCODINGS), seed=st.integers(0, 9))
def test_load_of_a_malformed_file_changes_nothing(path, fragment, how, seed, base_db, tmp_path_factory):
    CASES["records: load command"] += 1
    folder, db, before = case_db(base_db, tmp_path_factory)
    lines = [json.dumps(make_record(100 + i)) for i in range(3)]
    lines.insert(random.Random(seed).randrange(4), json_with_hole(make_record(200), path, fragment))
    src = folder / "bad.jsonl"
    src.write_bytes(encode("\n".join(lines) + "\n", how))
    run_or_refuse_cleanly(["load", str(src), "--db", str(db)], db, before)


def test_zz_report_cases():
    print("\nfuzz cases:", dict(CASES))
