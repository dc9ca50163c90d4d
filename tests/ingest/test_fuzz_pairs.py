"""Property-based: raw pair files for `annotate` read into pairs, skipped rows, or one line.

`read_pairs` raises only InputError (one line naming the file and line) whatever the file
holds; rows it cannot use are counted with a reason. `annotate FILE` on a malformed file
prints one line, exits non-zero, makes no call and leaves the database file as it was.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from fuzzing import CASES, ENCODINGS, FAST, HOSTILE_JSON, SLOW, case_db, encode, one_line_error
from pipeline.annotation.inputs import InputError, read_pairs
from pipeline.cli import app
from pipeline.ingest.release_load import load_records
from records_factory import make_record

runner = CliRunner()
FIELDS = ["prompt", "response_a", "response_b", "model_a", "model_b", "winner", "id", "conversation_a",
          "turn", "group"]
texts = st.text(max_size=30) | st.sampled_from(["[/bold]", "[\"one\"]", "[" * 3000, "9" * 5000, "x" * 200_000])
raw = st.sampled_from(HOSTILE_JSON)


def _row(fields, values):
    return dict(zip(fields, values))


rows = st.lists(st.tuples(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=6, unique=True),
                          st.lists(texts, min_size=6, max_size=6)), min_size=1, max_size=4)


def _jsonl(rs, fragment) -> str:
    lines = [json.dumps(_row(f, v)) for f, v in rs]
    lines.append('{"prompt": ' + fragment + ', "response_a": "a", "response_b": "b"}')
    return "\n".join(lines) + "\n"


def _csv(rs) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(FIELDS)
    for f, v in rs:
        d = _row(f, v)
        w.writerow([d.get(k, "") for k in FIELDS])
    return out.getvalue()


pair_files = st.one_of(
    st.builds(lambda rs, frag, how: ("jsonl", encode(_jsonl(rs, frag), how)), rows, raw, st.sampled_from(ENCODINGS)),
    st.builds(lambda rs, frag, how: ("json", encode("[" + _jsonl(rs, frag).strip().replace("\n", ",") + "]", how)),
              rows, raw, st.sampled_from(ENCODINGS)),
    st.builds(lambda rs, how: ("csv", encode(_csv(rs), how)), rows, st.sampled_from(ENCODINGS)),
)


@FAST
@given(case=pair_files)
def test_any_pair_file_reads_or_is_one_line(case, tmp_path_factory):
    CASES["pairs: read"] += 1
    suffix, data = case
    file = tmp_path_factory.getbasetemp() / f"pairs.{suffix}"
    file.write_bytes(data)
    try:
        report = read_pairs(file)
    except InputError as exc:
        assert "\n" not in str(exc) and str(file) in str(exc)
        return
    assert report.rows == len(report.pairs) + len(report.skipped)
    for pair in report.pairs:
        for text in (pair.query, pair.response_1, pair.response_2):
            text.encode("utf-8")  # storable: no lone surrogate


@pytest.fixture(scope="module")
def pairs_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz-pairs") / "p.duckdb"
    load_records([make_record(i) for i in range(3)], source="first", db=db)
    return db


@SLOW
@given(case=pair_files)
def test_annotate_on_a_malformed_file_changes_nothing(case, pairs_db, tmp_path_factory, monkeypatch):
    CASES["pairs: annotate command"] += 1
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)      # no call can be made
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9")
    suffix, data = case
    folder, db, before = case_db(pairs_db, tmp_path_factory)
    file = folder / f"pairs.{suffix}"
    file.write_bytes(data)
    result = runner.invoke(app, ["annotate", str(file), "--db", str(db), "--yes"], env={"COLUMNS": "10000"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code != 0
    last = [line for line in result.output.splitlines() if line.strip()][-1:]
    assert last and last[0].startswith("error:"), result.output
    if "plan" not in result.output:
        assert one_line_error(result.output), result.output
    assert db.read_bytes() == before


def test_zz_report_cases():
    print("\nfuzz cases:", dict(CASES))
