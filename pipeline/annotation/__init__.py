"""Annotating new pairs with an LLM (SPEC section 7), resumable, then loading them.

Public API (used by the CLI's `annotate` and by the app's Annotate page):
`plan_job(file, ...) -> JobPlan`, `run_job(plan, progress_callback=...) -> JobSummary`,
`job_status(db) -> JobStatus`.
"""

from .inputs import InputError, RawPair, read_pairs
from .job import JobPlan, JobProgress, JobStatus, JobSummary, job_status, plan_job, run_job
from .words import count_words

__all__ = ["InputError", "RawPair", "read_pairs", "JobPlan", "JobProgress", "JobStatus", "JobSummary",
           "job_status", "plan_job", "run_job", "count_words"]
