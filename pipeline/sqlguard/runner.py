"""Running one checked statement within bounds, in a worker process (see worker.py).

Bounds (each with the message the user sees when it is hit):
- rows: at most `max_rows` come back; the result says it was cut;
- bytes: at most `max_bytes` of result (Arrow size); the result says it was cut;
- memory: the worker's resident memory may grow by RSS_BUDGET once the database is
  attached (a watchdog in the worker and one here end it), its address space by
  ADDRESS_BUDGET (an OS limit), DuckDB's buffers by MEMORY_LIMIT (past that DuckDB spills
  or stops); past any of them the query stops with "needed more memory";
- temp disk: spill files go to a private folder under the system temp directory (never
  the working directory) capped at TEMP_LIMIT, and the folder is removed afterwards;
- time: `timeout_s` from the moment the database is attached, covering execution,
  fetching and writing the result; the worker is killed if it does not stop by itself;
- text: check_sql refuses SQL over MAX_SQL_CHARS before parsing it.
Error messages have the server's paths (database, temp folder) replaced by names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from ..store import db as dbmod
from ..store import lake as lakemod
from . import worker as workermod
from .check import QueryFailed, QueryRefused, QueryTimeout, check_sql, one_line

DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BYTES = 32 * 2**20       # result size (Arrow bytes) sent back to the page
DEFAULT_TIMEOUT_S = 10.0
THREADS = 2
MEMORY_LIMIT = "512MB"               # DuckDB's buffer manager
RSS_BUDGET = 700 * 2**20             # the worker's resident-memory growth once attached (watchdog)
ADDRESS_BUDGET = 4 * 2**30           # its address-space growth (OS backstop; reservations count)
TEMP_LIMIT = "512MB"                 # spill files
STARTUP_S = 30.0                     # starting Python + DuckDB and attaching, on a busy machine
WORKER = Path(workermod.__file__)


@dataclass
class QueryResult:
    frame: pd.DataFrame
    truncated: bool          # more rows (or bytes) existed than came back
    max_rows: int
    seconds: float
    statement: str           # the statement as run
    kind: str                # 'SELECT', 'EXPLAIN', 'PRAGMA'
    notes: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.frame)


def _alias(path: Path) -> str:
    return dbmod.catalog_alias(path)  # the same catalog name db.reading gives the file


def connect_guarded(db=None, *, threads: int = THREADS,
                    memory_limit: str = MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """In this process: the database attached READ_ONLY, external access off, settings locked.

    The same connection the worker opens (for callers that run fixed SQL and for tests of
    the defence in depth); user SQL goes through run_query.
    """
    path, alias, lake = _target(db)
    return workermod.open_guarded(path, alias, threads=threads, memory_limit=memory_limit, lake=lake)


def _target(db) -> tuple[str, str, dict | None]:
    """(file path, catalog alias, lake attach job) of the database, checked to exist."""
    where = dbmod.locate(db)
    if isinstance(where, dbmod.LakeDb):
        return "", lakemod.ALIAS, lakemod.guarded_attach(where, dbmod.pinned_snapshot())
    path = where.path
    if not path.exists():
        raise dbmod.DatabaseMissing(f"no database at {path}: run `python -m pipeline demo` or `load`")
    return str(path.resolve()), _alias(path), None


def _redact(text: str, path: Path, temp_dir: str) -> str:
    """Error text without the server's paths: the database by its file name, temp as <temp>."""
    out = str(text)
    for full, short in ((str(path.resolve()), path.name), (str(path), path.name),
                        (str(path.resolve().parent), "<database folder>"), (temp_dir, "<temp>"),
                        (tempfile.gettempdir(), "<temp>")):
        if full:
            out = out.replace(full, short)
    return out


def _friendly_error(text: str, error_type: str = "") -> Exception:
    if error_type == "PermissionException" or "external access" in text.lower():
        return QueryRefused("Refused: the query tried to read or write a file (or the network) on the server, "
                            f"and external access is off here. DuckDB said: {one_line(text)}")
    if "read-only mode" in text or "read only" in text.lower():
        return QueryRefused(f"Refused: the database is opened read-only here. DuckDB said: {one_line(text)}")
    if "configuration has been locked" in text:
        return QueryRefused(f"Refused: settings cannot be changed here. DuckDB said: {one_line(text)}")
    return QueryFailed(text)


