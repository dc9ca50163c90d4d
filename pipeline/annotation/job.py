"""An annotation job: plan it (pairs, calls, cost), run it, and watch it from elsewhere.

    plan = plan_job("new_pairs.jsonl", db="data/preference.duckdb")
    print("\\n".join(plan.lines()))
    summary = run_job(plan, progress_callback=print)

Answers go to the call journal (`<db>.calls.sqlite`) as they arrive. Annotated pairs are
loaded into DuckDB through the ordinary loader in short transactions (every
`load_every` pairs and at the end), then the journal is mirrored into `llm_calls`, so
the dashboard keeps reading the database while a job runs. `job_status(db)` reads the
journal and works from any process while a job is running.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import db as dbmod
from ..llm import (CallJournal, CallRunner, ConfigError, JobAborted, LLMSettings, format_usd, job_lock,
                   journal_path, mirror_calls, price_for, settings_from_env, token_counter)
from ..llm.batch import BatchRunner
from ..llm.cache import lookup
from ..llm.journal import open_readonly
from ..llm.estimate import CallEstimate
from ..llm.lock import is_locked
from ..llm.templates import load_template
from ..loader import load_records, pair_key
from . import steps, words
from .inputs import InputReport, read_pairs
from .protocol import PairOutcome, Protocol, annotate_in_batches, annotate_pair
from .resolve import labels_only_record
from .steps import ACCURACY, FACTS, FOLLOWUP, REFERENCE, Facts, PairTask

JOB = steps.JOB
SOURCE_KIND = "annotated"
_DUMMY_FACTS = Facts("Yes", "No", ["a constraint stated in the query"], [], [])


# ------------------------------------------------------------------ the plan

@dataclass
class JobPlan(CallEstimate):
    input: Path
    db: Path
    journal: Path
    settings: LLMSettings
    rows: int
    tasks: list[PairTask]                       # pairs to annotate
    present: list[PairTask]                     # already in the database: only their labels are added
    skipped: list[tuple[int, str]]              # (row, reason)
    calls_total: int = 0                        # calls the pairs need (step 2 counted where it may apply)
    batch: bool = False
    problems: list[str] = field(default_factory=list)   # why it cannot start (no API key, ...)

    @property
    def skipped_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, reason in self.skipped:
            out[reason] = out.get(reason, 0) + 1
        return out

    def lines(self) -> list[str]:
        s = self.settings
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped_counts.items())) or "none"
        mode = "Batch API (half price, results within 24 h)" if self.batch else f"online, {s.concurrency} at a time"
        out = [
            f"input: {self.input} ({self.rows} rows; left out: {skipped})",
            f"pairs to annotate: {len(self.tasks)}" + (f"; already in the database: {len(self.present)} "
                                                        "(only their human labels are added)" if self.present else ""),
            f"model: {s.model} at {s.server}; {mode}",
            *self.call_lines(),
        ]
        return out + [f"cannot start: {p}" for p in self.problems]


def plan_job(file: str | Path, *, db=None, model: str | None = None, max_pairs: int | None = None,
             concurrency: int | None = None, retry_failed: bool = False, batch: bool = False,
             settings: LLMSettings | None = None) -> JobPlan:
    """Read the input and count what a run would do and cost; changes nothing anywhere."""
    settings = (settings or settings_from_env()).with_(model=model, concurrency=concurrency)
    report: InputReport = read_pairs(file)
    db_path = dbmod.resolve_db_path(db)
    pairs = report.pairs[:max_pairs] if max_pairs is not None else report.pairs
    skipped = list(report.skipped)
    known = _keys_in_db(db_path)
    tasks, present, seen = [], [], {}
    for pair in pairs:
        key = pair_key(pair.query, pair.response_1, pair.response_2)
        if key in seen:
            skipped.append((pair.position, "same pair as an earlier row"))
            continue
        seen[key] = pair.position
        (present if key in known else tasks).append(PairTask(pair, key))
    plan = JobPlan(input=Path(file), db=db_path, journal=journal_path(db_path), settings=settings,
                   rows=report.rows, tasks=tasks, present=present, skipped=sorted(skipped), batch=batch,
                   retry_failed=retry_failed, price=price_for(settings.model))
    if not settings.api_key:
        plan.problems.append("OPENAI_API_KEY is not set (environment or .env)")
    _estimate(plan)
    return plan


def _keys_in_db(db_path: Path) -> set[str]:
    if not db_path.exists():
        return set()
    try:
        with dbmod.reading(db_path) as con:
            return {k for (k,) in con.execute("SELECT pair_key FROM pairs").fetchall()}
    except Exception:  # an empty or older file without the table: nothing is in it yet
        return set()


def _estimate(plan: JobPlan) -> None:
    """Count calls, reuse answers the journal holds, and estimate the rest's tokens."""
    proto = Protocol(plan.settings)
    counter = token_counter(plan.settings.model)
    plan.token_method = counter.method
    journal = CallJournal(plan.journal) if plan.journal.exists() else None
    expected = {step: load_template(name).int_meta("expected_output_tokens", 200)
                for step, name in steps.TEMPLATES.items()}
    dummy_reference = "word " * expected[REFERENCE]
    seen: set[str] = set()  # pairs that share a request (same query, same responses) share its call
    to_ask: list[list[dict[str, str]]] = []
    try:
        for task in plan.tasks:
            calls = proto.stage_a(task)
            settled = {step: _settled(journal, req, v) for step, (req, v) in calls.items()}
            facts = settled[FACTS].value if settled[FACTS] and settled[FACTS].ok else None
            reference = task.pair.reference or (settled[REFERENCE].value if settled.get(REFERENCE) and
                                                settled[REFERENCE].ok else None)
            later = proto.stage_b(task, facts or _DUMMY_FACTS, reference or dummy_reference)
            if not plan.retry_failed:  # a failed call stays failed: what needs it will not be asked
                if settled[FACTS] is not None and not settled[FACTS].ok:
                    later.pop(FOLLOWUP, None)
                if settled.get(REFERENCE) is not None and not settled[REFERENCE].ok:
                    later.pop(ACCURACY, None)
            for step, (req, v) in later.items():
                exact = (step == FOLLOWUP and facts is not None) or (step == ACCURACY and reference is not None)
                calls[step] = (req, v)
                settled[step] = _settled(journal, req, v) if exact else None
            for step, (req, _) in calls.items():
                if req.hash in seen:
                    continue
                seen.add(req.hash)
                plan.calls_total += 1
                result = settled[step]
                if result is not None and result.ok:
                    plan.calls_cached += 1
                    continue
                if result is not None:
                    plan.calls_failed += 1
                    if not plan.retry_failed:
                        continue
                to_ask.append(req.messages)
                plan.est_completion_tokens += expected[step]
    finally:
        if journal:
            journal.close()
    plan.est_prompt_tokens = _prompt_tokens(counter, to_ask)
    if plan.price:
        plan.est_cost_usd = plan.price.cost(plan.est_prompt_tokens, plan.est_completion_tokens, batch=plan.batch)


