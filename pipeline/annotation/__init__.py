"""Annotating pairs with an LLM (SPEC section 7), resumable, then loading them.

Public API (used by the CLI's `annotate` and by the app's Annotate page):
`plan_job(file, ...) -> JobPlan` (new raw pairs from a file), `plan_stored(where, ...) -> JobPlan`
(stored pairs without the paper's annotations), `run_job(plan, progress_callback=...) -> JobSummary`,
`job_status(db) -> JobStatus`.
"""

from ..llm.progress import JobProgress
from .inputs import InputError, RawPair, read_pairs
from .job import JobSummary, run_job
from .plan import JobPlan, plan_job, plan_stored
from .status import JobStatus, job_status
from .words import count_words

__all__ = ["InputError", "RawPair", "read_pairs", "JobPlan", "JobProgress", "JobStatus", "JobSummary",
           "job_status", "plan_job", "plan_stored", "run_job", "count_words"]
