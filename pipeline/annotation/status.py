"""Watching an annotation job from anywhere: what the journal says, read without locks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..llm import journal_path
from ..llm.journal import open_readonly
from ..llm.lock import is_locked
from ..store import db as dbmod
from .steps import JOB


@dataclass
class JobStatus:
    journal: Path
    exists: bool
    running: bool = False
    run: dict[str, Any] | None = None           # the latest run: state, pid, started_at, info, summary
    calls: dict[str, int] = field(default_factory=dict)               # status -> count
    by_step: dict[str, dict[str, int]] = field(default_factory=dict)  # step -> status -> count
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    last_call_at: str | None = None
    open_batches: int = 0


def job_status(db=None, job: str = JOB) -> JobStatus:
    """What the journal says, read without locks: safe while a job runs in another process."""
    path = journal_path(dbmod.resolve_db_path(db))
    status = JobStatus(journal=path, exists=path.exists())
    if not status.exists:
        return status
    con = open_readonly(path)
    try:
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"calls", "runs", "batches"} <= tables:  # a job is creating the journal: nothing to tell yet
            status.running = is_locked(path, job)
            return status
        for step, st, n in con.execute("SELECT step, status, count(*) FROM calls WHERE job = ? GROUP BY 1, 2", (job,)):
            status.by_step.setdefault(step, {})[st] = n
            status.calls[st] = status.calls.get(st, 0) + n
        pt, ct, cost, last = con.execute(
            "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), "
            "coalesce(sum(cost_usd), 0), max(created_at) FROM calls WHERE job = ?", (job,)).fetchone()
        status.prompt_tokens, status.completion_tokens, status.cost_usd, status.last_call_at = pt, ct, cost, last
        row = con.execute("SELECT run_id, state, pid, started_at, finished_at, info, summary FROM runs "
                          "WHERE job = ? ORDER BY run_id DESC LIMIT 1", (job,)).fetchone()
        if row:
            status.run = {"run_id": row[0], "state": row[1], "pid": row[2], "started_at": row[3],
                          "finished_at": row[4], "info": json.loads(row[5] or "{}"),
                          "summary": json.loads(row[6]) if row[6] else None}
        status.open_batches = con.execute("SELECT count(*) FROM batches WHERE job = ? AND state != 'done'",
                                          (job,)).fetchone()[0]
    finally:
        con.close()
    status.running = is_locked(path, job)
    if status.run and status.run["state"] == "running" and not status.running:
        status.run["state"] = "interrupted"  # the process died; a rerun resumes it
    return status
