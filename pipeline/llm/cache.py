"""Answers already paid for: find them in the journal before asking the server again.

Every stored answer is validated again on lookup, so an answer that was stored but not
yet checked when a process died counts, and one that failed an older, stricter check can
count once the check is fixed. Invalid answers since the call was last marked failed
use up its attempts; a call marked failed stays failed unless retried on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .errors import ErrorKind, InvalidAnswer
from .journal import ANSWER_STATES, CallJournal
from .request import LLMRequest

Validate = Callable[[str], Any]


@dataclass
class CallResult:
    request_hash: str
    step: str
    item_key: str
    ok: bool
    value: Any = None
    error: str | None = None    # why there is no answer, in one line
    cached: bool = False        # settled from the journal, no new request
    kind: ErrorKind | None = None   # the kind of failure (None when ok)
    reason: str | None = None   # the error without how many tries it took: for grouping failures

    def __post_init__(self) -> None:
        if not self.ok and self.reason is None:
            self.reason = self.error


@dataclass
class Lookup:
    result: CallResult | None   # settled: a valid answer, or a failure not to be retried
    answers: int                # answers stored so far (the next attempt number)
    used: int                   # invalid answers counting against the current attempts


def lookup(journal: CallJournal, req: LLMRequest, validate: Validate, *, retry_failed: bool = False,
           write: bool = True) -> Lookup:
    """What the journal holds for this request; `write=False` only reads (for plans)."""
    answers = [r for r in journal.rows_for(req.hash) if r.status in ANSWER_STATES]
    last_failed = None
    for i, row in enumerate(answers):
        try:
            value = validate(row.raw_text or "")
        except InvalidAnswer as exc:
            if row.status in ("received", "ok") and write:
                journal.set_status(row.call_id, "invalid", str(exc))
                row.status, row.error = "invalid", str(exc)
            if row.status == "failed":
                last_failed = i
            continue
        if row.status != "ok" and write:
            journal.set_status(row.call_id, "ok")
        return Lookup(CallResult(req.hash, req.step, req.item_key, True, value, cached=True), len(answers), 0)
    if last_failed is not None and not retry_failed:
        error = answers[last_failed].error or "invalid answer"
        failure = CallResult(req.hash, req.step, req.item_key, False,
                             error=f"invalid answer after {len(answers)} tries: {error}", cached=True,
                             kind=ErrorKind.INVALID_ANSWER, reason=f"invalid answer: {error}")
        return Lookup(failure, len(answers), len(answers))
    start = 0 if last_failed is None else last_failed + 1
    return Lookup(None, len(answers), len(answers) - start)
