"""Issue 18: readers and writers on both backends, a DuckDB file and a lake with a PostgreSQL catalog.

Jobs started together all land (a file queues them, a lake commits them side by side, one
snapshot each); a reader sees whole snapshots only; a writer killed, or cut off from PostgreSQL,
in the middle of its commit leaves all of its write or none; `--at` reads the past; the bad
days (an unreadable catalog, PostgreSQL down, an unwritable data path, a lost race) end in one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from dbquery import rows, scalar
from pipeline.demo import generate_records
from pipeline.ingest.release_load import load_records
from pipeline.store import db as dbmod
from pipeline.store import lake
from pipeline.store.copying import copy_database
from pipeline.store.keys import duplicate_keys
from tcp_proxy import TcpProxy

GROUP_WHERE = "pair_id % 3 = 0"


def env() -> dict:
    return {**os.environ, "COLUMNS": "250"}   # history's table: one line per snapshot


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lake-concurrency")
    base = folder / "base.duckdb"
    load_records(generate_records(seed=3, group_sizes={"Code": 80, "Advice": 80}), source="base", db=base)
    ids = [i for (i,) in rows(base, "SELECT pair_id FROM pairs ORDER BY pair_id")]
    labels = folder / "labels.json"
    labels.write_text(json.dumps({str(i): "A" if (i * 7) % 3 else "B" for i in ids}))
    return {"base": base, "labels": labels, "pairs": len(ids),
            "members": scalar(base, f"SELECT count(*) FROM pairs WHERE {GROUP_WHERE}"),
            "all_labels": scalar(base, "SELECT count(*) FROM labels"),
            "judges": [j for (j,) in rows(base, "SELECT judge FROM judges ORDER BY judge")]}


@pytest.fixture
def pg_store(inputs, pg_lake, monkeypatch) -> str:
    """A lake with a PostgreSQL catalog holding the base database (copied in: one snapshot)."""
    where, data = pg_lake
    monkeypatch.setenv(dbmod.ENV_DATA_PATH, str(data))  # the lake remembers it; subprocesses get it too
    copy_database(inputs["base"], where)
    return where


@pytest.fixture(params=["file", "lake"])
def store(request, inputs, tmp_path) -> str:
    if request.param == "lake":
        return request.getfixturevalue("pg_store")
    db = tmp_path / "store.duckdb"
    db.write_bytes(inputs["base"].read_bytes())
    return str(db)


def cli(argv: list[str], db: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *argv, "--db", db], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


def popen(argv: list[str], db: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", *argv, "--db", db], cwd=ROOT, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The failure's only line: non-zero exit, no traceback, stderr is `error: ...`."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def messages(db: str) -> list[str]:
    """The lake's commit messages, newest first."""
    return [m for (_, _, _, m) in lake.history(dbmod.locate(db))]


# ------------------------------------------------------------------ four writers, one reader

WRITERS = {"judge a": ["add-judge", "judge-a", "LABELS", "--no-fit"],
           "judge b": ["add-judge", "judge-b", "LABELS", "--no-fit"],
           "fit": ["fit", "--judge", "human"],
           "group": ["group", "add", "evens", "--where", GROUP_WHERE]}

OBSERVE = """SELECT
  (SELECT count(*) FROM labels WHERE judge = 'judge-a'), (SELECT count(*) FROM judges WHERE judge = 'judge-a'),
  (SELECT count(*) FROM labels WHERE judge = 'judge-b'), (SELECT count(*) FROM judges WHERE judge = 'judge-b'),
  (SELECT count(*) FROM custom_groups WHERE group_name = 'evens'),
  (SELECT count(*) FROM pair_groups WHERE group_name = 'evens'),
  (SELECT count(*) FROM fit_runs WHERE judge = 'human'), (SELECT count(*) FROM fits WHERE judge = 'human'),
  (SELECT list(DISTINCT n) FROM (SELECT (SELECT count(*) FROM fits f WHERE f.judge = r.judge
       AND f.group_name = r.group_name AND f.property_set = r.property_set) AS n
     FROM fit_runs r WHERE r.judge = 'human' AND r.status = 'fitted'))"""