class QueryTooBig(QueryFailed):
    """The query needed more memory or temporary disk than allowed, and was stopped."""


def _memory_message(memory: str) -> QueryTooBig:
    return QueryTooBig(f"Stopped: the query needed more memory than the {RSS_BUDGET // 2**20} MB allowed here "
                       f"(or more temporary disk than {TEMP_LIMIT}). Select fewer or shorter columns, "
                       "add a WHERE or LIMIT, or aggregate first.")


def _wait(proc: subprocess.Popen, ready: Path, timeout_s: float) -> str:
    """Wait for the worker: 'done', or 'killed' (start-up or time limit passed) or 'memory'."""
    started = time.monotonic()
    clock, rss_limit = None, 0
    while True:
        try:
            proc.wait(timeout=0.02)
            return "done"
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if clock is None and ready.exists():
            clock = now
            with suppress(OSError, ValueError):
                rss_limit = int(ready.read_text(encoding="ascii") or 0) + RSS_BUDGET + 64 * 2**20
        over = rss_limit and workermod.proc_bytes("VmRSS", proc.pid) > rss_limit
        limit = (clock + timeout_s + 1.5) if clock is not None else (started + STARTUP_S)
        if now > limit or over:
            proc.kill()
            proc.wait()
            return "memory" if over else "killed"


