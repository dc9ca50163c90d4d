"""The terminal view of a job: a Rich progress bar with calls done, failures and money spent."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .job import JobPlan, JobProgress


def progress_bar(console: Console, plan: JobPlan):
    """(the Progress to use as a context manager, the callback run_job calls)."""
    bar = Progress(TextColumn("calls"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                   TimeElapsedColumn(), console=console, transient=False)
    task = bar.add_task("calls", total=plan.calls_total or None, info="")

    def update(p: JobProgress) -> None:
        info = (f"pairs {p.pairs_done}/{p.pairs_total}, {p.failures} failed, {p.retries} retries, "
                f"${p.cost_usd:,.4f}" + (f" | {p.phase}" if p.phase else ""))
        bar.update(task, completed=p.calls_settled, info=info)

    return bar, update
