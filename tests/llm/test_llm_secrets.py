"""Credentials written inside OPENAI_BASE_URL never reach a printed line, the journal, llm_calls or a table."""

from __future__ import annotations

import re
import sqlite3

from typer.testing import CliRunner

from dbquery import rows
from pipeline.cli import app
from pipeline.llm import LLMSettings, journal_path
from pipeline.llm.config import redact
from pipeline.ingest.release_load import load_records
from records_factory import make_record
import sys
from pathlib import Path

# the helpers live beside the annotation tests: importable whatever order the files are collected in
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "annotation"))
from test_annotation_job import _dead_url, make_input

SECRET = "s3cr3t-pw"
_ANSWER = re.compile(r"<answer_([AB])>\n(.*?)\n</answer_\1>", re.S)


def _longer_is_better(body: dict) -> str | None:
    """A judge's answer (the longer response wins); None for the annotation steps."""
    found = dict(_ANSWER.findall(body["messages"][-1]["content"]))
    if not found:
        return None
    return "A" if len(found["A"]) >= len(found["B"]) else "B"


def _with_credentials(url: str) -> str:
    return url.replace("http://", f"http://alice:{SECRET}@")


def test_redact_hides_userinfo_and_key_parameters():
    assert redact(f"http://alice:{SECRET}@host:8/v1") == "http://***@host:8/v1"
    assert redact(f"see https://{SECRET}@h/v1 and http://u:p@x/") == "see https://***@h/v1 and http://***@x/"
    assert redact(f"http://h/v1?api_key={SECRET}&model=m") == "http://h/v1?api_key=***&model=m"
    assert redact("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert LLMSettings(base_url=f"http://alice:{SECRET}@h/v1").server == "http://***@h/v1"


def _everything_stored(db) -> str:
    """Every value in the journal, llm_calls and judges, as one text to search."""
    with sqlite3.connect(journal_path(db)) as con:
        text = [str(r) for t in ("calls", "runs", "batches") for r in con.execute(f"SELECT * FROM {t}")]
    text += [str(r) for r in rows(db, "SELECT * FROM llm_calls")]
    text += [str(r) for r in rows(db, "SELECT * FROM judges")]
    return "\n".join(text)


def test_annotate_and_judge_llm_keep_credentials_out_of_lines_journal_and_tables(openai_stub, tmp_path, monkeypatch):
    db = tmp_path / "p.duckdb"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", _with_credentials(openai_stub.url))
    runner = CliRunner()
    result = runner.invoke(app, ["annotate", str(make_input(tmp_path / "pairs.jsonl", 2)), "--db", str(db), "--yes"])
    assert result.exit_code == 0, result.output
    assert "http://***@127.0.0.1" in result.output and SECRET not in result.output
    load_records([make_record(i) for i in range(4)], source="release", db=db)
    openai_stub.answer = _longer_is_better
    result = runner.invoke(app, ["judge-llm", "lefty", "--db", str(db), "--no-fit", "--no-logprobs"])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    stored = _everything_stored(db)
    assert "***@127.0.0.1" in stored and SECRET not in stored  # the server is named, its password is not
    assert SECRET not in journal_path(db).read_bytes().decode("utf-8", "replace")


def test_error_lines_do_not_show_credentials(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", _with_credentials(_dead_url()))
    result = CliRunner().invoke(app, ["annotate", str(make_input(tmp_path / "pairs.jsonl", 1)),
                                      "--db", str(tmp_path / "p.duckdb"), "--yes"])
    assert result.exit_code == 1 and "cannot reach the server at http://***@127.0.0.1" in " ".join(result.output.split())
    assert SECRET not in result.output
