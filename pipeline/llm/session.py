"""Running a list of typed calls as one job: the public entry point for jobs built on this layer.

    calls = [Call(request, validate), ...]           # LLMRequest + a parser that raises InvalidAnswer
    estimate = estimate_calls(calls, db=db, settings=settings, expected_output_tokens=40)
    print("\\n".join(estimate.call_lines()))
    run = run_calls(calls, job="custom:humour", db=db, settings=settings)
    run.results[call.request.hash].value              # the parsed answer (or .ok False, .kind, .error)

`run_calls` takes the job's lock, records a run in the call journal, reuses every answer
the journal holds, makes the rest online (concurrency, retries, timeouts) or through the
Batch API, and mirrors the journal into `llm_calls` when something was answered. LLM
trouble ends as `run.aborted` (one line), never as an exception.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from ..store import db as dbmod
from .batch import BatchRunner
from .cache import CallResult, Validate, lookup
from .config import LLMSettings
from .errors import ConfigError, JobAborted
from .estimate import CallEstimate
from .journal import CallJournal, journal_path
from .lock import job_lock
from .mirror import mirror_calls
from .pricing import price_for
from .progress import JobProgress, OnProgress
from .request import LLMRequest
from .runner import CallRunner, CallStats


@dataclass(frozen=True)
class Call:
    request: LLMRequest
    validate: Validate


@dataclass(kw_only=True)
class CallsEstimate(CallEstimate):
    calls_total: int
    journal: Path


@dataclass
class CallRun:
    results: dict[str, CallResult] = field(default_factory=dict)   # request hash -> result
    stats: CallStats = field(default_factory=CallStats)
    aborted: str | None = None                                      # one line: why the run stopped early


def estimate_calls(calls: list[Call], *, db=None, settings: LLMSettings, expected_output_tokens: int,
                   retry_failed: bool = False, batch: bool = False) -> CallsEstimate:
    """Counts (reused, failed before, to make), tokens and cost; reads the journal, writes nothing."""
    unique = list({c.request.hash: c for c in calls}.values())
    path = journal_path(dbmod.resolve_db_path(db))
    est = CallsEstimate(calls_total=len(unique), journal=path, retry_failed=retry_failed,
                        price=price_for(settings.model))
    todo = [c.request for c in unique]
    if path.exists():
        todo = []
        with CallJournal(path) as journal:
            for c in unique:
                found = lookup(journal, c.request, c.validate, retry_failed=retry_failed, write=False).result
                if found is not None and found.ok:
                    est.calls_cached += 1
                elif found is not None and not retry_failed:
                    est.calls_failed += 1
                else:
                    todo.append(c.request)
    est.estimate(settings.model, todo, expected_output_tokens * len(todo), batch=batch)
    return est


def run_calls(calls: list[Call], *, job: str, db=None, settings: LLMSettings, batch: bool = False,
              retry_failed: bool = False, progress_callback: OnProgress | None = None,
              info: dict | None = None, client=None) -> CallRun:
    """Settle every call (see the module docstring); one run of `job` in the journal."""
    db_path = dbmod.resolve_db_path(db)
    path = journal_path(db_path)
    run = CallRun()
    progress = JobProgress(pairs_total=0, calls_total=len({c.request.hash for c in calls}))

    def on_change(stats: CallStats) -> None:
        if progress_callback:
            progress_callback(progress.take(stats))

    try:
        settings.require_key()
        with job_lock(path, job), CallJournal(path) as journal:
            run_id = journal.start_run(job, {"model": settings.model, "server": settings.server,
                                             "calls": progress.calls_total, "batch": batch, **(info or {})})
            state = "aborted"
            try:
                if batch:
                    runner = BatchRunner(settings, journal, job=job, run_id=run_id, price=price_for(settings.model),
                                         workdir=Path(str(path) + ".batches"), retry_failed=retry_failed,
                                         client=client, on_call=lambda _r: on_change(runner.stats))
                    run.stats = runner.stats
                    run.results = runner.run([(c.request, c.validate) for c in calls])
                else:
                    run.results, run.stats = asyncio.run(_online(calls, settings, journal, run_id, retry_failed,
                                                                 on_change, client, run))
                state = "finished"
            except JobAborted as exc:
                run.aborted = str(exc)
            finally:
                journal.finish_run(run_id, state, {"requests": run.stats.requests, "failed": run.stats.failed,
                                                   "cost_usd": run.stats.cost_usd, "aborted": run.aborted})
    except (JobAborted, ConfigError) as exc:  # the lock is taken, or no key
        run.aborted = str(exc)
    if run.stats.requests:
        mirror_calls(path, db_path)
    return run


async def _online(calls, settings, journal, run_id, retry_failed, on_change, client, run):
    runner = CallRunner(settings, journal, run_id=run_id, price=price_for(settings.model), client=client,
                        retry_failed=retry_failed, on_change=on_change)
    run.stats = runner.stats
    try:
        results = await asyncio.gather(*(runner.call(c.request, c.validate) for c in calls))
    finally:
        await runner.aclose()
    return {r.request_hash: r for r in results}, runner.stats


__all__ = ["Call", "CallRun", "CallsEstimate", "estimate_calls", "run_calls"]
