"""The call journal: every answer is committed the moment it arrives, before it is parsed.

It lives in SQLite (WAL mode) next to the DuckDB file, as `<db>.calls.sqlite`, because
DuckDB takes one writing process at a time and the dashboard reads the database while a
job runs. A commit per answer in WAL mode survives SIGKILL and costs well under a
millisecond. At the end of a job the rows are mirrored into DuckDB's `llm_calls`.

Status of a row: 'received' (stored, not yet checked), 'ok', 'invalid' (will be asked
again), 'failed' (invalid and out of attempts), 'error' (no answer: transport failure or
refusal; nothing paid), 'submitted' (sent in a Batch API job, answer not back yet).
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .errors import ErrorKind, JobAborted
from .request import LLMRequest

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    call_id           INTEGER PRIMARY KEY AUTOINCREMENT,
    request_hash      TEXT NOT NULL,
    run_id            INTEGER,
    job               TEXT NOT NULL,
    step              TEXT NOT NULL,
    item_key          TEXT,
    model             TEXT NOT NULL,
    prompt_version    TEXT,
    via               TEXT NOT NULL,        -- 'online' or 'batch'
    attempt           INTEGER NOT NULL,
    status            TEXT NOT NULL,
    error             TEXT,
    raw_text          TEXT,
    finish_reason     TEXT,
    response_id       TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    cost_usd          REAL,
    latency_ms        REAL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_by_hash ON calls (request_hash);
CREATE TABLE IF NOT EXISTS runs (
    run_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job            TEXT NOT NULL,
    pid            INTEGER,
    state          TEXT NOT NULL,          -- 'running', 'finished', 'aborted'
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    info           TEXT,                   -- JSON: input, model, planned calls and cost
    summary        TEXT                    -- JSON: the end summary
);
CREATE TABLE IF NOT EXISTS batches (
    batch_row      INTEGER PRIMARY KEY AUTOINCREMENT,
    job            TEXT NOT NULL,
    run_id         INTEGER,
    input_sha      TEXT NOT NULL,          -- sha256 of the requests file, also sent as metadata
    input_path     TEXT,
    input_file_id  TEXT,
    batch_id       TEXT,
    state          TEXT NOT NULL,          -- 'uploading', 'submitted', 'done'
    remote_status  TEXT,
    n_requests     INTEGER,
    hashes         TEXT,                   -- JSON {request_hash: attempt}
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
"""

ANSWER_STATES = ("received", "ok", "invalid", "failed")  # rows that carry a paid-for answer


def now() -> str:
    """UTC, without an offset, so DuckDB reads it as a plain TIMESTAMP."""
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds")


def journal_path(db_path: str | os.PathLike) -> Path:
    return Path(str(db_path) + ".calls.sqlite")


@dataclass
class Row:
    call_id: int
    status: str
    attempt: int
    raw_text: str | None
    error: str | None


class JournalFull(JobAborted):
    """The journal's disk has no room: an answer could not be kept, so no more are asked (what
    the journal kept stays; the job goes on from there once there is room)."""


