"""The OpenAI Batch API path: half the price, answers within a day, resumable.

A round writes the calls not yet answered to a requests file, uploads it, creates a
batch, polls it, and ingests the output into the journal exactly like online answers
(stored first, then checked). Invalid answers go into the next round with a new seed.
The journal's `batches` table records each step before it is taken, so a rerun after a
crash polls the batch it already paid for instead of submitting a new one.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable

import openai

from .cache import CallResult, Validate, lookup
from .client import make_sync_client
from .config import LLMSettings, redact
from .errors import ErrorKind, InvalidAnswer, JobAborted
from .journal import ANSWER_STATES, CallJournal
from .pricing import Price
from .request import LLMRequest
from .runner import CallStats
from . import retry

ENDPOINT = "/v1/chat/completions"
MAX_REQUESTS = 50_000            # the Batch API's limit per file
MAX_BYTES = 190 * 1024 * 1024    # and its 200 MB limit, with room to spare
TERMINAL = ("completed", "failed", "expired", "cancelled")


class BatchRunner:
    def __init__(self, settings: LLMSettings, journal: CallJournal, *, job: str, workdir: Path,
                 run_id: int | None = None, price: Price | None = None, client: openai.OpenAI | None = None,
                 retry_failed: bool = False, on_call: Callable[[CallResult], None] | None = None,
                 on_poll: Callable[[Any], None] | None = None):
        self.settings, self.journal, self.job, self.run_id = settings, journal, job, run_id
        self.workdir = Path(workdir)
        self.price = price
        self.client = client or make_sync_client(settings)
        self.retry_failed = retry_failed
        self.on_call, self.on_poll = on_call, on_poll
        self.stats = CallStats()

    def run(self, items: list[tuple[LLMRequest, Validate]]) -> dict[str, CallResult]:
        """Settle every call: from the journal where possible, else through batch rounds."""
        results: dict[str, CallResult] = {}
        todo: dict[str, tuple[LLMRequest, Validate]] = {}
        for req, validate in items:
            if req.hash in results or req.hash in todo:
                continue
            found = lookup(self.journal, req, validate, retry_failed=self.retry_failed)
            if found.result is not None:
                self.stats.cached += found.result.ok
                results[req.hash] = self._done(found.result)
            else:
                todo[req.hash] = (req, validate)
        rounds = 0
        while todo:
            rounds += 1
            if rounds > self.settings.max_attempts + 2:
                for req, _ in todo.values():
                    results[req.hash] = self._done(CallResult(
                        req.hash, req.step, req.item_key, False, kind=ErrorKind.BATCH_FAILED,
                        error=f"no valid answer after {rounds - 1} batch rounds"))
                break
            batches = [b for b in self.journal.open_batches(self.job) if set(json.loads(b["hashes"])) & todo.keys()]
            if not batches:
                batches = [self._submit(chunk) for chunk in self._chunks(todo)]
            for row in batches:
                self._finish(row, todo)
            for h in list(todo):
                req, validate = todo[h]
                found = lookup(self.journal, req, validate)
                if found.result is not None:
                    found.result.cached = False
                    results[h] = self._done(found.result)
                    del todo[h]
        return results

    # ------------------------------------------------------------------ submitting

    def _chunks(self, todo: dict[str, tuple[LLMRequest, Validate]]):
        lines: dict[str, tuple[str, list[int]]] = {}
        size = 0
        for h, (req, validate) in todo.items():
            found = lookup(self.journal, req, validate, retry_failed=self.retry_failed)
            line = json.dumps({"custom_id": h, "method": "POST", "url": ENDPOINT, "body": req.body(found.answers)},
                              ensure_ascii=False)
            if lines and (len(lines) >= MAX_REQUESTS or size + len(line) > MAX_BYTES):
                yield lines
                lines, size = {}, 0
            lines[h] = (line, [found.answers, found.used])
            size += len(line) + 1
        if lines:
            yield lines

    def _submit(self, chunk: dict[str, tuple[str, list[int]]]) -> dict[str, Any]:
        content = ("\n".join(line for line, _ in chunk.values()) + "\n").encode("utf-8")
        sha = hashlib.sha256(content).hexdigest()
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"{self.job.replace(':', '_')}-{sha[:12]}.jsonl"
        path.write_bytes(content)
        hashes = {h: meta for h, (_, meta) in chunk.items()}
        row_id = self.journal.add_batch(self.job, self.run_id, sha, str(path), hashes)
        row = {"batch_row": row_id, "input_sha": sha, "input_path": str(path), "input_file_id": None,
               "batch_id": None, "hashes": json.dumps(hashes)}
        return self._create(row)

    def _create(self, row: dict[str, Any]) -> dict[str, Any]:
        """Upload and create, recording each id the moment we have it."""
        try:
            if not row["input_file_id"]:
                path = Path(row["input_path"])
                uploaded = self._call(lambda: self.client.files.create(file=(path.name, path.read_bytes()),
                                                                       purpose="batch"))
                row["input_file_id"] = uploaded.id
                self.journal.update_batch(row["batch_row"], input_file_id=uploaded.id)
            batch = self._find_remote(row["input_file_id"]) or self._call(lambda: self.client.batches.create(
                input_file_id=row["input_file_id"], endpoint=ENDPOINT, completion_window="24h",
                metadata={"prefdissect_job": self.job[:500], "prefdissect_sha": row["input_sha"]}))
        except openai.APIError as exc:
            raise JobAborted(f"the Batch API at {self.settings.server} failed: {retry.describe(exc)}",
                             retry.error_kind(exc)) from None
        row["batch_id"] = batch.id
        self.journal.update_batch(row["batch_row"], batch_id=batch.id, state="submitted", remote_status=batch.status)
        return row

    def _find_remote(self, input_file_id: str):
        """A batch created for this file by a run that died before recording it."""
        try:
            for batch in self._call(lambda: self.client.batches.list(limit=100)):
                if batch.input_file_id == input_file_id:
                    return batch
        except openai.APIError:
            return None
        return None

    # ------------------------------------------------------------------ collecting

    def _finish(self, row: dict[str, Any], todo: dict[str, tuple[LLMRequest, Validate]]) -> None:
        if not row.get("batch_id"):
            row = self._create(row)
        while True:
            try:
                batch = self._call(lambda: self.client.batches.retrieve(row["batch_id"]))
            except openai.APIError as exc:
                raise JobAborted(f"cannot follow batch {row['batch_id']}: {retry.describe(exc)}",
                                 retry.error_kind(exc)) from None
            self.journal.update_batch(row["batch_row"], remote_status=batch.status)
            if self.on_poll:
                self.on_poll(batch)
            if batch.status in TERMINAL:
                break
            time.sleep(self.settings.batch_poll_interval)
        hashes = json.loads(row["hashes"])
        with self.journal.transaction():
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    content = self._call(lambda: self.client.files.content(file_id))
                    for line in content.text.splitlines():
                        if line.strip():
                            self._ingest(json.loads(line), hashes, todo)
        if batch.status == "failed" and not batch.output_file_id:
            errors = getattr(getattr(batch, "errors", None), "data", None) or []
            reason = "; ".join(getattr(e, "message", str(e)) for e in errors[:3]) or "no reason given"
            self.journal.update_batch(row["batch_row"], state="done")
            raise JobAborted(f"the Batch API rejected batch {batch.id}: {reason}", ErrorKind.BATCH_FAILED)
        self.journal.update_batch(row["batch_row"], state="done")

    def _ingest(self, line: dict[str, Any], hashes: dict[str, list[int]], todo) -> None:
        h = line.get("custom_id")
        if h not in hashes or h not in todo:
            return
        req, validate = todo[h]
        attempt, used = hashes[h]
        if any(r.attempt == attempt and r.status in ANSWER_STATES for r in self.journal.rows_for(h)):
            return  # ingested before a crash
        response = line.get("response") or {}
        body = response.get("body") or {}
        if response.get("status_code") != 200 or not body.get("choices"):
            error = line.get("error") or body.get("error") or {}
            reason = error.get("message") if isinstance(error, dict) else str(error)
            self.journal.add(req, run_id=self.run_id, via="batch", attempt=attempt, status="error",
                             error=redact(f"batch request failed: {reason or response.get('status_code')}"))
            return
        choice = body["choices"][0]
        text = (choice.get("message") or {}).get("content") or ""
        usage = body.get("usage") or {}
        pt, ct = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        cost = self.price.cost(pt, ct, batch=True) if self.price else None
        call_id = self.journal.add(req, run_id=self.run_id, via="batch", attempt=attempt, status="received",
                                   raw_text=text, finish_reason=choice.get("finish_reason"),
                                   response_id=body.get("id"), prompt_tokens=pt, completion_tokens=ct,
                                   cost_usd=cost)
        s = self.stats
        s.requests += 1
        s.prompt_tokens, s.completion_tokens, s.cost_usd = s.prompt_tokens + pt, s.completion_tokens + ct, \
            s.cost_usd + (cost or 0.0)
        try:
            validate(text)
        except InvalidAnswer as exc:
            s.invalid += 1
            last = used + 1 >= self.settings.max_attempts
            self.journal.set_status(call_id, "failed" if last else "invalid", str(exc))
            return
        self.journal.set_status(call_id, "ok")

    def _call(self, fn):
        """One Batch API request, retried like online calls when the failure is transient."""
        def count() -> None:
            self.stats.retries += 1
        return retry.with_retries(fn, self.settings, on_retry=count)

    def _done(self, result: CallResult) -> CallResult:
        self.stats.settle(result)
        if self.on_call:
            self.on_call(result)
        return result
