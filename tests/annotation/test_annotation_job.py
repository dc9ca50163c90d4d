"""Annotation jobs end to end against the local stub: plan, run, rerun, faults, batch, CLI, kill."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import ROOT, SHARED_REFERENCE
from pipeline.annotation import job_status, plan_job, run_job
from pipeline.cli import app
from journal_room import cap_journal
from pipeline.llm import LLMSettings, journal_path
from pipeline.ingest.release_load import load_records
from records_factory import make_record
from dbquery import scalar

SAMPLE = [json.loads(line) for line in (SHARED_REFERENCE / "arena_pairs_sample.jsonl").read_text().splitlines()]


def make_input(path: Path, n: int, *, extra: list[dict] | None = None) -> Path:
    """n distinct Arena-style pairs (half bring a reference answer), plus extra rows."""
    rows = []
    for i in range(n):
        row = dict(SAMPLE[i % 2])
        row.update(id=100 + i, prompt=f"{row['prompt']} (case {i})", response_a=f"{row['response_a']} [{i}]",
                   response_b=f"{row['response_b']} [{i}]", winner="model_a" if i % 3 else "model_b")
        if i % 2:
            del row["gpt4_ref_output"]
        rows.append(row)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows + (extra or [])))
    return path


def settings(url: str, **kw) -> LLMSettings:
    return LLMSettings(**{"api_key": "sk-test", "base_url": url, "backoff_base": 0.01, "backoff_cap": 0.2,
                          "concurrency": 8, **kw})


def test_annotate_load_and_rerun_for_free(openai_stub, tmp_path):
    db = tmp_path / "p.duckdb"
    src = make_input(tmp_path / "pairs.jsonl", 6, extra=[{"prompt": "tie?", "response_a": "a", "response_b": "b",
                                                          "winner": "tie"}])
    plan = plan_job(src, db=db, settings=settings(openai_stub.url))
    assert len(plan.tasks) == 6 and plan.skipped_counts == {"tie": 1}
    assert plan.calls_total == 6 * 6 - 3  # three pairs bring their reference
    assert plan.est_cost_usd > 0 and "approximated" in plan.token_method or "tiktoken" in plan.token_method
    assert not db.exists()  # planning writes nothing
    summary = run_job(plan)
    assert summary.ok and summary.pairs_annotated == summary.pairs_new == 6
    assert summary.requests == openai_stub.requests == plan.calls_total and summary.cost_usd > 0
    assert scalar(db, "SELECT count(*) FROM pairs") == 6
    assert scalar(db, "SELECT count(*) FROM labels WHERE judge = 'human'") == 6
    assert scalar(db, "SELECT count(*) FROM ratings") == 6 * 2 * 20
    assert scalar(db, "SELECT count(*) FROM pairs WHERE source_id = '100'") == 1
    assert scalar(db, "SELECT count(*) FROM pair_groups WHERE group_name = 'Contain Explicit Constraints'") == 6
    assert scalar(db, "SELECT count(*) FROM llm_calls WHERE status = 'ok'") == plan.calls_total
    assert scalar(db, "SELECT count(DISTINCT pair_key) FROM llm_calls JOIN pairs USING (pair_key)") == 6
    assert scalar(db, "SELECT round(sum(cost_usd), 6) FROM llm_calls") == pytest.approx(summary.cost_usd, abs=1e-5)

    again = plan_job(src, db=db, settings=settings(openai_stub.url))
    assert not again.tasks and len(again.present) == 6 and again.calls_to_make == 0
    summary = run_job(again)
    assert summary.ok and summary.requests == 0 and openai_stub.requests == plan.calls_total
    assert scalar(db, "SELECT count(*) FROM pairs") == 6 and scalar(db, "SELECT count(*) FROM labels") == 6


def test_a_journal_without_room_stops_asking_loads_what_is_complete_and_goes_on_later(openai_stub, tmp_path,
                                                                                       monkeypatch):
    """The journal's file refuses to grow (SQLite's max_page_count: SQLITE_FULL, as a full disk):
    the job stops asking and says why, the pairs whose answers were all kept are loaded, and a run
    with room asks only what is missing."""
    db, src = tmp_path / "p.duckdb", make_input(tmp_path / "pairs.jsonl", 12)
    room = cap_journal(monkeypatch, 8)
    plan = plan_job(src, db=db, settings=settings(openai_stub.url, concurrency=2))
    summary = run_job(plan)
    assert summary.aborted.startswith(f"the call journal {journal_path(db)} has no room (database or disk is full)")
    with sqlite3.connect(journal_path(db)) as con:
        kept = con.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0]
    asked = openai_stub.requests
    # it stopped: past what it kept, only the answers it could not store and the calls then in flight
    assert 0 < kept < asked <= kept + 6 < plan.calls_total
    done = scalar(db, "SELECT count(*) FROM pairs") if db.exists() else 0
    assert 0 < done == summary.pairs_annotated < 12  # the pairs whose answers were all kept
    room["pages"] = None
    again = run_job(plan_job(src, db=db, settings=settings(openai_stub.url)))
    assert again.ok and scalar(db, "SELECT count(*) FROM pairs") == 12
    assert openai_stub.requests - asked == plan.calls_total - kept  # nothing kept is asked again


def test_malformed_missing_fenced_rate_limited_and_failing_answers_are_survived(openai_stub, tmp_path):
    db = tmp_path / "p.duckdb"
    openai_stub.fault("malformed", step="query-free-basic", times=2)
    openai_stub.fault("missing", step="query-facts")
    openai_stub.fault("empty", step="reference")
    openai_stub.fault("fenced", step="accuracy", times=2)
    openai_stub.fault("429", times=3)
    openai_stub.fault("500", times=2)
    plan = plan_job(make_input(tmp_path / "pairs.jsonl", 4), db=db, settings=settings(openai_stub.url))
    summary = run_job(plan)
    assert summary.ok and summary.pairs_annotated == 4 and not summary.pairs_failed
    assert summary.invalid_answers == 4 and summary.retries == 5
    assert summary.requests == plan.calls_total + 4


def test_never_valid_changes_nothing_then_retry_failed_finishes(openai_stub, tmp_path):
    db = tmp_path / "p.duckdb"
    load_records([make_record(i) for i in range(3)], source="existing", db=db)
    before = scalar(db, "SELECT count(*) FROM pairs")
    openai_stub.always = "malformed"
    src = make_input(tmp_path / "pairs.jsonl", 2)
    summary = run_job(plan_job(src, db=db, settings=settings(openai_stub.url, max_attempts=2)))
    assert not summary.ok and "no pair could be annotated" in summary.aborted
    assert "invalid answer: not valid JSON" in summary.aborted  # the reason, not only the step's name
    assert len(summary.pairs_failed) == 2 and "not valid JSON" in summary.pairs_failed[0][1]
    assert scalar(db, "SELECT count(*) FROM pairs") == before
    paid = openai_stub.requests
    openai_stub.always = None
    plan = plan_job(src, db=db, settings=settings(openai_stub.url))
    # facts, ratings and accuracy failed for both pairs (the one reference is plain text, so it passed)
    assert plan.calls_failed == 8 and plan.calls_to_make == 0  # failed calls are not asked again by default
    plan = plan_job(src, db=db, settings=settings(openai_stub.url), retry_failed=True)
    assert plan.calls_to_make == 8 + 2  # and the follow-ups that need the facts
    summary = run_job(plan)
    assert summary.ok and summary.pairs_annotated == 2 and summary.requests == plan.calls_to_make
    assert openai_stub.requests == paid + plan.calls_to_make
    assert scalar(db, "SELECT count(*) FROM pairs") == before + 2


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@pytest.mark.parametrize("case", ["no server", "bad key", "no key"])
def test_cli_fails_in_one_clear_line(openai_stub, tmp_path, monkeypatch, case):
    db = tmp_path / "p.duckdb"
    src = make_input(tmp_path / "pairs.jsonl", 2)
    monkeypatch.chdir(tmp_path)  # no .env from the repo
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_stub.url)
    if case == "no server":
        monkeypatch.setenv("OPENAI_BASE_URL", _dead_url())
    elif case == "bad key":
        openai_stub.always = "401"
    else:
        monkeypatch.delenv("OPENAI_API_KEY")
    result = CliRunner().invoke(app, ["annotate", str(src), "--db", str(db), "--yes"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    expected = {"no server": "cannot reach the server", "bad key": "refused the API key",
                "no key": "OPENAI_API_KEY is not set"}[case]
    assert len(errors) == 1 and expected in " ".join(result.output.split())
    assert " ".join(result.output.split()).count(expected) == 1  # said once, not as the plan's last line too
    assert not db.exists()  # the released tables are untouched (there are none)


def test_cli_annotates_and_prints_the_plan_and_summary(openai_stub, tmp_path, monkeypatch):
    db = tmp_path / "p.duckdb"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_stub.url)
    result = CliRunner().invoke(app, ["annotate", str(SHARED_REFERENCE / "arena_pairs_sample.jsonl"),
                                      "--db", str(db), "--max-pairs", "1", "--concurrency", "2"])
    assert result.exit_code == 1 and "--yes" in result.output  # no terminal to confirm on
    result = CliRunner().invoke(app, ["annotate", str(SHARED_REFERENCE / "arena_pairs_sample.jsonl"),
                                      "--db", str(db), "--max-pairs", "1", "--yes"])
    out = " ".join(result.output.split())
    assert result.exit_code == 0, out
    assert "calls: 5 needed" in out and "estimated cost: $" in out and "pairs annotated: 1 of 1" in out
    assert scalar(db, "SELECT count(*) FROM pairs") == 1


def test_batch_api_round_trip_and_resume_after_a_crash(openai_stub, tmp_path):
    db = tmp_path / "p.duckdb"
    src = make_input(tmp_path / "pairs.jsonl", 5)
    openai_stub.fault("malformed", step="query-free-basic")  # one answer goes to a second round
    s = settings(openai_stub.url, batch_poll_interval=0.01)

    class Crash(Exception):
        pass

    def crash_on_first_poll(batch):
        raise Crash()

    plan = plan_job(src, db=db, settings=s, batch=True)
    assert plan.est_cost_usd == pytest.approx(plan_job(src, db=db, settings=s).est_cost_usd / 2)
    with pytest.raises(Crash):
        run_job(plan, batch_poll_callback=crash_on_first_poll)
    assert len(openai_stub.batches) == 1 and job_status(db).open_batches == 1
    summary = run_job(plan_job(src, db=db, settings=s, batch=True))
    assert summary.ok and summary.pairs_annotated == 5, summary.lines()
    # stage A (resumed, not resubmitted), its retry round, stage B
    assert len(openai_stub.batches) == 3 and job_status(db).open_batches == 0
    assert set(openai_stub.by_fingerprint.values()) == {1} or \
        sorted(openai_stub.by_fingerprint.values())[-1] == 2  # only the malformed one was asked twice
    assert sum(openai_stub.by_fingerprint.values()) == plan.calls_total + 1
    assert scalar(db, "SELECT count(*) FROM llm_calls WHERE via = 'batch' AND status = 'ok'") == plan.calls_total
    cost = scalar(db, "SELECT sum(cost_usd) FROM llm_calls")
    assert cost == pytest.approx(summary.cost_usd)


READER = """
import sys, time, duckdb
from pipeline.store import db as dbmod
path, seconds = sys.argv[1], float(sys.argv[2])
reads = errors = 0
slowest = 0.0
end = time.time() + seconds
while time.time() < end:
    started = time.time()
    try:
        with dbmod.reading(path, timeout=30) as con:
            con.execute("SELECT count(*) FROM pairs").fetchone()
        reads += 1
    except Exception as exc:
        errors += 1
        print(repr(exc), file=sys.stderr)
    slowest = max(slowest, time.time() - started)
    time.sleep(0.005)
