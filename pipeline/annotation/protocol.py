"""Running the steps for one pair, online or in batch rounds, and turning answers into a record.

Stage A needs only the pair: reference (unless the input brings one), query facts,
query-aware and query-free ratings. Stage B needs stage A: the follow-up needs the facts,
the accuracy check needs the reference. Online, each pair moves on to stage B as soon
as its own stage A is back; in batch mode every pair's stage A is one batch, then B.
`NEEDS` says which stage-A answer each stage-B step needs; `expected_calls` applies it to
plan a pair's calls before any is made (the cost estimate).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from ..llm import CallResult, CallRunner, LLMRequest, LLMSettings, load_template
from ..llm.batch import BatchRunner
from ..llm.cache import Validate
from . import steps
from .resolve import build_record
from .steps import ACCURACY, AWARE, FACTS, FOLLOWUP, FREE, REFERENCE, Facts, PairTask

Calls = dict[str, tuple[LLMRequest, Validate]]
Settled = Callable[[LLMRequest, Validate], CallResult | None]   # what the journal holds for a request

NEEDS = {FOLLOWUP: FACTS, ACCURACY: REFERENCE}   # a stage-B step -> the stage-A answer it is built from
# stand-ins for answers not known yet when planning: the later prompt gets about its real size
_PLACEHOLDER_FACTS = Facts("Yes", "No", ["a constraint stated in the query"], [], [])


@lru_cache(maxsize=None)
def expected_output_tokens(step: str) -> int:
    return load_template(steps.TEMPLATES[step]).int_meta("expected_output_tokens", 200)


@dataclass
class ExpectedCall:
    step: str
    request: LLMRequest
    found: CallResult | None          # what the journal holds: an answer, a failure, or None (to ask)


@dataclass
class PairOutcome:
    task: PairTask
    record: dict | None = None
    error: str | None = None          # 'step: reason; step: reason' when the pair failed
    first_failure: str | None = None  # 'step: reason' of its first failed step (without retry counts)


class Protocol:
    def __init__(self, settings: LLMSettings):
        self.settings = settings

    def versions(self) -> dict[str, str]:
        return {step: load_template(name).version for step, name in steps.TEMPLATES.items()}

    def stage_a(self, task: PairTask) -> Calls:
        s = self.settings
        calls: Calls = {}
        if not task.pair.reference:
            calls[REFERENCE] = (steps.reference_request(task, s), steps.parse_reference)
        calls[FACTS] = (steps.facts_request(task, s), steps.parse_facts)
        calls[AWARE] = (steps.aware_request(task, s), steps.parse_aware)
        calls[FREE] = (steps.free_request(task, s), steps.parse_free)
        return calls

    def stage_b(self, task: PairTask, facts: Facts | None, reference: str | None) -> Calls:
        calls: Calls = {}
        if facts is not None:
            req = steps.followup_request(task, self.settings, facts)
            if req is not None:
                calls[FOLLOWUP] = (req, lambda text: steps.parse_followup(text, facts))
        if reference:
            calls[ACCURACY] = (steps.accuracy_request(task, self.settings, reference), steps.parse_accuracy)
        return calls

    def expected_calls(self, task: PairTask, settled: Settled, retry_failed: bool = False) -> list[ExpectedCall]:
        """Every call the pair will need, each with what the journal already holds for it.

        A stage-B call whose input is not answered yet is built on a placeholder, counted as
        still to ask; one whose input failed (and is not retried) is left out: it is never asked.
        """
        first = self.stage_a(task)
        found = {step: settled(req, v) for step, (req, v) in first.items()}
        known = {step: r for step, r in found.items() if r is not None and r.ok}
        facts = known[FACTS].value if FACTS in known else None
        reference = task.pair.reference or (known[REFERENCE].value if REFERENCE in known else None)
        placeholder_reference = "word " * expected_output_tokens(REFERENCE)
        out = [ExpectedCall(step, req, found[step]) for step, (req, _) in first.items()]
        for step, (req, v) in self.stage_b(task, facts or _PLACEHOLDER_FACTS, reference or placeholder_reference).items():
            need = found.get(NEEDS[step])
            if need is not None and not need.ok and not retry_failed:
                continue
            exact = facts is not None if step == FOLLOWUP else reference is not None
            out.append(ExpectedCall(step, req, settled(req, v) if exact else None))
        return out

    @staticmethod
    def facts_and_reference(task: PairTask, results: dict[str, CallResult]) -> tuple[Facts | None, str | None]:
        facts = results[FACTS].value if results[FACTS].ok else None
        reference = task.pair.reference
        if not reference and results[REFERENCE].ok:
            reference = results[REFERENCE].value
        return facts, reference

    def outcome(self, task: PairTask, results: dict[str, CallResult]) -> PairOutcome:
        failed = [(step, r) for step, r in results.items() if not r.ok]
        if failed:
            return PairOutcome(task, error="; ".join(f"{step}: {r.error}" for step, r in failed),
                               first_failure=f"{failed[0][0]}: {failed[0][1].reason}")
        facts, reference = self.facts_and_reference(task, results)
        record = build_record(
            task, model=self.settings.model, reference=reference, facts=facts,
            followup=task.unswap(*results[FOLLOWUP].value) if FOLLOWUP in results else None,
            aware=task.unswap(*results[AWARE].value), free=task.unswap(*results[FREE].value),
            accuracy=task.unswap(*results[ACCURACY].value), versions=self.versions(),
            reference_given=bool(task.pair.reference))
        return PairOutcome(task, record=record)


async def annotate_pair(proto: Protocol, runner: CallRunner, task: PairTask) -> PairOutcome:
    """All calls of one pair, each as soon as what it needs is known."""
    pending = {step: asyncio.ensure_future(runner.call(req, v)) for step, (req, v) in proto.stage_a(task).items()}
    try:
        results = {FACTS: await pending[FACTS]}
        if REFERENCE in pending:
            results[REFERENCE] = await pending[REFERENCE]
        facts, reference = proto.facts_and_reference(task, results)
        pending.update({step: asyncio.ensure_future(runner.call(req, v))
                        for step, (req, v) in proto.stage_b(task, facts, reference).items()})
        for step, fut in pending.items():
            results[step] = await fut
    except BaseException:
        for fut in pending.values():
            fut.cancel()
        raise
    return proto.outcome(task, results)


def annotate_in_batches(proto: Protocol, runner: BatchRunner, tasks: list[PairTask],
                        on_stage: Callable[[str], None] | None = None) -> list[PairOutcome]:
    """Stage A of every pair as one batch job, then stage B."""
    by_task: list[dict[str, CallResult]] = [{} for _ in tasks]
    for stage in ("A", "B"):
        if on_stage:
            on_stage(stage)
        wanted: list[tuple[int, str, LLMRequest, Validate]] = []
        for i, task in enumerate(tasks):
            if stage == "A":
                calls = proto.stage_a(task)
            else:
                calls = proto.stage_b(task, *proto.facts_and_reference(task, by_task[i]))
            wanted += [(i, step, req, v) for step, (req, v) in calls.items()]
        answers = runner.run([(req, v) for _, _, req, v in wanted])
        for i, step, req, _ in wanted:
            by_task[i][step] = answers[req.hash]
    return [proto.outcome(task, results) for task, results in zip(tasks, by_task)]
