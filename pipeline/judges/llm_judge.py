"""judge-llm: labels for a new judge, asked of an LLM behind an OpenAI-compatible server.

Every pair is shown twice (SPEC section 7): once with response 1 as answer A ("ab"), once
with response 1 as answer B ("ba"). Each answer gives the probability that A is better:
from the logprobs of the tokens "A" and "B" when the server returns them (renormalised
over those two), else 1 or 0 from the text. The probability that response 1 is better is
the mean of the two orders, so a pull towards one position cancels:

    prob_1 = (P(A | ab) + P(B | ba)) / 2,   preferred = 1 if prob_1 > 0.5, 2 if below.

A pair whose prob_1 is 0.5 (the model picked the same position in both orders and gave
no probabilities, or exactly mirrored ones) has no preference: it is left unlabelled
and counted as a tie, as a labels file's 0.5 is. Position consistency is the share of
pairs, among those answered in both orders, where both orders name the same response.

All calls go through the shared LLM layer (pipeline.llm): journal, reuse of answers on a
rerun, retries, concurrency and cost. The one thing it does not keep by itself is the
logprobs, so the client handed to it wraps each answer in a small JSON envelope
{"text": ..., "top": [[token, logprob], ...]} that the journal stores as the answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..store import db as dbmod
from ..llm import CallJournal, CallResult, CallRunner, CallStats, LLMRequest, LLMSettings, job_lock, journal_path, load_template, lookup, mirror_calls, price_for, settings_from_env
from ..llm.client import make_async_client
from ..llm.errors import ErrorKind
from ..llm.estimate import CallEstimate
from ..llm.pairs import PairText, read_pair_texts  # both orders are asked, so no hash-decided swap
from ..llm.progress import JobProgress, OnProgress, call_lines
from .errors import JudgeError
from .store import AddJudgeReport, add_judge, check_name, refuse_existing
from .verdict import LogprobClient, PairJudgement, combine, parse_verdict, position_consistency, to_labels

TEMPLATE = "judge_pairwise"
TOP_LOGPROBS = 5
ORDERS = ("ab", "ba")          # ab: response 1 shown as answer A; ba: response 1 shown as answer B


class JudgeLLMError(JudgeError):
    """judge-llm could not add a judge; the report says what was asked and answered."""

    def __init__(self, message: str, report: "JudgeLLMReport | None" = None):
        super().__init__(message)
        self.report = report


# ---------------------------------------------------------------- the plan


@dataclass
class JudgePlan(CallEstimate):
    judge: str
    settings: LLMSettings
    journal: Path
    pairs: list[PairText]
    requests: dict[tuple[int, str], LLMRequest]     # (pair_id, order) -> request
    logprobs: bool

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def calls_total(self) -> int:
        return len(self.requests)

    def lines(self) -> list[str]:
        """What will be asked and what it may cost, in the annotation plan's words."""
        s = self.settings
        return [
            f"judge: {self.judge}; pairs: {len(self.pairs)}, each asked in both orders (A/B and B/A)",
            f"model: {s.model} at {s.server}; online, {s.concurrency} at a time; "
            f"{'logprobs of A/B when the server gives them' if self.logprobs else 'text answers only'}",
            *self.call_lines(),
        ]


def build_request(judge: str, pair: PairText, order: str, settings: LLMSettings, logprobs: bool) -> LLMRequest:
    tpl = load_template(TEMPLATE)
    a, b = (pair.response_1, pair.response_2) if order == "ab" else (pair.response_2, pair.response_1)
    extra = {"logprobs": True, "top_logprobs": TOP_LOGPROBS} if logprobs else {}
    return LLMRequest(job=f"judge:{judge}", step=f"judge-{order}", item_key=pair.pair_key, model=settings.model,
                      messages=tpl.messages(query=pair.query, response_a=a, response_b=b),
                      prompt_version=tpl.version, json_mode=False, max_tokens=tpl.int_meta("max_tokens", 1),
                      temperature=settings.temperature, seed=settings.seed, extra=extra)


def _count_settled(plan: JudgePlan) -> list[LLMRequest]:
    """Count calls the journal already settles (read only); the requests still to make."""
    if not plan.journal.exists():
        return list(plan.requests.values())
    todo = []
    with CallJournal(plan.journal) as journal:
        for req in plan.requests.values():
            found = lookup(journal, req, parse_verdict, retry_failed=plan.retry_failed, write=False).result
            if found is not None and found.ok:
                plan.calls_cached += 1
            elif found is not None and not plan.retry_failed:
                plan.calls_failed += 1
            else:
                todo.append(req)
    return todo


def _estimate(plan: JudgePlan, todo: list[LLMRequest]) -> None:
    """Tokens and cost of the calls still to make (the shared estimator)."""
    per_call = load_template(TEMPLATE).int_meta("expected_output_tokens", 1)
    plan.estimate(plan.model, todo, per_call * len(todo))