def observe(db: str) -> tuple:
    """What one reader sees of the four jobs, all from one snapshot (one connection)."""
    with dbmod.reading(db) as con:
        return con.execute(OBSERVE).fetchone()


def check_whole(seen: tuple, inputs) -> set[str]:
    """Every job in `seen` is there whole or not at all; returns the jobs that are there."""
    n, members = inputs["pairs"], inputs["members"]
    labels_a, judge_a, labels_b, judge_b, group, pair_groups, runs, fits, per_run = seen
    assert (labels_a, judge_a) in ((0, 0), (n, 1)) and (labels_b, judge_b) in ((0, 0), (n, 1)), seen
    assert (group, pair_groups) in ((0, 0), (1, members)), seen
    assert (runs == 0) == (fits == 0) and (per_run or []) in ([], [29]), seen  # each fitted run has its 29 weights
    done = {"judge a"} if judge_a else set()
    return done | ({"judge b"} if judge_b else set()) | ({"group"} if group else set()) | ({"fit"} if runs else set())


@pytest.mark.slow
def test_four_writers_at_once_all_land_and_a_reader_sees_whole_snapshots(store, inputs):
    is_lake = store.startswith("ducklake:")
    before = messages(store) if is_lake else []
    jobs = {name: popen([str(inputs["labels"]) if a == "LABELS" else a for a in argv], store)
            for name, argv in WRITERS.items()}
    seen, done = [], set()
    while any(p.poll() is None for p in jobs.values()):
        seen.append(observe(store))
        now = check_whole(seen[-1], inputs)
        assert done <= now, f"a reader saw {sorted(done)} done, then only {sorted(now)}"  # snapshots only go forward
        done = now
        time.sleep(0.1)  # leave the writers most of the 2 cores
    outputs = {name: p.communicate(timeout=60) for name, p in jobs.items()}
    for name, p in jobs.items():
        assert p.returncode == 0, (name, outputs[name])
        assert "Traceback" not in outputs[name][1]
    final = observe(store)
    assert check_whole(final, inputs) == set(WRITERS), final
    print(f"{len(seen)} reads during the writes")
    with dbmod.reading(store) as con:
        assert duplicate_keys(con) == []
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == inputs["all_labels"] + 2 * inputs["pairs"]
        assert con.execute("SELECT count(*) FROM pairs").fetchone()[0] == inputs["pairs"]
        assert con.execute("SELECT count(*) FROM judges").fetchone()[0] == len(inputs["judges"]) + 2
        # the fit saw the group or not, and fitted every group it saw once (its rows replaced, none doubled)
        groups = con.execute("SELECT count(DISTINCT group_name) FROM pair_groups").fetchone()[0]
        assert con.execute("SELECT count(*) FROM fit_runs WHERE judge = 'human'").fetchone()[0] in (groups - 1, groups)
    if is_lake:  # one snapshot per job, named by its command line; no lock file
        new = messages(store)[:len(messages(store)) - len(before)]
        assert sorted(new) == sorted(["add-judge judge-a labels.json --no-fit", "add-judge judge-b labels.json --no-fit",
                                      "fit --judge human", f"group add evens --where {GROUP_WHERE}"]), new
        assert not list(dbmod.resolve_db_path(store).parent.glob("*.lock"))
        assert all("waiting for" not in err for _, err in outputs.values())


# ------------------------------------------------------------------ a writer stopped mid-commit

RAW_PAIRS = 1500
COMMIT = [b"ducklake_snapshot VALUES"]          # DuckLake's commit: the statement adding the snapshot ...
COMMIT_SENT = COMMIT + [b"COMMIT"]              # ... then PostgreSQL's COMMIT of that transaction


def raw_file(folder: Path, tag: str, n: int = RAW_PAIRS) -> Path:
    path = folder / f"raw-{tag}.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"[{tag}] How do I fold a paper crane, variant {i}?",
                                        "response_a": f"Fold it {i} times.", "response_b": f"Crease it, then fold {i}.",
                                        "model_a": "m-a", "model_b": "m-b", "winner": "model_a" if i % 2 else "model_b"})
                                + "\n" for i in range(n)))
    return path


