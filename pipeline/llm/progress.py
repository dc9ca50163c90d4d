"""What an LLM job shows while it runs and when it ends: the same for annotate and judge-llm.

`JobProgress` is the live view (pairs, calls settled, calls in flight, retries, timeouts,
money spent, elapsed time), filled from the runner's `CallStats` on every change, so a
server that never answers still shows its calls in flight and the clock running.
`call_lines` are the end summary's lines about calls, tokens and cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from .pricing import format_usd
from .runner import CallStats


@dataclass
class JobProgress:
    """Passed to a progress callback after every change."""
    pairs_total: int
    pairs_done: int = 0
    pairs_failed: int = 0
    calls_total: int = 0
    calls_settled: int = 0
    requests: int = 0
    failures: int = 0
    retries: int = 0
    timeouts: int = 0
    in_flight: int = 0
    cost_usd: float = 0.0
    phase: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def take(self, s: CallStats) -> "JobProgress":
        """Copy the runner's counters."""
        self.calls_settled, self.requests, self.failures = s.settled, s.requests, s.failed
        self.retries, self.timeouts, self.in_flight, self.cost_usd = s.retries, s.timeouts, s.in_flight, s.cost_usd
        return self

    def info(self) -> str:
        # A job that counts calls only (run_calls: `rate`) has no pairs to show, not "pairs 0/0".
        pairs = f"pairs {self.pairs_done}/{self.pairs_total}, " if self.pairs_total else ""
        return (f"{pairs}{self.in_flight} in flight, {self.failures} failed, "
                f"{self.retries} retries" + (f" ({self.timeouts} timed out)" if self.timeouts else "")
                + f", ${self.cost_usd:,.4f}" + (f" | {self.phase}" if self.phase else ""))


OnProgress = Callable[[JobProgress], None]


def progress_bar(console, calls_total: int):
    """(a Rich Progress to use as a context manager, the callback a job calls with its JobProgress)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("calls"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}", markup=False),
                   TimeElapsedColumn(), console=console, transient=False)
    task = bar.add_task("calls", total=calls_total or None, info="")

    def update(p: JobProgress) -> None:
        bar.update(task, completed=p.calls_settled, info=p.info())

    return bar, update


def call_lines(*, requests: int, cached: int, failed: int, invalid: int, retries: int, timeouts: int = 0,
               prompt_tokens: int, completion_tokens: int, cost_usd: float | None, seconds: float,
               errors: dict[str, int]) -> list[str]:
    """The end summary's lines about calls, tokens, cost and why calls failed."""
    timed = f" ({timeouts} timed out)" if timeouts else ""
    out = [f"calls: {requests} answered now, {cached} reused from the journal, {failed} failed, "
           f"{invalid} invalid answers asked again, {retries} transport retries{timed}",
           f"tokens: {prompt_tokens:,} in, {completion_tokens:,} out; cost {format_usd(cost_usd)}; {seconds:.1f} s"]
    return out + [f"  failed because {why}: {n} call(s)" for why, n in sorted(errors.items())]


__all__ = ["JobProgress", "OnProgress", "call_lines", "progress_bar"]