def plan_judge(judge: str, *, model: str, db=None, settings: LLMSettings | None = None, max_pairs: int | None = None,
               usable_only: bool = False, logprobs: bool = True, retry_failed: bool = False) -> JudgePlan:
    """The calls judge-llm would make and what they would cost; nothing is asked or written."""
    settings = (settings or settings_from_env()).with_(model=model)
    pairs = read_pair_texts(db, max_pairs=max_pairs, usable_only=usable_only)
    if not pairs:
        raise JudgeLLMError("the database has no pairs to judge" + (" (usable ones)" if usable_only else ""))
    requests = {(p.pair_id, o): build_request(judge, p, o, settings, logprobs) for p in pairs for o in ORDERS}
    plan = JudgePlan(judge, settings, journal_path(dbmod.resolve_db_path(db)), pairs, requests, logprobs,
                     retry_failed=retry_failed, price=price_for(settings.model))
    _estimate(plan, _count_settled(plan))
    return plan


# ---------------------------------------------------------------- running


@dataclass
class JudgeLLMReport:
    judge: str
    model: str
    pairs: int = 0                    # pairs asked about
    judged: int = 0                   # pairs answered in both orders
    failed: int = 0                   # pairs missing an answer in at least one order
    ties: int = 0
    labels: int = 0
    via_logprobs: int = 0             # pairs whose both answers came with logprobs
    position_consistency: float | None = None
    logprobs_used: bool = True        # False when asked for text only, or the server refused logprobs
    priced: bool = True               # the model is in the price table
    stats: CallStats = field(default_factory=CallStats)
    errors: dict[str, int] = field(default_factory=dict)   # why calls failed -> how many
    added: AddJudgeReport | None = None
    seconds: float = 0.0

    def lines(self) -> list[str]:
        pc = "n/a" if self.position_consistency is None else f"{100 * self.position_consistency:.1f}%"
        s = self.stats
        return [f"pairs answered in both orders: {self.judged} of {self.pairs}; failed: {self.failed}",
                f"position consistency: {pc} (pairs where both orders name the same response)",
                f"labels: {self.labels}; ties left out: {self.ties}; from logprobs: {self.via_logprobs} pairs, "
                f"from the text answer: {self.judged - self.via_logprobs}",
                *call_lines(requests=s.requests, cached=s.cached, failed=s.failed, invalid=s.invalid,
                            retries=s.retries, timeouts=s.timeouts, prompt_tokens=s.prompt_tokens,
                            completion_tokens=s.completion_tokens, cost_usd=s.cost_usd if self.priced else None,
                            seconds=self.seconds, errors=self.errors)]

    def summary(self) -> str:
        return "\n".join(self.lines())


class _Progress:
    """The shared progress view (pipeline.llm.progress): a pair is done when both orders are."""

    def __init__(self, plan: JudgePlan, callback: OnProgress | None):
        self.callback = callback
        self.view = JobProgress(pairs_total=len(plan.pairs), calls_total=plan.calls_total, phase="judging")
        self.orders: dict[str, int] = {}

    def reset(self) -> None:
        self.orders.clear()
        self.view.pairs_done = 0

    def on_call(self, result: CallResult) -> None:
        n = self.orders[result.item_key] = self.orders.get(result.item_key, 0) + 1
        self.view.pairs_done += n == 2

    def on_change(self, stats: CallStats) -> None:
        if self.callback:
            self.callback(self.view.take(stats))


async def _ask_all(runner: CallRunner, plan: JudgePlan) -> dict[tuple[int, str], CallResult]:
    keys = list(plan.requests)
    results = await asyncio.gather(*(runner.call(plan.requests[k], parse_verdict) for k in keys))
    return dict(zip(keys, results))


def _refused(result: CallResult) -> bool:
    """The server rejected the request itself (as servers without logprobs support do)."""
    return not result.ok and result.kind is ErrorKind.REFUSED


async def _run(plan: JudgePlan, journal: CallJournal, run_id: int, progress: _Progress,
               client=None) -> tuple[dict, CallStats]:
    """All calls; when the server refuses the logprobs option, ask everything without it."""
    settings = plan.settings
    runner = CallRunner(settings, journal, run_id=run_id, price=plan.price or price_for(plan.model),
                        client=LogprobClient(client or make_async_client(settings)),
                        retry_failed=plan.retry_failed, on_call=progress.on_call, on_change=progress.on_change)
    try:
        if plan.logprobs:  # one call first: a server without logprobs support says so with a 400
            probe = await runner.call(next(iter(plan.requests.values())), parse_verdict)
            if _refused(probe):
                plan.logprobs = False
                plan.requests = {k: _without_logprobs(r) for k, r in plan.requests.items()}
                _forget_probe(runner.stats)
                progress.reset()
        return await _ask_all(runner, plan), runner.stats
    finally:
        await runner.aclose()


def _forget_probe(stats: CallStats) -> None:
    """The refused probe cost nothing and is asked again without logprobs: not a failure."""
    stats.settled -= 1
    stats.failed -= 1
    stats.errors.clear()