def landed(db: str, source: str) -> int:
    """How many pairs of `source` a reader sees: all of them or none, with their labels and source row."""
    with dbmod.reading(db) as con:
        pairs, labels, sources = con.execute(
            "SELECT (SELECT count(*) FROM pairs WHERE source = ?), (SELECT count(*) FROM labels WHERE pair_id IN "
            "(SELECT pair_id FROM pairs WHERE source = ?)), (SELECT count(*) FROM sources WHERE source = ?)",
            [source, source, source]).fetchone()
        assert duplicate_keys(con) == []
    assert (pairs, labels, sources) in ((0, 0, 0), (RAW_PAIRS, RAW_PAIRS, 1)), (source, pairs, labels, sources)
    return pairs


def data_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*.parquet") if p.is_file()}


def stop_when_writing(proc: subprocess.Popen, folder: Path, stop) -> None:
    """Call `stop()` as soon as the job has written its first data file (it is mid-transaction).
    A new file, not a changed count: a file an earlier, stopped job left may go away meanwhile,
    which stopped the job before it had attached the lake (seen once in six runs)."""
    before = data_files(folder)
    while not data_files(folder) - before and proc.poll() is None:
        time.sleep(0.01)
    stop()


def sigkill(proc: subprocess.Popen):
    return lambda: os.kill(proc.pid, signal.SIGKILL)


# way -> point -> (the client messages that stop the job, whether the last reaches the server, whether the
# write is then there); no messages: stopped at its first data file, and either outcome is right
STOP_POINTS = {"kill": {"writing data files": (None, None, None), "before COMMIT": (COMMIT, True, False),
                        "after COMMIT": (COMMIT_SENT, True, True)},
               "cut": {"writing data files": (None, None, None), "before the snapshot": (COMMIT, False, False),
                       "after COMMIT": (COMMIT_SENT, True, True)}}


@pytest.mark.slow
def test_sigkill_or_a_lost_server_mid_commit_leaves_all_or_none_then_writes_go_on(pg_server, pg_store, inputs,
                                                                                tmp_path):
    """kill -9 of a `load` at points of its commit, then PostgreSQL lost at those points (a proxy
    cut): each time a reader sees all of the load or none, and the next write succeeds."""
    data = Path(os.environ[dbmod.ENV_DATA_PATH])
    port = int(dict(p.split("=") for p in pg_server.params.split())["port"])
    files = []
    for way, points in STOP_POINTS.items():
        for point, (patterns, forward, expected) in points.items():
            raw = raw_file(tmp_path, f"{way}-{point.replace(' ', '-')}")
            files.append(raw)
            with TcpProxy(port) as proxy:
                via = pg_store.replace(f"port={port}", f"port={proxy.port}")
                proc = popen(["load", str(raw)], via)
                stop = sigkill(proc) if way == "kill" else proxy.cut
                if patterns is None:
                    stop_when_writing(proc, data, stop)
                else:
                    proxy.on(patterns, stop, forward=forward)
                out, err = proc.communicate(timeout=180)
            n = landed(pg_store, raw.name)
            print(f"{way} {point}: exit {proc.returncode}, {n} pairs landed")
            if expected is not None:
                assert n == (RAW_PAIRS if expected else 0), (way, point, err)
            if way == "kill":
                assert proc.returncode == -signal.SIGKILL, (point, err)
                continue
            line = one_error_line(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
            assert proc.returncode == 75, err
            if expected is None:
                assert "lost the PostgreSQL catalog" in line, line
            else:  # lost in the commit: the job cannot know whether PostgreSQL committed it
                assert "whole or not at all" in line and "history" in line, line
    everything = tmp_path / "everything.jsonl"
    everything.write_text("".join(f.read_text() for f in files))
    proc = cli(["load", str(everything)], pg_store)
    assert proc.returncode == 0, proc.stderr
    with dbmod.reading(pg_store) as con:
        assert duplicate_keys(con) == []
        assert con.execute("SELECT count(*) FROM pairs").fetchone()[0] == inputs["pairs"] + RAW_PAIRS * len(files)
