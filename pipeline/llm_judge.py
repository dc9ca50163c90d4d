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
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from . import db as dbmod
from .judges import (TIE, TIE_TOLERANCE, AddJudgeReport, JudgeError, JudgeExists, Label, add_judge, check_name,
                     judge_exists)
from .llm import (CallJournal, CallResult, CallRunner, CallStats, InvalidAnswer, LLMRequest, LLMSettings,
                  format_usd, job_lock, journal_path, load_template, lookup, mirror_calls, price_for,
                  settings_from_env, token_counter)
from .llm.estimate import CallEstimate
from .llm.runner import make_async_client

TEMPLATE = "judge_pairwise"
TOP_LOGPROBS = 5
ORDERS = ("ab", "ba")          # ab: response 1 shown as answer A; ba: response 1 shown as answer B
ESTIMATE_SAMPLE = 400          # requests whose tokens are counted for the estimate; the rest scaled


class JudgeLLMError(JudgeError):
    """judge-llm could not add a judge; the report says what was asked and answered."""

    def __init__(self, message: str, report: "JudgeLLMReport | None" = None):
        super().__init__(message)
        self.report = report


# ---------------------------------------------------------------- one answer


@dataclass(frozen=True)
class Verdict:
    p_a: float     # probability that answer A is the better one
    via: str       # 'logprobs' or 'text'


_LETTER = re.compile(r"^(?:(?:answer|response)\s*[:\-]?\s*)?([AB])$", re.I)


def _letter(token: str) -> str | None:
    """'A' or 'B' when a token or a short text names one, else None."""
    t = token.strip().strip("*_`'\"()[]<>.:,").strip()
    m = _LETTER.match(t)
    return m.group(1).upper() if m else None


def _from_logprobs(top: list[list[Any]] | None) -> float | None:
    """P(A) renormalised over A and B, from the first position whose alternatives name one."""
    for position in top or []:
        mass = {"A": 0.0, "B": 0.0}
        for token, logprob in position:
            letter = _letter(str(token))
            if letter and logprob is not None and math.isfinite(logprob):
                mass[letter] += math.exp(logprob)
        total = mass["A"] + mass["B"]
        if total > 0:
            return mass["A"] / total
    return None


def parse_verdict(raw: str) -> Verdict:
    """The validator of a judge call: logprobs when present, else the text. InvalidAnswer otherwise."""
    text, top = raw, None
    try:
        env = json.loads(raw)
        if isinstance(env, dict) and "text" in env:
            text, top = env.get("text") or "", env.get("top")
    except (json.JSONDecodeError, TypeError):
        pass  # a plain text answer (stored without the envelope)
    p = _from_logprobs(top)
    if p is not None:
        return Verdict(p, "logprobs")
    letter = _letter(text)
    if letter is None:
        preview = " ".join(str(text).split())[:40]
        raise InvalidAnswer(f"expected the letter A or B, got {preview!r}")
    return Verdict(1.0 if letter == "A" else 0.0, "text")


# ---------------------------------------------------------------- the client adapter


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute or key: SDK objects and plain dicts from lenient servers alike."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _top_logprobs(choice: Any, positions: int = 3) -> list[list[list[Any]]] | None:
    content = _get(_get(choice, "logprobs"), "content")
    if not content:
        return None
    out = []
    for tok in content[:positions]:
        alts = _get(tok, "top_logprobs") or [tok]  # no alternatives: the chosen token alone
        out.append([[_get(a, "token"), _get(a, "logprob")] for a in alts])
    return out


def envelope(resp: Any) -> Any:
    """The completion with its text replaced by {"text", "top"}: what the journal keeps."""
    choices = _get(resp, "choices") or []
    if not choices:
        return resp
    choice = choices[0]
    text = _get(_get(choice, "message"), "content") or ""
    body = json.dumps({"text": text, "top": _top_logprobs(choice)}, ensure_ascii=False)
    wrapped = SimpleNamespace(message=SimpleNamespace(content=body), finish_reason=_get(choice, "finish_reason"))
    return SimpleNamespace(id=_get(resp, "id"), usage=_get(resp, "usage"), choices=[wrapped])