print(reads, errors, slowest)
"""


def test_the_dashboard_reads_while_a_job_writes(openai_stub, tmp_path):
    db = tmp_path / "p.duckdb"
    load_records([make_record(i) for i in range(3)], source="existing", db=db)
    openai_stub.latency = 0.01
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), "6"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # the reader is up and reading
    summary = run_job(plan_job(make_input(tmp_path / "pairs.jsonl", 12), db=db,
                               settings=settings(openai_stub.url, concurrency=4)), load_every=2)
    out, err = reader.communicate(timeout=60)
    reads, errors, slowest = out.split()
    assert summary.ok and summary.pairs_annotated == 12 and len(summary.loads) >= 5
    assert int(errors) == 0, err
    # readers never wait for the writer: every read succeeded while the job published; the bound on the
    # longest read only catches a reader stuck behind the whole job (a busy 2-core machine makes 2 s flaky)
    assert int(reads) >= 1 and float(slowest) < 15
    assert scalar(db, "SELECT count(*) FROM pairs") == 15


def test_sigkill_midway_then_rerun_completes_without_asking_twice(openai_stub, tmp_path):
    db = tmp_path / "p.duckdb"
    src = make_input(tmp_path / "pairs.jsonl", 16)
    openai_stub.latency = 0.03
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": openai_stub.url,
           "PREFDISSECT_TIKTOKEN": "off"}
    cmd = [sys.executable, "-m", "pipeline", "annotate", str(src), "--db", str(db), "--yes", "--concurrency", "4"]
    total = plan_job(src, db=db, settings=settings(openai_stub.url)).calls_total
    jfile = journal_path(db)

    def answered() -> int:
        try:
            with sqlite3.connect(f"file:{jfile}?mode=ro", uri=True, timeout=5) as con:
                return con.execute("SELECT count(*) FROM calls WHERE raw_text IS NOT NULL").fetchone()[0]
        except sqlite3.OperationalError:  # not created yet
            return 0

    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180  # a loaded machine starts the job slowly: wait for the answers, not a clock
    while answered() < total // 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    status = job_status(db)
    assert status.running and status.calls.get("ok", 0) > 0
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.3)  # requests already on the wire reach the server's counters
    stored = answered()
    asked_before = openai_stub.requests
    assert 0 < stored < total and not db.exists()  # killed before anything was loaded
    assert job_status(db).run["state"] == "interrupted"

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rerun_requests = openai_stub.requests - asked_before
    assert rerun_requests == total - stored  # every stored answer was reused
    counts = openai_stub.by_fingerprint
    assert len(counts) == total
    assert sum(n - 1 for n in counts.values()) <= 4  # at most the calls in flight at the kill
    assert scalar(db, "SELECT count(*) FROM pairs") == 16
    assert scalar(db, "SELECT count(*) FROM labels") == 16
    assert scalar(db, "SELECT count(*) FROM llm_calls") == answered()
    assert scalar(db, "SELECT count(DISTINCT request_hash) FROM llm_calls WHERE status = 'ok'") == total


def test_finished_pairs_load_in_input_order_whatever_order_they_finish(tmp_path, monkeypatch):
    # Pairs finish in any order (concurrency); their ids should follow the file, as a load's do.
    from pipeline.annotation import job

    loaded = []
    monkeypatch.setattr(job, "load_records", lambda records, **kw: loaded.append([r["id"] for r in records])
                        or type("R", (), {"new_pairs": len(records), "summary": lambda self: ""})())
    plan = type("P", (), {"input": tmp_path / "x.jsonl", "db": tmp_path / "p.duckdb", "source_name": "annotated:x"})()
    loader = job._Loader(plan, job.JobSummary(), every=10)
    for position in (2, 0, 1):
        loader.add({"id": f"row{position}"}, position)
    loader.flush()
    assert loaded == [["row0", "row1", "row2"]]