def _without_logprobs(req: LLMRequest) -> LLMRequest:
    return LLMRequest(job=req.job, step=req.step, item_key=req.item_key, model=req.model, messages=req.messages,
                      prompt_version=req.prompt_version, json_mode=req.json_mode, max_tokens=req.max_tokens,
                      temperature=req.temperature, seed=req.seed, extra={})


def _judgements(plan: JudgePlan, results: dict, report: JudgeLLMReport) -> list[PairJudgement]:
    out = []
    for pair in plan.pairs:
        ab, ba = results[(pair.pair_id, "ab")], results[(pair.pair_id, "ba")]
        if not (ab.ok and ba.ok):
            report.failed += 1
            for r in (ab, ba):
                if not r.ok:
                    key = (r.reason or "no answer")[:80]
                    report.errors[key] = report.errors.get(key, 0) + 1
            continue
        j = combine(pair.pair_id, ab.value, ba.value)
        report.via_logprobs += j.via == "logprobs"
        out.append(j)
    return out


def judge_with_llm(name: str, *, model: str, db=None, settings: LLMSettings | None = None,
                   concurrency: int | None = None, max_pairs: int | None = None, usable_only: bool = False,
                   logprobs: bool = True, retry_failed: bool = False, kind: str = "llm",
                   size_b: float | None = None, note: str | None = None, replace: bool = False, fit: bool = True,
                   plan: JudgePlan | None = None, progress_callback: OnProgress | None = None,
                   fit_progress=None, client=None) -> JudgeLLMReport:
    """Ask the model about every pair in both orders, then add (and fit) the judge.

    Refuses before any call when the judge exists and `replace` is not set. Raises
    JudgeLLMError (with the report) when no pair got a label; every answer stays in the
    journal either way, so a rerun asks only what is missing. `plan` (from plan_judge)
    overrides the options that shape the calls.
    """
    started = time.perf_counter()
    name = check_name(name)
    if plan is None:
        settings = (settings or settings_from_env()).with_(model=model, concurrency=concurrency)
        plan = plan_judge(name, model=model, db=db, settings=settings, max_pairs=max_pairs,
                          usable_only=usable_only, logprobs=logprobs, retry_failed=retry_failed)
    plan.settings.require_key()
    refuse_existing(name, db, replace)
    report = JudgeLLMReport(name, plan.model, pairs=len(plan.pairs), priced=plan.price is not None)
    try:
        report.stats, results = _ask(plan, db, name, progress_callback, client)
    finally:
        _mirror(plan.journal, db)  # what was answered shows in llm_calls, even after an abort
    report.logprobs_used = plan.logprobs
    judgements = _judgements(plan, results, report)
    report.judged = len(judgements)
    report.position_consistency = position_consistency(judgements)
    labels, report.ties = to_labels(judgements)
    report.labels = len(labels)
    report.seconds = time.perf_counter() - started
    if not labels:
        raise JudgeLLMError(_no_labels_reason(report), report)
    report.added = add_judge(name, labels, db=db, kind=kind, size_b=size_b, note=note,
                             source=f"judge-llm: {plan.model} at {plan.settings.server}",
                             position_consistency=report.position_consistency, replace=replace, fit=fit,
                             progress=fit_progress)
    report.added.ties = report.ties
    report.seconds = time.perf_counter() - started
    return report


def _ask(plan: JudgePlan, db, name: str, progress_callback, client) -> tuple[CallStats, dict]:
    """The calls, as one run in the journal (one such run per judge name at a time)."""
    job = f"judge:{name}"
    progress = _Progress(plan, progress_callback)
    with job_lock(plan.journal, job), CallJournal(plan.journal) as journal:
        run_id = journal.start_run(job, {"model": plan.model, "pairs": len(plan.pairs), "calls": plan.calls_total,
                                         "estimated_cost_usd": plan.est_cost_usd})
        stats, state = CallStats(), "aborted"
        try:
            results, stats = asyncio.run(_run(plan, journal, run_id, progress, client))
            state = "finished"
        finally:
            journal.finish_run(run_id, state, {"requests": stats.requests, "failed": stats.failed,
                                               "cost_usd": stats.cost_usd})
    return stats, results


def _mirror(jfile, db) -> None:
    """Copy the journal into llm_calls; the journal stays the truth if this cannot happen now."""
    try:
        mirror_calls(jfile, db)
    except Exception:  # noqa: BLE001 - a locked database must not lose the run's labels
        pass


def _no_labels_reason(report: JudgeLLMReport) -> str:
    if report.judged == 0:
        why = ", ".join(report.errors) or "no answers"
        return f"no pair was answered in both orders ({why}); nothing was added"
    return (f"no pair got a label: all {report.ties} answered pairs are ties (the model named the same position "
            f"in both orders and gave no probabilities; position consistency "
            f"{100 * (report.position_consistency or 0):.1f}%); nothing was added")


__all__ = ["JudgeLLMError", "JudgeLLMReport", "JudgePlan", "judge_with_llm", "plan_judge"]
