"""Issue 11 and 13.2: an analyst holds the file open read-only for as long as they like while
jobs load, fit, add judges and annotate; writers queue behind each other with a message;
a job that gives up, or meets a read-write client, says so in one line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import ROOT
from dbquery import rows
from pipeline.demo import generate_records
from pipeline.ingest.release_load import load_records

COUNTS = ("SELECT (SELECT count(*) FROM pairs), (SELECT count(*) FROM labels), (SELECT count(*) FROM judges), "
          "(SELECT count(*) FROM fit_runs)")

# keeps a plain read-only DuckDB connection open until told to quit; prints counts on request
HOLDER = textwrap.dedent(f"""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        print(list(con.execute({COUNTS!r}).fetchone()), flush=True)
""")

# takes the writer lock the way every job does, says so, and keeps it until told (a line on stdin)
LOCKER = textwrap.dedent("""
    import sys
    from pipeline.store import db
    with db.writing(sys.argv[1], job="holder script"):
        print("locked", flush=True)
        sys.stdin.readline()
""")


def lock(db: Path) -> subprocess.Popen:
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert locker.stdout.readline().strip() == "locked"
    return locker


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("concurrency")
    base = folder / "base.duckdb"
    load_records(generate_records(seed=3, group_sizes={"Code": 80, "Advice": 80}), source="base", db=base)
    extra = folder / "extra.jsonl"
    extra.write_text("".join(json.dumps(r) + "\n" for r in generate_records(seed=99, group_sizes={"Others": 60})))
    labels = folder / "labels.json"
    ids = [i for (i,) in rows(base, "SELECT pair_id FROM pairs ORDER BY pair_id")]
    labels.write_text(json.dumps({str(i): "A" if (i * 7) % 3 else "B" for i in ids}))
    raw = folder / "raw.jsonl"
    raw.write_text("".join(json.dumps({"prompt": f"How do I fold a paper crane, step {i}?", "response_a": f"Fold it {i}.",
                                       "response_b": f"Crease it first, then fold {i}.", "model_a": "m-a",
                                       "model_b": "m-b", "winner": "model_a" if i % 2 else "model_b"}) + "\n"
                           for i in range(4)))
    return {"base": base, "extra": extra, "labels": labels, "raw": raw}


def commands(inputs) -> dict[str, list[str]]:
    return {"load": ["load", str(inputs["extra"]), "--name", "extra"],
            "fit": ["fit", "--judge", "human"],
            "add-judge": ["add-judge", "analyst-judge", str(inputs["labels"])],
            "annotate": ["annotate", str(inputs["raw"]), "--yes", "--concurrency", "4"]}


def env_for(stub_url: str, **extra) -> dict:
    return {**os.environ, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": stub_url, "PREFDISSECT_TIKTOKEN": "off",
            **extra}


def run_cli(argv, db, env, timeout=300) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pipeline", *argv, "--db", str(db)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - started


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_jobs_run_at_full_speed_while_an_analyst_holds_the_file_read_only(inputs, openai_stub, tmp_path):
    free, held = tmp_path / "free.duckdb", tmp_path / "held.duckdb"
    shutil.copyfile(inputs["base"], free)
    shutil.copyfile(inputs["base"], held)
    env = env_for(openai_stub.url)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(held)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    times: dict[str, tuple[float, float]] = {}
    try:
        holder.stdin.write("count\n")
        holder.stdin.flush()
        before = json.loads(holder.stdout.readline())
        for name, argv in commands(inputs).items():
            proc_free, t_free = run_cli(argv, free, env)
            assert proc_free.returncode == 0, proc_free.stderr
            proc_held, t_held = run_cli(argv, held, env)
            assert proc_held.returncode == 0, proc_held.stderr
            assert "waiting" not in proc_held.stderr  # nothing to wait for: readers hold no lock that matters
            times[name] = (t_free, t_held)
        holder.stdin.write("count\n")
        holder.stdin.flush()
        still = json.loads(holder.stdout.readline())
    finally:
        holder.communicate("quit\n", timeout=30)
    print({k: f"{a:.2f} s free, {b:.2f} s held" for k, (a, b) in times.items()})
    for name, (t_free, t_held) in times.items():
        # a writer that waited for the held reader would never finish (it lets go only after this loop), and
        # "waiting" is asserted absent above; the time bound only catches gross slowness. 2x + 1 s failed on a
        # busy 2-core machine (start-up noise of one CLI run can be several seconds)
        assert t_held < 3 * t_free + 20, f"{name}: {t_held:.2f} s with the reader held, {t_free:.2f} s without"
    assert still == before  # the held connection reads the state it opened
    now = [list(r) for r in rows(held, COUNTS)]
    assert now == [list(r) for r in rows(free, COUNTS)]
    assert now[0][0] == before[0] + 60 + 4 and now[0][2] == before[2] + 1  # a new reader sees the new state


def test_a_second_writer_queues_with_a_message_and_both_succeed(inputs, tmp_path):
    db = tmp_path / "q.duckdb"
    shutil.copyfile(inputs["base"], db)
    locker = lock(db)
    job = subprocess.Popen([sys.executable, "-m", "pipeline", "fit", "--judge", "human", "--group", "Code",
                            "--db", str(db)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = job.stderr.readline()  # the fit computes, then queues for the lock and says so
    finally:
        locker.communicate("\n", timeout=30)
    rest = job.communicate(timeout=120)[1]
    assert locker.returncode == 0
    assert job.returncode == 0, first + rest
    assert first.strip() == f"waiting for holder script (pid {locker.pid}) to finish writing {db}", first + rest
    assert rows(db, "SELECT count(*) FROM fit_runs WHERE judge = 'human' AND group_name = 'Code'") == [(1,)]


@pytest.mark.parametrize("name", ["load", "fit", "add-judge", "annotate"])
def test_a_job_that_gives_up_waiting_says_so_in_one_line(inputs, openai_stub, tmp_path, name):
    db = tmp_path / "busy.duckdb"
    shutil.copyfile(inputs["base"], db)
    before = sha256(db)
    locker = lock(db)
    try:
        proc, _ = run_cli(commands(inputs)[name], db, env_for(openai_stub.url, PREFDISSECT_WRITE_TIMEOUT="1"))
        after = sha256(db)  # before the locker publishes its own (empty) write
    finally:
        locker.communicate("\n", timeout=30)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"waiting for holder script (pid {locker.pid}) to finish writing {db}" in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "gave up after 1 s waiting for holder script" in last, proc.stderr
    assert after == before


@pytest.mark.parametrize("argv", [["info"], ["fit", "--judge", "human"], ["annotate", "--max-pairs", "1", "--yes"]],
                         ids=["reader", "writer", "annotate"])  # annotate exited 1, the others 75
def test_a_read_write_client_is_named_in_one_line(inputs, tmp_path, argv):
    db = tmp_path / "rw.duckdb"
    shutil.copyfile(inputs["base"], db)
    client = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, duckdb
        con = duckdb.connect(sys.argv[1])
        print("open", flush=True)
        sys.stdin.readline()
    """), str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout.readline().strip() == "open"
        proc, _ = run_cli(argv, db, os.environ)
    finally:
        client.communicate("\n", timeout=30)
    assert proc.returncode == 75, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the database") and f"pid {client.pid}" in last and "duckdb -readonly" in last
