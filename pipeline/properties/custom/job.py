"""`rate FILE.toml`: ask an LLM about your own properties for stored pairs, then store the features.

    plan = plan_rate("props.toml", db=db, where="language = 'de'", max_pairs=500)
    print("\\n".join(plan.lines()))          # calls, tokens, estimated cost; nothing asked yet
    report = run_rate(plan)

The calls go through the shared LLM layer's session (`pipeline.llm.session.run_calls`): the
call journal `<db>.calls.sqlite` (every answer stored before it is checked, reused on a
rerun), retries and backoff, concurrency, cost and the Batch API. The file is checked, and
refused, before any estimate or call (`definition.py`, `store.check_against_db`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...store import db as dbmod
from ...llm import CallResult, CallStats, LLMRequest, LLMSettings, load_template, settings_from_env
from ...llm.pairs import read_pair_texts
from ...llm.progress import OnProgress, call_lines
from ...llm.session import Call as SessionCall
from ...llm.session import CallsEstimate, estimate_calls, run_calls
from . import store
from .definition import CustomProperty, PropertyFile, read_file
from .prompt import JOB, TEMPLATE, PairText, Rated, build_request, chunks, expected_output_tokens, unswap, validator


class RateError(ValueError):
    """Nothing to rate, or nothing could be rated; one line."""


@dataclass
class Call:
    pair: PairText
    props: tuple[CustomProperty, ...]
    request: LLMRequest

    def session_call(self) -> SessionCall:
        return SessionCall(self.request, validator(self.props))


@dataclass
class RatePlan:
    definitions: PropertyFile
    settings: LLMSettings
    db: str                     # the database as --db names it (a file or ducklake:...)
    pairs: list[PairText]
    calls: list[Call]
    estimate: CallsEstimate
    where: str | None = None
    batch: bool = False
    replace: bool = False
    retry_failed: bool = False
    problems: list[str] = field(default_factory=list)     # why it cannot start (no API key, ...)

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def calls_total(self) -> int:
        return self.estimate.calls_total

    @property
    def calls_to_make(self) -> int:
        return self.estimate.calls_to_make

    @property
    def calls_cached(self) -> int:
        return self.estimate.calls_cached

    @property
    def est_cost_usd(self) -> float | None:
        return self.estimate.est_cost_usd

    @property
    def est_prompt_tokens(self) -> int:
        return self.estimate.est_prompt_tokens

    @property
    def prompt_version(self) -> str:
        return load_template(TEMPLATE).version

    def lines(self) -> list[str]:
        s = self.settings
        props = ", ".join(f"{p.name} ({p.scale})" for p in self.definitions.properties)
        per_pair = len(chunks(self.definitions.properties))
        mode = "Batch API (half price, results within 24 h)" if self.batch else f"online, {s.concurrency} at a time"
        return [f"properties: {props} (from {self.definitions.path})",
                f"pairs: {len(self.pairs)}" + (f" where {self.where}" if self.where else "")
                + f"; {per_pair} call(s) per pair ({self.prompt_version})",
                f"model: {s.model} at {s.server}; {mode}",
                *self.estimate.call_lines(), *[f"cannot start: {p}" for p in self.problems]]


def _read_pairs(db, where: str | None, max_pairs: int | None) -> list[PairText]:
    from ...groups import pair_ids

    return read_pair_texts(db, ids=pair_ids(db, where) if where else None, max_pairs=max_pairs)


def plan_rate(file: str | Path, *, db=None, where: str | None = None, max_pairs: int | None = None,
              model: str | None = None, concurrency: int | None = None, timeout: float | None = None,
              batch: bool = False, retry_failed: bool = False, replace: bool = False,
              settings: LLMSettings | None = None) -> RatePlan:
    """Check the file, pick the pairs, count the calls and their cost. Asks and writes nothing.

    Raises PropertyFileError (the file, table and key), GroupError (a bad --where) or RateError."""
    from .definition import builtin_names

    settings = (settings or settings_from_env()).with_(model=model, concurrency=concurrency, timeout=timeout)
    defs = read_file(file, reserved=builtin_names())
    store.check_against_db(defs.properties, str(file), db=db, replace=replace)
    pairs = _read_pairs(db, where, max_pairs)
    if not pairs:
        raise RateError("no pair to rate" + (f" where {where}" if where else "") + " (nothing was asked)")
    parts = chunks(defs.properties)
    calls = [Call(p, part, build_request(p, part, settings)) for p in pairs for part in parts]
    per_call = expected_output_tokens(math.ceil(len(defs.properties) / len(parts)))
    estimate = estimate_calls([c.session_call() for c in calls], db=db, settings=settings,
                              expected_output_tokens=per_call, retry_failed=retry_failed, batch=batch)
    plan = RatePlan(definitions=defs, settings=settings, db=dbmod.database_name(db), pairs=pairs, calls=calls,
                    estimate=estimate, where=where, batch=batch, replace=replace, retry_failed=retry_failed)
    if not settings.api_key:
        plan.problems.append("OPENAI_API_KEY is not set (environment or .env)")
    return plan


# ------------------------------------------------------------------ running


@dataclass
class RateReport:
    properties: list[str]
    pairs: int = 0                    # pairs asked about
    pairs_rated: int = 0              # pairs with every property answered
    ratings: int = 0                  # pair x property features stored
    stats: CallStats = field(default_factory=CallStats)
    errors: dict[str, int] = field(default_factory=dict)
    priced: bool = True
    aborted: str | None = None        # the run stopped early (what was answered is stored)
    seconds: float = 0.0
    written: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        s = self.stats
        out = [f"pairs rated on every property: {self.pairs_rated} of {self.pairs}; "
               f"features stored: {self.ratings} ({', '.join(self.properties)})",
               *call_lines(requests=s.requests, cached=s.cached, failed=s.failed, invalid=s.invalid,
                           retries=s.retries, timeouts=getattr(s, "timeouts", 0), prompt_tokens=s.prompt_tokens,
                           completion_tokens=s.completion_tokens, cost_usd=s.cost_usd if self.priced else None,
                           seconds=self.seconds, errors=self.errors)]
        return out + ([f"stopped early: {self.aborted}; rerun the same command to go on"] if self.aborted else [])


def collect(plan: RatePlan, results: dict[str, CallResult], report: RateReport) -> list[Rated]:
    """The features of every answered call, with the A/B swap undone; failures counted by reason."""
    rated: list[Rated] = []
    complete: dict[int, int] = {}
    for c in plan.calls:
        r = results.get(c.request.hash)
        if r is None or not r.ok:
            reason = ((r.reason or r.error) if r else "not asked") or "no answer"
            report.errors[reason[:80]] = report.errors.get(reason[:80], 0) + 1
            continue
        rated += unswap(c.pair, c.props, r.value)
        complete[c.pair.pair_id] = complete.get(c.pair.pair_id, 0) + 1
    report.pairs_rated = sum(n == len(chunks(plan.definitions.properties)) for n in complete.values())
    return rated


def run_rate(plan: RatePlan, *, progress_callback: OnProgress | None = None, client=None) -> RateReport:
    """Ask every call not answered before, then store definitions, ratings and features in one transaction.

    Raises RateError (with nothing stored) when no call got a valid answer; every answer stays in
    the journal either way, so a rerun asks only what is missing."""
    started = time.perf_counter()
    report = RateReport([p.name for p in plan.definitions.properties], pairs=len(plan.pairs),
                        priced=plan.estimate.price is not None)
    run = run_calls([c.session_call() for c in plan.calls], job=JOB, db=plan.db, settings=plan.settings,
                    batch=plan.batch, retry_failed=plan.retry_failed, progress_callback=progress_callback,
                    info={"file": str(plan.definitions.path), "pairs": len(plan.pairs),
                          "estimated_cost_usd": plan.est_cost_usd}, client=client)
    report.stats, report.aborted = run.stats, run.aborted
    rated = collect(plan, run.results, report)
    report.seconds = time.perf_counter() - started
    if not rated:
        why = run.aborted or ", ".join(sorted(report.errors)) or "no answers"
        raise RateError(f"no call got a valid answer ({why}); nothing was stored")
    report.written = store.save(rated, plan.definitions.properties, file=str(plan.definitions.path),
                                prompt_version=plan.prompt_version, db=plan.db, replace=plan.replace)
    report.ratings = len(rated)
    report.seconds = time.perf_counter() - started
    return report


__all__ = ["RateError", "RatePlan", "RateReport", "plan_rate", "run_rate", "collect"]
