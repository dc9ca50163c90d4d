"""Property-based: the raw-pair formats (pipeline/ingest/formats) on damaged copies of their fixtures.

Each case takes a fixture shaped like a real release (Arena, LMArena, HH-RLHF, UltraFeedback,
AlpacaEval, generic CSV, ...), puts a hostile value where one of its values was (1e400, NaN,
a 5,000-digit integer, deep nesting, a lone surrogate, markup) or re-encodes the file, and
reads it. The readers end in pairs or in a SourceError / RecordError of one line; the `load`
command prints one line, exits non-zero and leaves the database file as it was.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from fuzzing import CASES, ENCODINGS, FAST, SLOW, case_db, encode, fragments, run_or_refuse_cleanly
from pipeline.ingest import formats
from pipeline.cli import app
from pipeline.ingest.records import RecordError
from pipeline.ingest.sources import SourceError

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parent / "formats" / "fixtures"
FILES = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".json", ".jsonl", ".csv"))
# JSON scalar values (strings and numbers after a colon) and CSV cells: the places a fragment goes
_JSON_VALUE = re.compile(r'(?<=: )("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)')


def damaged(path: Path, which: int, fragment: str, how: str) -> bytes:
    text = path.read_text(encoding="utf-8")[:200_000]
    if path.suffix == ".csv":
        lines = text.splitlines(keepends=True)
        row = 1 + which % max(1, len(lines) - 1)
        if row < len(lines):
            cells = lines[row].split(",")
            cells[which % len(cells)] = fragment.replace("\n", " ")
            lines[row] = ",".join(cells) + ("" if lines[row].endswith("\n") else "\n")
        text = "".join(lines)
    else:
        spots = list(_JSON_VALUE.finditer(text))
        if spots:
            m = spots[which % len(spots)]
            text = text[:m.start()] + fragment + text[m.end():]
    return encode(text, how)


cases = st.tuples(st.sampled_from(FILES), st.integers(0, 10_000), fragments, st.sampled_from(ENCODINGS))


@FAST
@given(case=cases)
def test_format_readers_end_in_pairs_or_one_line(case, tmp_path_factory):
    CASES["formats: read"] += 1
    path, which, fragment, how = case
    file = tmp_path_factory.getbasetemp() / f"damaged{path.suffix}"
    file.write_bytes(damaged(path, which, fragment, how))
    try:
        fmt = formats.detect(file, formats.Options())
        for pair in formats.Reading(fmt, [file], formats.Options()).pairs():
            for text in (pair.query, pair.response_1, pair.response_2):
                assert text is None or isinstance(text, str)
                if text:
                    text.encode("utf-8")  # storable: no lone surrogate
    except (SourceError, RecordError) as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 2000, message


@pytest.fixture(scope="module")
def base_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz-formats") / "f.duckdb"
    result = runner.invoke(app, ["load", str(FIXTURES / "hh_rlhf.jsonl"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


@SLOW
@given(case=cases)
def test_load_of_a_damaged_format_file_changes_nothing(case, base_db, tmp_path_factory):
    CASES["formats: load command"] += 1
    path, which, fragment, how = case
    folder, db, before = case_db(base_db, tmp_path_factory)
    file = folder / f"damaged{path.suffix}"
    file.write_bytes(damaged(path, which, fragment, how))
    run_or_refuse_cleanly(["load", str(file), "--db", str(db)], db, before)


def test_zz_report_cases():
    print("\nfuzz cases:", dict(CASES))