class LogprobClient:
    """The OpenAI client as CallRunner uses it, keeping each answer's logprobs in its text."""

    def __init__(self, inner):
        self._inner = inner
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    async def _create(self, **body):
        return envelope(await self._inner.chat.completions.create(**body))

    async def close(self) -> None:
        await self._inner.close()


# ---------------------------------------------------------------- the plan


@dataclass
class PairText:
    pair_id: int
    pair_key: str
    query: str
    response_1: str
    response_2: str


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


def read_pairs(db=None, *, max_pairs: int | None = None, usable_only: bool = False) -> list[PairText]:
    where = "WHERE usable" if usable_only else ""
    limit = f"LIMIT {int(max_pairs)}" if max_pairs else ""
    with dbmod.reading(db) as con:
        rows = con.execute(f"SELECT pair_id, pair_key, query, response_1, response_2 FROM pairs {where} "
                           f"ORDER BY pair_id {limit}").fetchall()
    return [PairText(*r) for r in rows]


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
    """Tokens and cost of the calls still to make; tokens counted on a sample when there are many."""
    counter = token_counter(plan.model)
    plan.token_method = counter.method
    plan.price = price_for(plan.model)
    if not todo:
        plan.est_cost_usd = 0.0 if plan.price else None
        return
    sample = todo[::max(1, len(todo) // ESTIMATE_SAMPLE)]
    per_call = sum(counter.count_messages(r.messages) for r in sample) / len(sample)
    plan.est_prompt_tokens = int(per_call * len(todo))
    plan.est_completion_tokens = load_template(TEMPLATE).int_meta("expected_output_tokens", 1) * len(todo)
    if plan.price:
        plan.est_cost_usd = plan.price.cost(plan.est_prompt_tokens, plan.est_completion_tokens)


def plan_judge(judge: str, *, model: str, db=None, settings: LLMSettings | None = None, max_pairs: int | None = None,
               usable_only: bool = False, logprobs: bool = True, retry_failed: bool = False) -> JudgePlan:
    """The calls judge-llm would make and what they would cost; nothing is asked or written."""
    settings = (settings or settings_from_env()).with_(model=model)
    pairs = read_pairs(db, max_pairs=max_pairs, usable_only=usable_only)
    if not pairs:
        raise JudgeLLMError("the database has no pairs to judge" + (" (usable ones)" if usable_only else ""))
    requests = {(p.pair_id, o): build_request(judge, p, o, settings, logprobs) for p in pairs for o in ORDERS}
    plan = JudgePlan(judge, settings, journal_path(dbmod.resolve_db_path(db)), pairs, requests, logprobs,
                     retry_failed=retry_failed)
    _estimate(plan, _count_settled(plan))
    return plan


# ---------------------------------------------------------------- combining


@dataclass(frozen=True)
class PairJudgement:
    pair_id: int
    p1_ab: float        # P(response 1 better) from the order where it was A
    p1_ba: float        # ... and from the order where it was B
    via: str            # 'logprobs', 'text' or 'mixed'

    @property
    def prob_1(self) -> float:
        return (self.p1_ab + self.p1_ba) / 2

    @property
    def tie(self) -> bool:
        return abs(self.prob_1 - TIE) <= TIE_TOLERANCE

    @property
    def consistent(self) -> bool:
        """Both orders name the same response (a 0.5 in either order names none)."""
        return (self.p1_ab - TIE) * (self.p1_ba - TIE) > 0


def combine(pair_id: int, ab: Verdict, ba: Verdict) -> PairJudgement:
    via = ab.via if ab.via == ba.via else "mixed"
    return PairJudgement(pair_id, ab.p_a, 1.0 - ba.p_a, via)


def position_consistency(judgements: list[PairJudgement]) -> float | None:
    if not judgements:
        return None
    return sum(j.consistent for j in judgements) / len(judgements)


def to_labels(judgements: list[PairJudgement]) -> tuple[list[Label], int]:
    """(labels, ties): a 0.5 has no preference and is left out."""
    labels = [Label(j.pair_id, 1 if j.prob_1 > TIE else 2, j.prob_1) for j in judgements if not j.tie]
    return labels, len(judgements) - len(labels)


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
        out = [f"pairs answered in both orders: {self.judged} of {self.pairs}; failed: {self.failed}",
               f"position consistency: {pc} (pairs where both orders name the same response)",
               f"labels: {self.labels}; ties left out: {self.ties}; from logprobs: {self.via_logprobs} pairs, "
               f"from the text answer: {self.judged - self.via_logprobs}",
               f"calls: {s.requests} answered now, {s.cached} reused from the journal, {s.failed} failed, "
               f"{s.invalid} invalid answers asked again, {s.retries} transport retries",
               f"tokens: {s.prompt_tokens:,} in, {s.completion_tokens:,} out; "
               f"cost {format_usd(s.cost_usd if self.priced else None)}; {self.seconds:.1f} s"]
        out += [f"  failed because {why}: {n} call(s)" for why, n in sorted(self.errors.items())]
        return out

    def summary(self) -> str:
        return "\n".join(self.lines())


OnProgress = Callable[[Any], None]   # receives an annotation JobProgress after every call


class _Progress:
    """Counts for the shared progress display (pipeline.annotation.display)."""

    def __init__(self, plan: JudgePlan, callback: OnProgress | None):
        from .annotation.job import JobProgress

        self.callback = callback
        self.view = JobProgress(pairs_total=len(plan.pairs), calls_total=plan.calls_total, phase="judging")
        self.orders: dict[str, int] = {}
        self.runner: CallRunner | None = None

    def reset(self) -> None:
        self.orders.clear()
        self.view.pairs_done = 0

    def __call__(self, result: CallResult) -> None:
        n = self.orders[result.item_key] = self.orders.get(result.item_key, 0) + 1
        self.view.pairs_done += n == 2
        s = self.runner.stats
        v = self.view
        v.calls_settled, v.requests, v.failures, v.retries, v.cost_usd = (
            s.settled, s.requests, s.failed, s.retries, s.cost_usd)
        if self.callback:
            self.callback(v)


async def _ask_all(runner: CallRunner, plan: JudgePlan) -> dict[tuple[int, str], CallResult]:
    keys = list(plan.requests)
    results = await asyncio.gather(*(runner.call(plan.requests[k], parse_verdict) for k in keys))
    return dict(zip(keys, results))


def _refused(result: CallResult) -> bool:
    return not result.ok and (result.error or "").startswith("refused by the server")


async def _run(plan: JudgePlan, journal: CallJournal, run_id: int, progress: _Progress,
               client=None) -> tuple[dict, CallStats]:
    """All calls; when the server refuses the logprobs option, ask everything without it."""
    settings = plan.settings
    runner = CallRunner(settings, journal, run_id=run_id, price=plan.price or price_for(plan.model),
                        client=LogprobClient(client or make_async_client(settings)),
                        retry_failed=plan.retry_failed, on_call=progress)
    progress.runner = runner
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
                    key = (r.error or "no answer").split(" (after")[0][:80]
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


def refuse_existing(name: str, db, replace: bool) -> None:
    """Checked before any call is paid for (and again when the labels are written)."""
    if replace:
        return
    with dbmod.reading(db) as con:
        if judge_exists(con, name):
            raise JudgeExists(f"judge {name!r} already exists: use --replace to overwrite it (its labels and fits)")


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


__all__ = ["JudgeLLMError", "JudgeLLMReport", "JudgePlan", "LogprobClient", "PairJudgement", "Verdict", "combine",
           "judge_with_llm", "parse_verdict", "plan_judge", "position_consistency", "refuse_existing", "to_labels"]