def _run_in_worker(db, path: Path, text: str, kind: str, *, max_rows: int, max_bytes: int,
                   timeout_s: float) -> tuple[pd.DataFrame, dict]:
    folder = tempfile.mkdtemp(prefix="prefdissect-sql-")   # the system temp dir, never the repository
    try:
        out = os.path.join(folder, "result")
        spill = os.path.join(folder, "spill")
        target, alias, lake = _target(db)
        job = {"db": target, "alias": alias, "lake": lake, "sql": text, "kind": kind,
               "max_rows": max_rows, "max_bytes": max_bytes, "timeout_s": timeout_s, "threads": THREADS,
               "memory_limit": MEMORY_LIMIT, "temp_dir": spill, "temp_limit": TEMP_LIMIT,
               "address_budget": ADDRESS_BUDGET, "rss_budget": RSS_BUDGET, "out": out}
        # A minimal environment: the worker never sees the server's variables (API keys, ...).
        env = {"PATH": os.defpath, "HOME": folder, "LANG": "C.UTF-8", "TMPDIR": folder}
        if lake:  # a PostgreSQL catalog's credentials, and nothing else of the server's environment
            env.update(lakemod.libpq_environment())
        proc = subprocess.Popen([sys.executable, "-I", str(WORKER)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=folder, env=env)
        try:
            proc.stdin.write(json.dumps(job).encode("utf-8"))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        waited = _wait(proc, Path(out + ".ready"), timeout_s)
        finished = waited == "done"
        stderr = proc.stderr.read(4000).decode("utf-8", "replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        status = {}
        if os.path.exists(out + ".json"):
            with open(out + ".json", encoding="utf-8") as fh:
                status = json.load(fh)
        outcome = status.get("outcome") or ("memory" if waited == "memory" else None)
        if outcome == "memory":
            raise _memory_message(MEMORY_LIMIT)
        if outcome == "timeout" or (not finished and os.path.exists(out + ".ready")):
            raise QueryTimeout(f"Stopped: the query ran longer than the {timeout_s:g} s limit "
                               "(running, fetching and preparing the result). Add a WHERE or LIMIT, "
                               "or aggregate first.")
        if not finished:
            raise QueryFailed(f"The query worker did not start within {STARTUP_S:g} s; the server is busy. "
                              "Try again in a moment.")
        if outcome == "memory" or (outcome is None and proc.returncode and proc.returncode < 0):
            raise _memory_message(MEMORY_LIMIT)
        if outcome == "failed":
            err = _redact(status.get("error", ""), path, folder)
            if status.get("error_type") == "OutOfMemoryException":
                raise _memory_message(MEMORY_LIMIT)
            raise _friendly_error(err, status.get("error_type", ""))
        if outcome != "ok":
            raise QueryFailed("The query worker stopped without a result"
                              + (f": {one_line(_redact(stderr, path, folder))}" if stderr.strip() else "."))
        import pyarrow as pa

        with pa.memory_map(out + ".arrow") as source:
            table = pa.ipc.open_file(source).read_all()
        frame = table.to_pandas()
        return frame, status
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_query(db=None, sql: str = "", *, max_rows: int = DEFAULT_MAX_ROWS,
              timeout_s: float = DEFAULT_TIMEOUT_S, max_bytes: int = DEFAULT_MAX_BYTES) -> QueryResult:
    """Check and run one read-only statement within the bounds above.

    Raises QueryRefused (not allowed), QueryTimeout (interrupted), QueryFailed (DuckDB
    error, e.g. a typo, or the memory bound) or db.DatabaseMissing.
    """
    checked = check_sql(sql)
    max_rows = max(1, int(max_rows))
    max_bytes = max(1024, int(max_bytes))
    path = dbmod.resolve_db_path(db)
    _target(db)  # a missing database is DatabaseMissing before any worker starts
    t0 = time.perf_counter()
    frame, status = _run_in_worker(db, path, checked.text, checked.kind, max_rows=max_rows,
                                   max_bytes=max_bytes, timeout_s=float(timeout_s))
    seconds = float(status.get("seconds", time.perf_counter() - t0))
    truncated_rows = len(frame) > max_rows
    if truncated_rows:
        frame = frame.iloc[:max_rows].copy()
    notes = []
    if truncated_rows:
        notes.append(f"Showing the first {max_rows:,} rows; the query returns more. "
                     "Add a LIMIT or aggregate to see what you need.")
    if status.get("cut_bytes"):
        notes.append(f"Showing the first {len(frame):,} rows: the result is larger than the "
                     f"{max_bytes / 2**20:g} MB allowed here. Select fewer or shorter columns.")
    return QueryResult(frame, truncated_rows or bool(status.get("cut_bytes")), max_rows, seconds,
                       checked.text, checked.kind, notes)


def describe_schema(db=None) -> pd.DataFrame:
    """Every table and view of the database with its columns: name, kind, column, type."""
    with dbmod.reading(db) as con:
        return con.execute(
            """
            SELECT c.table_name AS name,
                   CASE WHEN v.view_name IS NULL THEN 'table' ELSE 'view' END AS kind,
                   c.column_name AS "column", c.data_type AS type, c.column_index AS position
            FROM duckdb_columns() c
            LEFT JOIN duckdb_views() v
              ON v.database_name = c.database_name AND v.schema_name = c.schema_name
             AND v.view_name = c.table_name
            WHERE c.database_name = current_database() AND c.schema_name = 'main' AND NOT c.internal
            ORDER BY kind, name, position
            """
        ).df()


EXAMPLES: dict[str, str] = {
    "Pairs per scenario group": (
        "SELECT scenario_group, count(*) AS pairs\nFROM pairs\nGROUP BY ALL\nORDER BY pairs DESC"),
    "Agreement with the human": (
        "SELECT judge_b AS judge, n, round(agreement, 3) AS agreement, round(kappa, 3) AS kappa\n"
        "FROM judge_agreement\nWHERE judge_a = 'human'\nORDER BY agreement DESC"),
    "Strongest weights per judge (mean over groups)": (
        "SELECT judge, property, round(avg(weight), 3) AS mean_weight\nFROM fits\n"
        "GROUP BY judge, property\n"
        "QUALIFY row_number() OVER (PARTITION BY judge ORDER BY abs(avg(weight)) DESC) <= 3\n"
        "ORDER BY judge, abs(mean_weight) DESC"),
    "Probability of preferred, human vs gpt-4-turbo": (
        "SELECT property, group_name,\n"
        "       round(max(probability) FILTER (WHERE judge = 'human'), 1) AS human,\n"
        "       round(max(probability) FILTER (WHERE judge = 'gpt-4-turbo'), 1) AS gpt_4_turbo\n"
        "FROM preference_probability\nWHERE group_name = 'Advice'\nGROUP BY ALL\nORDER BY human DESC"),
    "Longer response win rate": (
        "SELECT judge, n, round(longer_win_rate, 3) AS longer_win_rate\nFROM length_effect\n"
        "ORDER BY longer_win_rate DESC"),
    "Columns of a table": "DESCRIBE pairs",
}
