"""The ways an LLM call can go wrong, as kinds set where the failure happens.

Code that reacts to a failure (retry or not, abort or not, ask again without logprobs,
count it in a summary) reads `ErrorKind`, never the wording of a message.
"""

from __future__ import annotations

from enum import StrEnum

from ..store.errors import DatabaseError


class ErrorKind(StrEnum):
    REFUSED = "refused"                  # the server rejected this request (400, 422, ...): it fails alone
    RATE_LIMITED = "rate_limited"        # 429: wait and send again
    TIMEOUT = "timeout"                  # no answer within the per-request timeout: send again
    SERVER_ERROR = "server_error"        # 5xx, 408, 409: send again
    UNREACHABLE = "unreachable"          # no connection at all: a few tries, then give up
    INVALID_ANSWER = "invalid_answer"    # an answer came (paid for) but is unusable: asked again, new seed
    BATCH_FAILED = "batch_failed"        # the Batch API gave no valid answer for this request
    AUTH = "auth"                        # 401 / 403: nothing will work, abort the job
    UNKNOWN_MODEL = "unknown_model"      # 404: abort
    NO_QUOTA = "no_quota"                # 429 insufficient_quota: abort
    TOO_MANY_TIMEOUTS = "too_many_timeouts"   # the server stays silent: abort
    SERVER_DOWN = "server_down"          # calls keep failing after their retries: abort
    NO_ROOM = "no_room"                  # the call journal's disk is full: no answer can be kept, abort

    @property
    def transient(self) -> bool:
        """Worth sending the same request again after a wait."""
        return self in (ErrorKind.RATE_LIMITED, ErrorKind.TIMEOUT, ErrorKind.SERVER_ERROR, ErrorKind.UNREACHABLE)

    @property
    def fatal(self) -> bool:
        """Every other call would fail the same way: the job stops."""
        return self in (ErrorKind.AUTH, ErrorKind.UNKNOWN_MODEL, ErrorKind.NO_QUOTA,
                        ErrorKind.TOO_MANY_TIMEOUTS, ErrorKind.SERVER_DOWN, ErrorKind.NO_ROOM)


class LLMError(Exception):
    """A failure with its kind; the message is one line meant for the user."""

    def __init__(self, message: str, kind: ErrorKind, reason: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.reason = reason or message   # the message without how many tries it took


class InvalidAnswer(ValueError):
    """An answer arrived (and was paid for) but is not usable: not JSON, a field missing, ...

    Raised by a step's validator; the runner records the reason and asks again.
    """

    kind = ErrorKind.INVALID_ANSWER


class JobAborted(RuntimeError):
    """Going on is pointless: bad key, unknown model, no quota, or the server does not answer.

    Carries one line meant for the user and the kind; everything answered so far stays in the journal.
    """

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.SERVER_DOWN):
        super().__init__(message)
        self.kind = kind


class ConfigError(ValueError):
    """The LLM settings cannot work (no API key, a bad timeout, ...)."""


class PlanUnreadable(DatabaseError):
    """The database could not be read to plan a job, so no call is made (nothing is paid for)."""

    @classmethod
    def of(cls, path, exc: BaseException) -> "PlanUnreadable":
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return cls(f"cannot read {path} to plan the calls ({first}); nothing was asked")
