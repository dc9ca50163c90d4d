"""Which failures are worth another try, and how long to wait before it.

429s, 5xx, timeouts and dropped connections are retried with exponential backoff (the
server's retry-after wins when it sends one), a bounded number of times. A bad key, an
unknown model or an exhausted quota abort the job: every other call would fail the same.
A request the server rejects (400) fails that call alone.
"""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

import openai

from .config import LLMSettings, redact
from .errors import ErrorKind

def error_kind(exc: BaseException) -> ErrorKind:
    """The kind of a transport failure, decided from the exception's class and status."""
    if isinstance(exc, (openai.APITimeoutError, TimeoutError)):
        return ErrorKind.TIMEOUT
    if isinstance(exc, openai.APIConnectionError):
        return ErrorKind.UNREACHABLE
    if isinstance(exc, openai.RateLimitError):
        return ErrorKind.NO_QUOTA if _code(exc) == "insufficient_quota" else ErrorKind.RATE_LIMITED
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return ErrorKind.AUTH
    if isinstance(exc, openai.NotFoundError):
        return ErrorKind.UNKNOWN_MODEL
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return ErrorKind.SERVER_ERROR if status >= 500 or status in (408, 409) else ErrorKind.REFUSED
    return ErrorKind.REFUSED


def describe(exc: BaseException) -> str:
    """A one-line reason, without the request body or any header."""
    if isinstance(exc, openai.APIStatusError):
        message = _message(exc)
        return f"HTTP {exc.status_code}" + (f": {message}" if message else "")
    if isinstance(exc, (openai.APITimeoutError, TimeoutError)):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return redact(f"connection failed ({type(cause).__name__}: {cause})")[:300]
    return redact(f"{type(exc).__name__}: {exc}")[:300]


def fatal_message(exc: BaseException, settings: LLMSettings) -> str:
    if isinstance(exc, openai.AuthenticationError):
        return f"the server at {settings.server} refused the API key (HTTP 401): check OPENAI_API_KEY"
    if isinstance(exc, openai.PermissionDeniedError):
        return f"the server at {settings.server} denied access (HTTP 403): {_message(exc)}"
    if isinstance(exc, openai.NotFoundError):
        return f"the server at {settings.server} does not know model '{settings.model}' (HTTP 404)"
    if isinstance(exc, openai.RateLimitError):
        return f"the account at {settings.server} has no quota left (HTTP 429 insufficient_quota)"
    return f"the server at {settings.server} failed: {describe(exc)}"


def with_retries(fn, settings: LLMSettings, on_retry=None):
    """fn() with the same policy as online calls, for the Batch API's own requests (upload, poll, ...)."""
    import time

    tries = 0
    while True:
        try:
            return fn()
        except openai.APIError as exc:
            kind = error_kind(exc)
            if not kind.transient or tries >= settings.max_retries:
                raise
            if on_retry:
                on_retry()
            time.sleep(retry_delay(exc, tries, settings))
            tries += 1


def retry_delay(exc: BaseException, retry_no: int, settings: LLMSettings) -> float:
    """Seconds to wait before retry number `retry_no` (0-based)."""
    hinted = _retry_after(exc)
    if hinted is not None:
        return min(max(hinted, 0.0), settings.backoff_cap)
    backoff = settings.backoff_base * (2 ** retry_no)
    return min(backoff * (0.5 + random.random() / 2), settings.backoff_cap)  # jitter spreads the herd


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:  # an HTTP date
        return (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds()
    except (TypeError, ValueError):
        return None


def _body(exc: BaseException) -> dict:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        return body.get("error", body) if isinstance(body.get("error", body), dict) else body
    return {}


def _code(exc: BaseException) -> str | None:
    return getattr(exc, "code", None) or _body(exc).get("code")


def _message(exc: BaseException) -> str:
    msg = _body(exc).get("message") or ""
    return redact(str(msg))[:200]