def _prompt_tokens(counter, requests: list[list[dict[str, str]]], sample: int = 400) -> int:
    """Exact counts for a sample, scaled by characters: tokenizing a whole release takes minutes."""
    if len(requests) <= sample:
        return sum(counter.count_messages(m) for m in requests)
    chars = [sum(len(x.get("content") or "") for x in m) for m in requests]
    picked = range(0, len(requests), len(requests) // sample)
    tokens = sum(counter.count_messages(requests[i]) for i in picked)
    return round(tokens * sum(chars) / max(1, sum(chars[i] for i in picked)))


def _settled(journal, req, validate):
    """A valid stored answer, a failure marked before, or None (still to ask)."""
    if journal is None:
        return None
    return lookup(journal, req, validate, write=False).result


# ------------------------------------------------------------------ running

@dataclass
class JobProgress:
    """What a progress display shows; passed to progress_callback after every call."""
    pairs_total: int
    pairs_done: int = 0
    pairs_failed: int = 0
    calls_total: int = 0
    calls_settled: int = 0
    requests: int = 0
    failures: int = 0
    retries: int = 0
    cost_usd: float = 0.0
    phase: str = ""


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
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    own_ms_per_call: float = 0.0
    word_method: str = ""                       # how num_words was counted
    failure_reasons: dict[str, int] = field(default_factory=dict)
    calls_mirrored: int = 0
    aborted: str | None = None                  # one line: why the job stopped early
    loads: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.aborted is None and (self.pairs_annotated > 0 or self.pairs_planned == 0)

    def lines(self) -> list[str]:
        out = [f"pairs annotated: {self.pairs_annotated} of {self.pairs_planned} "
               f"({self.pairs_new} new in the database)"
               + (f"; {self.pairs_present} were already there" if self.pairs_present else ""),
               f"pairs failed: {len(self.pairs_failed)}",
               f"calls: {self.requests} answered now, {self.calls_cached} reused from the journal, "
               f"{self.calls_failed} failed, {self.invalid_answers} invalid answers asked again, "
               f"{self.retries} transport retries",
               f"tokens: {self.prompt_tokens:,} in, {self.completion_tokens:,} out; cost {format_usd(self.cost_usd)}; "
               f"{self.seconds:.1f} s"]
        out += [f"  failed because {why}: {n} call(s)" for why, n in sorted(self.failure_reasons.items())]
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
        report = load_records(records, source=f"annotated:{self.plan.input.name}", kind=SOURCE_KIND,
                              location=str(self.plan.input), db=self.plan.db)
        self.summary.pairs_new += report.new_pairs
        self.summary.loads.append(report.summary())


def run_job(plan: JobPlan, progress_callback: Callable[[JobProgress], None] | None = None, *,
            load_every: int = 200, batch_poll_callback: Callable[[Any], None] | None = None) -> JobSummary:
    """Run the plan to the end (or until nothing more can work); never raises for LLM trouble."""
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
            run_id = journal.start_run(JOB, {"input": str(plan.input), "model": plan.settings.model,
                                             "pairs": len(plan.tasks), "calls": plan.calls_total,
                                             "calls_to_make": plan.calls_to_make, "batch": plan.batch,
                                             "estimated_cost_usd": plan.est_cost_usd})
            stats = None
            try:
                stats = _run(plan, journal, run_id, summary, progress, progress_callback, loader,
                             batch_poll_callback)
            except JobAborted as exc:
                summary.aborted = str(exc)
            except BaseException:  # Ctrl-C or a crash: keep what is complete, then let it through
                summary.aborted = "interrupted: rerun the same command to resume"
                raise
            finally:
                _finish(plan, journal, run_id, summary, loader, stats, started)
    except (JobAborted, ConfigError) as exc:  # the lock is taken, or no key
        summary.aborted = str(exc)
    return summary


def _run(plan, journal, run_id, summary, progress, progress_callback, loader, batch_poll_callback):
    settings, price = plan.settings, plan.price
    proto = Protocol(settings)

    def on_call(_result) -> None:
        s = runner.stats
        progress.calls_settled, progress.requests, progress.failures = s.settled, s.requests, s.failed
        progress.retries, progress.cost_usd = s.retries, s.cost_usd
        if progress_callback:
            progress_callback(progress)

    def on_outcome(outcome: PairOutcome) -> bool:
        if outcome.record is None:
            progress.pairs_failed += 1
            summary.pairs_failed.append((outcome.task.pair.position, outcome.error or "unknown"))
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
                             on_call=on_call, on_poll=on_poll)
        stage_name = {"A": "stage A: reference, facts, ratings", "B": "stage B: follow-up, accuracy"}
        outcomes = annotate_in_batches(proto, runner, plan.tasks,
                                       on_stage=lambda st: setattr(progress, "phase", stage_name[st]))
        for outcome in outcomes:
            on_outcome(outcome)
        return runner.stats

    runner = CallRunner(settings, journal, run_id=run_id, price=price, retry_failed=plan.retry_failed,
                        on_call=on_call)
    asyncio.run(_online(proto, runner, plan.tasks, on_outcome, loader))
    return runner.stats


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
        summary.invalid_answers, summary.retries = stats.invalid, stats.retries
        summary.prompt_tokens, summary.completion_tokens, summary.cost_usd = (
            stats.prompt_tokens, stats.completion_tokens, stats.cost_usd)
        summary.failure_reasons = dict(stats.errors)
        summary.own_ms_per_call = 1000 * stats.own_seconds / max(1, stats.settled)
    labels = [labels_only_record(t) for t in plan.present if t.pair.human]
    try:
        if summary.pairs_annotated or labels:
            loader.flush(labels)
        if summary.pairs_annotated or labels or plan.db.exists():
            summary.calls_mirrored = mirror_calls(plan.journal, plan.db)
    except Exception as exc:  # the answers are safe in the journal; say why the load failed
        summary.aborted = summary.aborted or f"loading into {plan.db} failed: {exc}"
    summary.seconds = time.perf_counter() - started
    if summary.pairs_annotated:
        summary.word_method = words.method()
    if summary.pairs_planned and not summary.pairs_annotated and not summary.aborted:
        # each pair's first failed step with its reason, e.g. "query-facts: invalid answer: not valid JSON"
        reasons = {r.split("; ")[0] for _, r in summary.pairs_failed}
        summary.aborted = "no pair could be annotated (" + "; ".join(sorted(reasons))[:200] + ")"
    journal.finish_run(run_id, "aborted" if summary.aborted else "finished", summary.as_dict())


# ------------------------------------------------------------------ watching

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
