"""An annotation job: run a plan (pipeline.annotation.plan) to the end, resumable.

    plan = plan_job("new_pairs.jsonl", db="data/preference.duckdb")
    print("\\n".join(plan.lines()))
    summary = run_job(plan, progress_callback=print)

Answers go to the call journal (`<db>.calls.sqlite`) as they arrive. Annotated pairs are
loaded into DuckDB through the ordinary loader in short transactions (every
`load_every` pairs and at the end), then the journal is mirrored into `llm_calls`, so
the dashboard keeps reading the database while a job runs. Stored pairs (plan_stored)
are loaded the same way: the loader fills the annotations of the raw pair they match.
`job_status(db)` (pipeline.annotation.status) reads the journal from any process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..llm import CallJournal, CallRunner, ConfigError, JobAborted, job_lock, mirror_calls
from ..llm.batch import BatchRunner
from ..llm.progress import JobProgress, call_lines
from ..ingest.release_load import load_records
from ..store.location import locate
from . import steps, words
from .plan import JobPlan, plan_job, plan_stored
from .protocol import PairOutcome, Protocol, annotate_in_batches, annotate_pair
from .resolve import labels_only_record
from .status import JobStatus, job_status
from .steps import PairTask

JOB = steps.JOB
SOURCE_KIND = "annotated"


# ------------------------------------------------------------------ running

@dataclass
class JobSummary:
    pairs_planned: int = 0
    pairs_annotated: int = 0                    # complete records loaded (or already loaded)
    pairs_new: int = 0                          # of which new in the database
    pairs_present: int = 0                      # already in the database before (labels only)
    pairs_failed: list[tuple[int, str]] = field(default_factory=list)   # (row, reason)
    requests: int = 0                           # answers received from the server this run
    calls_cached: int = 0
    calls_failed: int = 0
    invalid_answers: int = 0
    retries: int = 0
    timeouts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    own_ms_per_call: float = 0.0
    word_method: str = ""                       # how num_words was counted
    failure_reasons: dict[str, int] = field(default_factory=dict)
    calls_mirrored: int = 0
    aborted: str | None = None                  # one line: why the job stopped early
    first_failures: list[str] = field(default_factory=list)   # each failed pair's first 'step: reason'
    loads: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.aborted is None and (self.pairs_annotated > 0 or self.pairs_planned == 0)

    def lines(self) -> list[str]:
        out = [f"pairs annotated: {self.pairs_annotated} of {self.pairs_planned} "
               f"({self.pairs_new} new in the database)"
               + (f"; {self.pairs_present} were already there" if self.pairs_present else ""),
               f"pairs failed: {len(self.pairs_failed)}",
               *call_lines(requests=self.requests, cached=self.calls_cached, failed=self.calls_failed,
                           invalid=self.invalid_answers, retries=self.retries, timeouts=self.timeouts,
                           prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
                           cost_usd=self.cost_usd, seconds=self.seconds, errors=self.failure_reasons)]
        out += [f"  row {row}: {reason}" for row, reason in self.pairs_failed[:10]]
        if len(self.pairs_failed) > 10:
            out.append(f"  ... and {len(self.pairs_failed) - 10} more (see the journal)")
        out += [f"loaded {line}" for line in self.loads]
        if self.word_method:
            out.append(f"word counts: {self.word_method}")
        return out  # `aborted` is left to the caller: it is the one line an error exit prints

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Loader:
    """Loads finished records in short transactions: every `every` pairs and at the end."""

    def __init__(self, plan: JobPlan, summary: JobSummary, every: int):
        self.plan, self.summary, self.every = plan, summary, every
        self.buffer: list[dict] = []

    def add(self, record: dict, position: int) -> bool:
        self.buffer.append((position, record))
        return len(self.buffer) >= self.every

    def flush(self, extra: list[dict] | None = None) -> None:
        # in input order, not finishing order, so pair ids follow the file (and a rerun gives the same)
        records = [r for _, r in sorted(self.buffer, key=lambda pr: pr[0])] + (extra or [])
        self.buffer = []
        if not records:
            return
        report = load_records(records, source=self.plan.source_name, kind=SOURCE_KIND,
                              location=str(self.plan.input or locate(self.plan.db).display), db=self.plan.db)
        self.summary.pairs_new += report.new_pairs
        self.summary.loads.append(report.summary())


def run_job(plan: JobPlan, progress_callback: Callable[[JobProgress], None] | None = None, *,
            load_every: int = 200, batch_poll_callback: Callable[[Any], None] | None = None) -> JobSummary:
    """Run the plan to the end (or until nothing more can work); never raises for LLM trouble."""
    if plan.preview_of is not None:
        raise ValueError("a preview plan (plan_stored(preview=...)) is shown, not run: plan every pair to run them")
    started = time.perf_counter()
    summary = JobSummary(pairs_planned=len(plan.tasks), pairs_present=len(plan.present))
    if plan.problems:
        summary.aborted = plan.problems[0]
        return summary
    progress = JobProgress(pairs_total=len(plan.tasks), calls_total=plan.calls_total)
    if plan.tasks:  # so the first finished pair does not stall the event loop importing NLTK
        threading.Thread(target=words.warm_up, daemon=True).start()
    loader = _Loader(plan, summary, load_every)
    try:
        with job_lock(plan.journal, JOB), CallJournal(plan.journal) as journal:
            run_id = journal.start_run(JOB, {"input": str(plan.input or ""), "where": plan.where,
                                             "model": plan.settings.model, "server": plan.settings.server,
                                             "pairs": len(plan.tasks), "calls": plan.calls_total,
                                             "calls_to_make": plan.calls_to_make, "batch": plan.batch,
                                             "estimated_cost_usd": plan.est_cost_usd})
            runners: list = []  # the runner, once made: its counters survive an abort
            try:
                _run(plan, journal, run_id, summary, progress, progress_callback, loader, batch_poll_callback,
                     runners)
            except JobAborted as exc:
                summary.aborted = str(exc)
            except BaseException:  # Ctrl-C or a crash: keep what is complete, then let it through
                summary.aborted = "interrupted: rerun the same command to resume"
                raise
            finally:
                _finish(plan, journal, run_id, summary, loader, runners[0].stats if runners else None, started)
    except (JobAborted, ConfigError) as exc:  # the lock is taken, or no key
        summary.aborted = str(exc)
    return summary


def _run(plan, journal, run_id, summary, progress, progress_callback, loader, batch_poll_callback, runners):
    settings, price = plan.settings, plan.price
    proto = Protocol(settings)

    def on_change(stats) -> None:
        if progress_callback:
            progress_callback(progress.take(stats))

    def on_outcome(outcome: PairOutcome) -> bool:
        if outcome.record is None:
            progress.pairs_failed += 1
            summary.pairs_failed.append((outcome.task.pair.position, outcome.error or "unknown"))
            summary.first_failures.append(outcome.first_failure or "unknown")
        else:
            progress.pairs_done += 1
            summary.pairs_annotated += 1
        if progress_callback:
            progress_callback(progress)
        return outcome.record is not None and loader.add(outcome.record, outcome.task.pair.position)

    if plan.batch:
        def on_poll(batch) -> None:
            counts = getattr(batch, "request_counts", None)
            done = f" {counts.completed + counts.failed}/{counts.total}" if counts else ""
            progress.phase = f"batch {batch.id}: {batch.status}{done}"
            if progress_callback:
                progress_callback(progress)
            if batch_poll_callback:
                batch_poll_callback(batch)

        runner = BatchRunner(settings, journal, job=JOB, run_id=run_id, price=price,
                             workdir=Path(str(plan.journal) + ".batches"), retry_failed=plan.retry_failed,
                             on_call=lambda _result: on_change(runner.stats), on_poll=on_poll)
        runners.append(runner)
        stage_name = {"A": "stage A: reference, facts, ratings", "B": "stage B: follow-up, accuracy"}
        outcomes = annotate_in_batches(proto, runner, plan.tasks,
                                       on_stage=lambda st: setattr(progress, "phase", stage_name[st]))
        for outcome in outcomes:
            on_outcome(outcome)
        return

    runner = CallRunner(settings, journal, run_id=run_id, price=price, retry_failed=plan.retry_failed,
                        on_change=on_change)
    runners.append(runner)
    asyncio.run(_online(proto, runner, plan.tasks, on_outcome, loader))


async def _online(proto: Protocol, runner: CallRunner, tasks: list[PairTask], on_outcome, loader: _Loader) -> None:
    # A bounded number of pairs in flight, so pairs finish (and load) steadily.
    gate = asyncio.Semaphore(max(2, runner.settings.concurrency))

    async def one(task: PairTask) -> PairOutcome:
        async with gate:
            return await annotate_pair(proto, runner, task)

    pending = [asyncio.ensure_future(one(t)) for t in tasks]
    try:
        for fut in asyncio.as_completed(pending):
            if on_outcome(await fut):
                await asyncio.to_thread(loader.flush)
    except BaseException:
        for fut in pending:
            fut.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    finally:
        await runner.aclose()


def _finish(plan, journal, run_id, summary, loader, stats, started) -> None:
    """Load what is complete, mirror the journal, close the run's record."""
    if stats is not None:
        summary.requests, summary.calls_cached, summary.calls_failed = stats.requests, stats.cached, stats.failed
        summary.invalid_answers, summary.retries, summary.timeouts = stats.invalid, stats.retries, stats.timeouts
        summary.prompt_tokens, summary.completion_tokens, summary.cost_usd = (
            stats.prompt_tokens, stats.completion_tokens, stats.cost_usd)
        summary.failure_reasons = dict(stats.errors)
        summary.own_ms_per_call = 1000 * stats.own_seconds / max(1, stats.settled)
    labels = [labels_only_record(t) for t in plan.present if t.pair.human]
    try:
        if summary.pairs_annotated or labels:
            loader.flush(labels)
            # a run that loads nothing leaves the database as it was; its answers wait in the journal
            summary.calls_mirrored = mirror_calls(plan.journal, plan.db)
    except Exception as exc:  # the answers are safe in the journal; say why the load failed
        summary.aborted = summary.aborted or f"loading into {locate(plan.db).display} failed: {exc}"
    summary.seconds = time.perf_counter() - started
    if summary.pairs_annotated:
        summary.word_method = words.method()
    if summary.pairs_planned and not summary.pairs_annotated and not summary.aborted:
        # each pair's first failed step with its reason, e.g. "query-facts: invalid answer: not valid JSON"
        reasons = set(summary.first_failures)
        summary.aborted = "no pair could be annotated (" + "; ".join(sorted(reasons))[:200] + ")"
    journal.finish_run(run_id, "aborted" if summary.aborted else "finished", summary.as_dict())


__all__ = ["JobPlan", "JobProgress", "JobStatus", "JobSummary", "job_status", "plan_job", "plan_stored", "run_job"]