class _Connection(sqlite3.Connection):
    """The journal's connection: a statement the disk has no room for (SQLITE_FULL) ends the job
    as JournalFull, whichever write it was."""

    journal: Path

    def execute(self, *args, **kwargs):
        return self._kept(super().execute, *args, **kwargs)

    def executescript(self, *args, **kwargs):
        return self._kept(super().executescript, *args, **kwargs)

    def _kept(self, statement, *args, **kwargs):
        try:
            return statement(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
                raise
            raise JournalFull(f"the call journal {self.journal} has no room ({exc}): the answers it kept stay in "
                              "it, and no more are asked; make room there and run the job again to go on",
                              ErrorKind.NO_ROOM) from None


class CallJournal:
    """One connection, used from one thread (the job's event loop)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False,
                                   factory=_Connection)
        self.con.journal = self.path
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")  # durable across process kills; fast
        # one transaction: a reader (`annotation.status`) sees every table or none
        self.con.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\nCOMMIT;")
        self._index: dict[str, list[int]] | None = None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "CallJournal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ calls

    def _load_index(self) -> dict[str, list[int]]:
        """request_hash -> call ids, read once: most lookups then need no query at all."""
        if self._index is None:
            self._index = {}
            for h, cid in self.con.execute("SELECT request_hash, call_id FROM calls ORDER BY call_id"):
                self._index.setdefault(h, []).append(cid)
        return self._index

    def rows_for(self, request_hash: str) -> list[Row]:
        if request_hash not in self._load_index():
            return []
        cur = self.con.execute("SELECT call_id, status, attempt, raw_text, error FROM calls "
                               "WHERE request_hash = ? ORDER BY call_id", (request_hash,))
        return [Row(*r) for r in cur]

    def add(self, req: LLMRequest, *, run_id: int | None, via: str, attempt: int, status: str,
            raw_text: str | None = None, error: str | None = None, finish_reason: str | None = None,
            response_id: str | None = None, prompt_tokens: int | None = None,
            completion_tokens: int | None = None, cost_usd: float | None = None,
            latency_ms: float | None = None) -> int:
        stamp = now()
        cur = self.con.execute(
            "INSERT INTO calls (request_hash, run_id, job, step, item_key, model, prompt_version, via, attempt,"
            " status, error, raw_text, finish_reason, response_id, prompt_tokens, completion_tokens, cost_usd,"
            " latency_ms, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (req.hash, run_id, req.job, req.step, req.item_key, req.model, req.prompt_version, via, attempt,
             status, error, raw_text, finish_reason, response_id, prompt_tokens, completion_tokens, cost_usd,
             latency_ms, stamp, stamp))
        call_id = cur.lastrowid
        self._load_index().setdefault(req.hash, []).append(call_id)
        return call_id

    def set_status(self, call_id: int, status: str, error: str | None = None) -> None:
        self.con.execute("UPDATE calls SET status = ?, error = ?, updated_at = ? WHERE call_id = ?",
                         (status, error, now(), call_id))

    # ------------------------------------------------------------------ runs

    def start_run(self, job: str, info: dict[str, Any]) -> int:
        cur = self.con.execute("INSERT INTO runs (job, pid, state, started_at, info) VALUES (?, ?, 'running', ?, ?)",
                               (job, os.getpid(), now(), json.dumps(info, default=str)))
        return cur.lastrowid

    def finish_run(self, run_id: int, state: str, summary: dict[str, Any]) -> None:
        self.con.execute("UPDATE runs SET state = ?, finished_at = ?, summary = ? WHERE run_id = ?",
                         (state, now(), json.dumps(summary, default=str), run_id))

    # ------------------------------------------------------------------ batches

    def add_batch(self, job: str, run_id: int | None, input_sha: str, input_path: str,
                  hashes: dict[str, int]) -> int:
        stamp = now()
        cur = self.con.execute(
            "INSERT INTO batches (job, run_id, input_sha, input_path, state, n_requests, hashes, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, 'uploading', ?, ?, ?, ?)",
            (job, run_id, input_sha, input_path, len(hashes), json.dumps(hashes), stamp, stamp))
        return cur.lastrowid

    def update_batch(self, batch_row: int, **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.con.execute(f"UPDATE batches SET {cols}, updated_at = ? WHERE batch_row = ?",
                         (*fields.values(), now(), batch_row))

    def open_batches(self, job: str) -> list[dict[str, Any]]:
        cur = self.con.execute("SELECT * FROM batches WHERE job = ? AND state != 'done' ORDER BY batch_row", (job,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur]

    # ------------------------------------------------------------------ reading

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")


def open_readonly(path: str | os.PathLike) -> sqlite3.Connection:
    """A reader that never blocks the writing job (WAL readers see the last commit)."""
    return sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=10)
