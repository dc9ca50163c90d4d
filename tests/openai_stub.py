"""A small OpenAI-compatible server for tests and benchmarks (127.0.0.1 only, no internet).

It answers /v1/chat/completions for the annotation steps (recognised from the prompt),
and enough of /v1/files and /v1/batches for the Batch API path. Faults can be injected:
malformed JSON, missing fields, fenced JSON, empty answers, 429 with retry-after, 500,
400, 401, slow answers. It counts requests per step and per request fingerprint (model and
messages, not the seed), so tests can prove that no answered call was asked twice.

    with OpenAIStub(latency=0.01) as stub:
        stub.fault("malformed", step="query-free-basic")   # next such request gets broken JSON
        ... OPENAI_BASE_URL=stub.url ...

Other jobs (judge-llm) can pass `answer=callable(body) -> str | None` to answer their
own prompts; None falls back to the annotation answers. `logprobs=callable(body, text)`
returns the choice's "logprobs" object for requests that ask for logprobs (None: the
server gives none), and `reject_logprobs = True` answers such requests with a 400, as
servers without logprobs support do. `hang = {"step", ...}` (or {"*"}) takes such requests
and never answers them (until the stub stops); `SilentServer` is a bare socket server that
accepts connections and never says a word.

Run alone: `python tests/openai_stub.py --latency 0.2` prints its URL and serves until killed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

GROUPS = ["Advice", "Code", "Communication", "Creative Writing", "Daily Tasks", "Exam Questions",
          "Functional Writing", "Knowledge-aware", "NLP Tasks", "Others", "Unsafe Queries"]
QS_KEYS = ["clarify user intent", "showing empathetic", "satisfying explicit constraints",
           "supporting explicit subjective stances", "correcting explicit mistakes or biases"]


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8], 16)


def fingerprint(body: dict) -> str:
    return hashlib.sha256(json.dumps([body.get("model"), body.get("messages")], sort_keys=True).encode()).hexdigest()[:16]


def detect_step(body: dict) -> str:
    text = "\n".join(m.get("content") or "" for m in body.get("messages", []))
    if "<answer_A>" in text:  # judge-llm's pairwise prompt
        return "judge"
    if not body.get("response_format"):
        return "reference"
    for marker, step in (('"applicable or not"', "accuracy"), ('"harmlessness"', "query-free-basic"),
                         ('"relevance without considering inaccuracy"', "query-aware-basic"),
                         ('"explicitly express feelings"', "query-facts"), ('"response_a"', "query-followup")):
        if marker in text:
            return step
    return "unknown"


def _tag(text: str, name: str) -> str:
    m = re.search(rf"<{name}>\n(.*?)\n</{name}>", text, re.S)
    return m.group(1) if m else ""


def _shape(text: str) -> str:
    return [line for line in text.splitlines() if line.startswith('{"response_a"')][-1]


def annotation_answer(body: dict, step: str) -> dict | str:
    """A plausible, valid answer for each annotation step."""
    text = body["messages"][-1]["content"]
    query = _tag(text, "user_message") or text
    q = _h(query)
    if step == "reference":
        return f"A reference answer to: {query[:80]}"
    if step == "query-facts":
        return {"clear intent": "No" if q % 5 == 0 else "Yes",
                "explicitly express feelings": "Yes" if q % 7 == 0 else "No",
                "explicit constraints": ["keep it short"],
                "explicit subjective stances": ["the user likes cats"] if q % 3 == 0 else [],
                "explicit mistakes or biases": ["says the sky is green"] if q % 4 == 0 else [],
                "scenario_group": GROUPS[q % len(GROUPS)]}
    a, b = _h(_tag(text, "response_a")), _h(_tag(text, "response_b"))
    if step == "query-followup":
        shape = _shape(text)
        one = {}
        for key in QS_KEYS:
            m = re.search(rf'"{key}": (<0-3>|\[(.*?)\])', shape)
            if not m:
                continue
            if m.group(1) == "<0-3>":
                one[key] = 2
            else:
                items = re.findall(r'"(.*?) \| <', m.group(2))
                value = "2" if "constraints" in key else ("Weakly supported" if "stances" in key
                                                          else "Pointed out and corrected")
                one[key] = [f"{item} | {value}" for item in items]
        return {"response_a": one, "response_b": dict(one)}
    if step in ("query-aware-basic", "query-free-basic"):
        template = json.loads(_shape(text))["response_a"]
        return {"response_a": {k: (a >> i) % 4 for i, k in enumerate(template)},
                "response_b": {k: (b >> i) % 4 for i, k in enumerate(template)}}
    if step == "accuracy":
        err = {"brief description": "a small slip", "severity": ["minor", "moderate", "severe"][a % 3],
               "type": "factual error"}
        return {"response_a": {"applicable or not": "applicable", "errors": [err] if a % 2 else []},
                "response_b": {"applicable or not": "not applicable" if b % 9 == 0 else "applicable",
                               "errors": []}}
    return {"answer": "A"}


def _break(answer: dict | str, fault: str) -> str:
    if fault == "malformed":
        return '{"response_a": {"harmlessness": 3,,, oops'
    if fault == "empty":
        return ""
    if fault == "missing" and isinstance(answer, dict):
        answer = dict(answer)
        answer.pop(next(iter(answer)))
    text = answer if isinstance(answer, str) else json.dumps(answer)
    if fault == "fenced":
        return f"Here you go:\n```json\n{text}\n```\nHope this helps."
    return text


class OpenAIStub:
    def __init__(self, latency: float = 0.0, answer: Callable[[dict], Any] | None = None,
                 polls_before_done: int = 1, host: str = "127.0.0.1", port: int = 0,
                 logprobs: Callable[[dict, str], Any] | None = None):
        self.latency = latency
        self.answer = answer
        self.logprobs = logprobs
        self.reject_logprobs = False              # 400 for requests asking for logprobs
        self.polls_before_done = polls_before_done
        self.always: str | None = None            # a fault for every request: 'malformed', '401', ...
        self.retry_after = "0.05"
        self.slow_seconds = 2.0
        self.hang: set[str] = set()               # steps ('*': all) whose requests are never answered
        self._released = threading.Event()        # set on stop: hung handlers give up
        self._faults: deque[tuple[str, str | None]] = deque()
        self.lock = threading.Lock()
        self.by_fingerprint: Counter[str] = Counter()
        self.by_step: Counter[str] = Counter()
        self.http_statuses: Counter[int] = Counter()
        self.requests = 0
        self.bodies: list[dict] = []              # every chat request, in arrival order
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self._server = _Server((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    # ------------------------------------------------------------------ control

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "OpenAIStub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "OpenAIStub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def fault(self, kind: str, step: str | None = None, times: int = 1) -> None:
        """The next `times` requests (of `step`, if given) get this fault."""
        with self.lock:
            self._faults.extend([(kind, step)] * times)

    def _take_fault(self, step: str) -> str | None:
        with self.lock:
            for i, (kind, only) in enumerate(self._faults):
                if only in (None, step):
                    del self._faults[i]
                    return kind
        return self.always

    # ------------------------------------------------------------------ answers

    def complete(self, body: dict, *, delay: float = 0.0) -> tuple[int, dict, dict]:
        """(status, headers, json) for one chat completion, counted on arrival, answered after `delay`."""
        step = detect_step(body)
        fault = self._take_fault(step)
        with self.lock:
            self.requests += 1
            self.by_step[step] += 1
            self.by_fingerprint[fingerprint(body)] += 1
            self.bodies.append(body)
        if delay:
            time.sleep(delay)
        if self.hang & {step, "*"}:
            self._released.wait(60)  # the client's timeout must end this, not us
            return 599, {}, {"error": {"message": "released"}}
        if self.reject_logprobs and body.get("logprobs"):
            return 400, {}, {"error": {"message": "logprobs is not supported by this model",
                                       "type": "invalid_request_error", "param": "logprobs"}}
        if fault == "429":
            return 429, {"retry-after": self.retry_after}, {"error": {"message": "slow down", "type": "rate_limit"}}
        if fault == "500":
            return 500, {}, {"error": {"message": "boom", "type": "server_error"}}
        if fault == "400":
            return 400, {}, {"error": {"message": "prompt too long", "type": "invalid_request_error"}}
        if fault == "401":
            return 401, {}, {"error": {"message": "bad key", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}}
        if fault == "slow":
            time.sleep(self.slow_seconds)
        custom = self.answer(body) if self.answer else None
        answer = custom if custom is not None else annotation_answer(body, step)
        text = _break(answer, fault or "")
        prompt = sum(len(m.get("content") or "") for m in body.get("messages", []))
        return 200, {}, {
            "id": f"chatcmpl-{self.requests}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "logprobs": self.logprobs(body, text) if self.logprobs and body.get("logprobs") else None,
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt // 4 + 1, "completion_tokens": len(text) // 4 + 1,
                      "total_tokens": prompt // 4 + len(text) // 4 + 2}}

    def _batch_object(self, b: dict) -> dict:
        keys = ("id", "object", "endpoint", "input_file_id", "completion_window", "status", "output_file_id",
                "error_file_id", "created_at", "metadata", "request_counts", "errors")
        return {k: b.get(k) for k in keys}

    def create_batch(self, req: dict) -> dict:
        lines = [json.loads(l) for l in self.files[req["input_file_id"]].decode().splitlines() if l.strip()]
        out, errs = [], []
        for line in lines:
            status, _, body = self.complete(line["body"])
            row = {"id": f"batch_req_{len(out) + len(errs)}", "custom_id": line["custom_id"],
                   "response": {"status_code": status, "request_id": "r", "body": body}, "error": None}
            (out if status == 200 else errs).append(row)
        with self.lock:
            n = len(self.batches) + 1
            out_id, err_id = f"file-out-{n}", f"file-err-{n}" if errs else None
            self.files[out_id] = "\n".join(json.dumps(r) for r in out).encode()
            if err_id:
                self.files[err_id] = "\n".join(json.dumps(r) for r in errs).encode()
            batch = {"id": f"batch_{n}", "object": "batch", "endpoint": req["endpoint"],
                     "input_file_id": req["input_file_id"], "completion_window": req["completion_window"],
                     "status": "validating", "output_file_id": None, "error_file_id": None,
                     "created_at": int(time.time()), "metadata": req.get("metadata"),
                     "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                     "_out": out_id, "_err": err_id, "_polls": 0, "_n": (len(out), len(errs))}
            self.batches[batch["id"]] = batch
        return self._batch_object(batch)

    def poll_batch(self, batch_id: str) -> dict:
        with self.lock:
            b = self.batches[batch_id]
            b["_polls"] += 1
            if b["_polls"] > self.polls_before_done:
                b.update(status="completed", output_file_id=b["_out"], error_file_id=b["_err"])
                b["request_counts"] = {"total": sum(b["_n"]), "completed": b["_n"][0], "failed": b["_n"][1]}
            else:
                b["status"] = "in_progress"
            return self._batch_object(b)

    # ------------------------------------------------------------------ HTTP

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, payload: Any, headers: dict | None = None, raw: bytes | None = None):
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)
                with stub.lock:
                    stub.http_statuses[status] += 1

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                raw = self._body()
                path = self.path.split("?")[0]
                if path.endswith("/chat/completions"):
                    status, headers, payload = stub.complete(json.loads(raw), delay=stub.latency)
                    self._send(status, payload, headers)
                elif path.endswith("/files"):
                    content = _multipart_file(raw, self.headers.get("Content-Type", ""))
                    with stub.lock:
                        fid = f"file-in-{len(stub.files) + 1}"
                        stub.files[fid] = content
                    self._send(200, {"id": fid, "object": "file", "bytes": len(content), "created_at": 0,
                                     "filename": "requests.jsonl", "purpose": "batch", "status": "processed"})
                elif path.endswith("/batches"):
                    self._send(200, stub.create_batch(json.loads(raw)))
                else:
                    self._send(404, {"error": {"message": f"no route {path}"}})

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                m = re.search(r"/files/([^/]+)/content$", path)
                if m and m.group(1) in stub.files:
                    self._send(200, None, raw=stub.files[m.group(1)])
                elif (m := re.search(r"/batches/([^/]+)$", path)) and m.group(1) in stub.batches:
                    self._send(200, stub.poll_batch(m.group(1)))
                elif path.endswith("/batches"):
                    data = [stub._batch_object(b) for b in stub.batches.values()]
                    self._send(200, {"object": "list", "data": data, "has_more": False,
                                     "first_id": data[0]["id"] if data else None,
                                     "last_id": data[-1]["id"] if data else None})
                else:
                    self._send(404, {"error": {"message": f"no route {path}"}})

        return Handler


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers: what a hung server looks like to a client."""

    def __init__(self):
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self._conns: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            self._conns.append(conn)  # kept open, never read from or written to

    def __enter__(self) -> "SilentServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._conns:
            conn.close()
        self._sock.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        import sys
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # a client that went away is no news


def _multipart_file(raw: bytes, content_type: str) -> bytes:
    boundary = content_type.split("boundary=")[-1].strip('"').encode()
    for part in raw.split(b"--" + boundary):
        head, _, body = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return body.rsplit(b"\r\n", 1)[0]
    return b""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    stub = OpenAIStub(latency=args.latency, port=args.port).start()
    print(stub.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stub.stop()
