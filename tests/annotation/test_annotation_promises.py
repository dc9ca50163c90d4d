"""What the README promises about a failed annotate: the database file as it was, and no call on an unread plan."""

from __future__ import annotations

import hashlib

from typer.testing import CliRunner

from pipeline.annotation import plan_job, run_job
from pipeline.cli import app
from pipeline.llm import journal_path
from pipeline.ingest.release_load import load_records
from records_factory import make_record
from test_annotation_job import make_input, settings


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_annotate_that_loads_nothing_leaves_the_database_file_as_it_was(openai_stub, tmp_path):
    db = tmp_path / "p.duckdb"
    load_records([make_record(i) for i in range(3)], source="existing", db=db)
    before = _sha(db)
    openai_stub.always = "malformed"  # answers are paid for but never valid
    summary = run_job(plan_job(make_input(tmp_path / "pairs.jsonl", 2), db=db,
                               settings=settings(openai_stub.url, max_attempts=2)))
    assert not summary.ok and summary.requests > 0
    assert _sha(db) == before  # no llm_calls created or filled, no view recreated: the same bytes
    assert journal_path(db).exists()  # the answers it paid for wait in the journal
    openai_stub.always = None
    summary = run_job(plan_job(make_input(tmp_path / "pairs.jsonl", 2), db=db, settings=settings(openai_stub.url),
                               retry_failed=True))
    assert summary.ok and summary.calls_mirrored >= openai_stub.requests  # the next run records them all


def test_a_database_that_cannot_be_read_starts_no_call(openai_stub, tmp_path, monkeypatch):
    db = tmp_path / "p.duckdb"
    db.write_bytes(b"this is not a DuckDB file " * 200)
    before = _sha(db)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_stub.url)
    for args in (["annotate", str(make_input(tmp_path / "pairs.jsonl", 2))], ["annotate", "--where", "TRUE"]):
        result = CliRunner().invoke(app, args + ["--db", str(db), "--yes"])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and "p.duckdb" in result.output  # one line, names it
        assert "not a valid DuckDB" in result.output or "cannot read" in result.output
    assert openai_stub.requests == 0 and _sha(db) == before
