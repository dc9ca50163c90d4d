"""Making calls: concurrency, retries, the journal and cost, for any job that asks an LLM.

`CallRunner.call(request, validate)` returns a `CallResult`: the validated answer, or why
there is none. It looks in the journal first, shares one request among callers asking
the same thing at once, keeps at most `concurrency` requests in flight, stores every
answer before validating it, and asks again (a new seed) while answers are invalid.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import openai

from . import retry
from .cache import CallResult, Validate, lookup
from .client import make_async_client
from .config import LLMSettings
from .errors import ErrorKind, InvalidAnswer, JobAborted, LLMError
from .journal import CallJournal
from .pricing import Price
from .request import LLMRequest
from .tokens import approximate


@dataclass
class CallStats:
    """Counters a progress display reads after every change."""
    settled: int = 0            # calls finished this run (answered, cached or failed)
    requests: int = 0           # answers received from the server this run
    cached: int = 0             # calls settled from the journal
    failed: int = 0             # calls that ended without a valid answer
    invalid: int = 0            # invalid answers received (each one asked again or failed)
    retries: int = 0            # transport retries (429, 5xx, timeouts)
    timeouts: int = 0           # requests that got no answer within the timeout
    in_flight: int = 0          # requests sent and not answered yet
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    own_seconds: float = 0.0    # time spent in our code (journal, checks), for the overhead figure
    started: float = field(default_factory=time.monotonic)
    errors: dict[str, int] = field(default_factory=dict)   # "step: kind" -> failed calls

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def settle(self, result: "CallResult") -> None:
        """Count one finished call (online or batch)."""
        self.settled += 1
        if not result.ok:
            self.failed += 1
            kind = (result.kind or ErrorKind.REFUSED).replace("_", " ")
            key = f"{result.step}: {kind}"
            self.errors[key] = self.errors.get(key, 0) + 1


@dataclass
class Answer:
    text: str
    finish_reason: str | None
    response_id: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float


def answer_from_completion(resp: Any, latency_ms: float, req: LLMRequest) -> Answer:
    choice = resp.choices[0] if getattr(resp, "choices", None) else None
    text = (choice.message.content if choice and choice.message else None) or ""
    usage = getattr(resp, "usage", None)
    pt = getattr(usage, "prompt_tokens", None)
    ct = getattr(usage, "completion_tokens", None)
    return Answer(text=text, finish_reason=getattr(choice, "finish_reason", None),
                  response_id=getattr(resp, "id", None),
                  prompt_tokens=pt if pt is not None else approximate(req.prompt_text),
                  completion_tokens=ct if ct is not None else approximate(text),
                  latency_ms=latency_ms)


class CallRunner:
    def __init__(self, settings: LLMSettings, journal: CallJournal, *, run_id: int | None = None,
                 price: Price | None = None, client: openai.AsyncOpenAI | None = None,
                 retry_failed: bool = False, on_call: Callable[[CallResult], None] | None = None,
                 on_change: Callable[[CallStats], None] | None = None):
        self.settings = settings
        self.journal = journal
        self.run_id = run_id
        self.price = price
        self.client = client or make_async_client(settings)
        self.retry_failed = retry_failed
        self.on_call = on_call
        self.on_change = on_change      # also told of sends, answers and retries, not only settled calls
        self.stats = CallStats()
        self._sem = asyncio.Semaphore(settings.concurrency)
        self._inflight: dict[str, asyncio.Future] = {}
        self._failing_in_row = 0
        self._timeouts_in_row = 0
        self._aborted: JobAborted | None = None   # once the job is aborted, every call ends the same way

    async def aclose(self) -> None:
        await self.client.close()

    async def call(self, req: LLMRequest, validate: Validate) -> CallResult:
        fut = self._inflight.get(req.hash)
        if fut is None:  # one request per hash per run, however many ask
            fut = self._inflight[req.hash] = asyncio.ensure_future(self._settle(req, validate))
        return await fut

    # ------------------------------------------------------------------ one call

    async def _settle(self, req: LLMRequest, validate: Validate) -> CallResult:
        try:
            return await self._settle_one(req, validate)
        except JobAborted as exc:
            # Also an abort raised here (the journal has no room: JournalFull) ends the job for the
            # other calls: none is sent after it, so no answer is paid for that cannot be kept.
            self._abort(exc)

    async def _settle_one(self, req: LLMRequest, validate: Validate) -> CallResult:
        t0 = time.perf_counter()
        found = lookup(self.journal, req, validate, retry_failed=self.retry_failed)
        self.stats.own_seconds += time.perf_counter() - t0
        if found.result is not None:
            self.stats.cached += found.result.ok
            return self._done(found.result)
        attempt, last_error = found.answers, "no attempt left"
        for remaining in range(self.settings.max_attempts - found.used, 0, -1):
            try:
                answer = await self._send(req, attempt)
            except LLMError as exc:
                self._record_error(req, attempt, str(exc))
                return self._done(CallResult(req.hash, req.step, req.item_key, False, error=str(exc), kind=exc.kind,
                                             reason=exc.reason))
            t0 = time.perf_counter()
            try:
                value = self._store_and_check(req, attempt, answer, validate, last=remaining == 1)
            except InvalidAnswer as exc:
                last_error = f"invalid answer: {exc}"
                attempt += 1
                continue
            finally:
                self.stats.own_seconds += time.perf_counter() - t0
            return self._done(CallResult(req.hash, req.step, req.item_key, True, value))
        return self._done(CallResult(req.hash, req.step, req.item_key, False,
                                     error=f"{last_error} (after {attempt} answers)",
                                     kind=ErrorKind.INVALID_ANSWER, reason=last_error))

    def _store_and_check(self, req: LLMRequest, attempt: int, answer: Answer, validate: Validate, last: bool):
        """Commit the answer first, then check it: a crash in between loses nothing."""
        cost = self.price.cost(answer.prompt_tokens, answer.completion_tokens) if self.price else None
        call_id = self.journal.add(
            req, run_id=self.run_id, via="online", attempt=attempt, status="received", raw_text=answer.text,
            finish_reason=answer.finish_reason, response_id=answer.response_id,
            prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens,
            cost_usd=cost, latency_ms=answer.latency_ms)
        s = self.stats
        s.requests += 1
        s.prompt_tokens += answer.prompt_tokens
        s.completion_tokens += answer.completion_tokens
        s.cost_usd += cost or 0.0
        try:
            value = validate(answer.text)
        except InvalidAnswer as exc:
            reason = str(exc)
            if answer.finish_reason == "length":
                reason = f"cut off at max_tokens; {reason}"
            self.journal.set_status(call_id, "failed" if last else "invalid", reason)
            s.invalid += 1
            raise InvalidAnswer(reason) from None
        self.journal.set_status(call_id, "ok")
        return value

    def _record_error(self, req: LLMRequest, attempt: int, reason: str) -> None:
        self.journal.add(req, run_id=self.run_id, via="online", attempt=attempt, status="error", error=reason)

    def _done(self, result: CallResult) -> CallResult:
        self.stats.settle(result)
        if self.on_call:
            self.on_call(result)
        self._changed()
        return result

    def _changed(self) -> None:
        if self.on_change:
            self.on_change(self.stats)

    # ------------------------------------------------------------------ the wire

    async def _send(self, req: LLMRequest, attempt: int) -> Answer:
        """One answer from the server, retrying transient failures a bounded number of times."""
        body = req.body(attempt)
        tries = 0
        while True:
            async with self._sem:
                self._check_aborted()
                started = time.perf_counter()
                self.stats.in_flight += 1
                self._changed()
                try:
                    resp = await self.client.chat.completions.create(**body)
                except (openai.APIError, asyncio.TimeoutError) as exc:
                    failure = exc
                else:
                    self._failing_in_row = self._timeouts_in_row = 0
                    return answer_from_completion(resp, (time.perf_counter() - started) * 1000, req)
                finally:
                    self.stats.in_flight -= 1
            self._check_aborted()
            kind = retry.error_kind(failure)
            if kind.fatal:
                self._abort(JobAborted(retry.fatal_message(failure, self.settings), kind))
            if kind is ErrorKind.TIMEOUT:
                self._timed_out()
            if not kind.transient:
                raise LLMError(f"refused by the server: {retry.describe(failure)}", kind)
            limit = self.settings.max_connect_retries if kind is ErrorKind.UNREACHABLE else self.settings.max_retries
            if tries >= limit:
                self._give_up(failure, kind, tries)
            self.stats.retries += 1
            self._changed()
            await asyncio.sleep(retry.retry_delay(failure, tries, self.settings))
            tries += 1

    def _abort(self, exc: JobAborted) -> None:
        self._aborted = self._aborted or exc
        raise self._aborted

    def _check_aborted(self) -> None:
        """Calls still running when the job was aborted end with the first reason, not one of their own."""
        if self._aborted is not None:
            raise self._aborted

    def _timed_out(self) -> None:
        """A silent server is a failure, not a wait: enough timeouts in a row end the job."""
        self.stats.timeouts += 1
        self._timeouts_in_row += 1
        self._changed()
        s = self.settings
        if self._timeouts_in_row >= s.max_timeouts:
            self._abort(JobAborted(f"the server at {s.server} did not answer {self._timeouts_in_row} requests in a row "
                             f"within {s.timeout:g} s each; stopped (answers already received are kept; "
                             f"--timeout SECONDS allows longer)", ErrorKind.TOO_MANY_TIMEOUTS))

    def _give_up(self, failure: BaseException, kind: ErrorKind, tries: int) -> None:
        self._failing_in_row += 1
        reason = retry.describe(failure)
        if self.stats.requests == 0 and kind is ErrorKind.UNREACHABLE:
            self._abort(JobAborted(f"cannot reach the server at {self.settings.server}: {reason}", kind))
        if self._failing_in_row >= self.settings.breaker_threshold:
            self._abort(JobAborted(f"the server at {self.settings.server} stopped answering "
                                   f"({self._failing_in_row} calls in a row failed; last: {reason})",
                                   ErrorKind.SERVER_DOWN))
        raise LLMError(f"{reason} (after {tries + 1} tries)", kind, reason)

