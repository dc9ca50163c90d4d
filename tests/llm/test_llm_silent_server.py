"""A silent server is a failure, not a wait: timeouts end the run in one line, paid answers stay.

Every server here is on 127.0.0.1 and started by the test; every wait is bounded by a
sub-second per-request timeout.
"""

from __future__ import annotations

import sqlite3
import time

import pytest
from typer.testing import CliRunner

from openai_stub import SilentServer
from pipeline.annotation import plan_job, run_job
from pipeline.cli import app
from pipeline.llm import ConfigError, LLMSettings, journal_path, settings_from_env
import sys
from pathlib import Path

# the helpers live beside the annotation tests: importable whatever order the files are collected in
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "annotation"))
from test_annotation_job import make_input


def _settings(url: str, **kw) -> LLMSettings:
    return LLMSettings(**{"api_key": "sk-test", "base_url": url, "backoff_base": 0.01, "backoff_cap": 0.05,
                          "concurrency": 4, "timeout": 0.3, "max_timeouts": 3, **kw})


def test_timeouts_in_a_row_end_the_run_and_the_answers_paid_for_stay(openai_stub, tmp_path):
    openai_stub.hang = {"query-free-basic"}  # taken, never answered; every other step answers
    db = tmp_path / "p.duckdb"
    plan = plan_job(make_input(tmp_path / "pairs.jsonl", 2), db=db, settings=_settings(openai_stub.url))
    seen = []
    started = time.perf_counter()
    summary = run_job(plan, progress_callback=lambda p: seen.append((p.in_flight, p.timeouts, p.info())))
    assert time.perf_counter() - started < 60  # ends (a hung run never would); margin for a busy machine
    assert not summary.ok and "did not answer 3 requests in a row within 0.3 s each" in summary.aborted
    assert summary.timeouts >= 3 and summary.requests > 0
    # the progress showed the calls in flight and the timeouts as they happened
    assert max(n for n, _, _ in seen) >= 1 and max(t for _, t, _ in seen) >= 3
    assert any("in flight" in info and "timed out" in info for _, _, info in seen)
    with sqlite3.connect(journal_path(db)) as con:
        ok = con.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0]
    assert ok == summary.requests  # every answer that came is in the journal
    assert not db.exists()  # nothing was loaded, so nothing was written


def test_cli_against_a_server_that_never_answers(tmp_path, monkeypatch):
    db = tmp_path / "p.duckdb"
    src = make_input(tmp_path / "pairs.jsonl", 2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with SilentServer() as silent:
        monkeypatch.setenv("OPENAI_BASE_URL", silent.url)
        started = time.perf_counter()
        result = CliRunner().invoke(app, ["annotate", str(src), "--db", str(db), "--yes", "--timeout", "0.3",
                                          "--max-timeouts", "2", "--concurrency", "2"])
        elapsed = time.perf_counter() - started
        assert silent.connections >= 2
    out = " ".join(result.output.split())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "did not answer 2 requests in a row within 0.3 s each" in out
    assert elapsed < 60 and not db.exists()  # ends (a hung run never would); margin for a busy machine


def test_the_timeout_comes_from_the_environment_or_dotenv_and_is_checked(tmp_path):
    assert settings_from_env(env={"PREFDISSECT_LLM_TIMEOUT": "7.5"}, dotenv=None).timeout == 7.5
    dotenv = tmp_path / ".env"
    dotenv.write_text("PREFDISSECT_LLM_TIMEOUT=12\n")
    assert settings_from_env(env={}, dotenv=dotenv).timeout == 12
    assert settings_from_env(env={}, dotenv=dotenv, timeout=3).timeout == 3  # the option wins
    assert settings_from_env(env={}, dotenv=None).timeout == LLMSettings.timeout
    for bad in ("soon", "0", "-1", "nan", "inf"):
        with pytest.raises(ConfigError, match="PREFDISSECT_LLM_TIMEOUT"):
            settings_from_env(env={"PREFDISSECT_LLM_TIMEOUT": bad}, dotenv=None)
    with pytest.raises(ConfigError, match="--timeout"):
        settings_from_env(env={}, dotenv=None, timeout=0)


def test_cli_refuses_a_bad_timeout_in_one_line(tmp_path, monkeypatch):
    src = make_input(tmp_path / "pairs.jsonl", 1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("PREFDISSECT_LLM_TIMEOUT", "forever")
    result = CliRunner().invoke(app, ["annotate", str(src), "--db", str(tmp_path / "p.duckdb"), "--yes"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "PREFDISSECT_LLM_TIMEOUT: 'forever' is not a number of seconds" in " ".join(result.output.split())
