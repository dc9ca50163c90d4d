"""Running the steps for one pair, online or in batch rounds, and turning answers into a record.

Stage A needs only the pair: reference (unless the input brings one), query facts,
query-aware and query-free ratings. Stage B needs stage A: the follow-up needs the facts,
the accuracy check needs the reference. Online, each pair moves on to stage B as soon
as its own stage A is back; in batch mode every pair's stage A is one batch, then B.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from ..llm import CallResult, CallRunner, LLMRequest, LLMSettings, load_template
from ..llm.batch import BatchRunner
from ..llm.cache import Validate
from . import steps
from .resolve import build_record
from .steps import ACCURACY, AWARE, FACTS, FOLLOWUP, FREE, REFERENCE, Facts, PairTask

Calls = dict[str, tuple[LLMRequest, Validate]]


@dataclass
class PairOutcome:
    task: PairTask
    record: dict | None = None
    error: str | None = None          # 'step: reason; step: reason' when the pair failed


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

    @staticmethod
    def facts_and_reference(task: PairTask, results: dict[str, CallResult]) -> tuple[Facts | None, str | None]:
        facts = results[FACTS].value if results[FACTS].ok else None
        reference = task.pair.reference
        if not reference and results[REFERENCE].ok:
            reference = results[REFERENCE].value
        return facts, reference

    def outcome(self, task: PairTask, results: dict[str, CallResult]) -> PairOutcome:
        failures = [f"{step}: {r.error}" for step, r in results.items() if not r.ok]
        if failures:
            return PairOutcome(task, error="; ".join(failures))
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
