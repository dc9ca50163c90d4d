"""CallRunner against the local stub server: journal first, reuse, retries, backoff, aborts."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from pipeline.llm import CallJournal, CallRunner, InvalidAnswer, JobAborted, LLMRequest, LLMSettings, extract_object, price_for


def _settings(url: str, **kw) -> LLMSettings:
    base = dict(api_key="sk-test", base_url=url, backoff_base=0.01, backoff_cap=0.2, concurrency=4)
    return LLMSettings(**{**base, **kw})


def _request(i: int = 0) -> LLMRequest:
    return LLMRequest(job="test", step="echo", item_key=f"k{i}", model="gpt-4-turbo",
                      messages=[{"role": "user", "content": f"question {i}"}], prompt_version="echo@1", seed=7)


def _validate(text: str) -> dict:
    obj = extract_object(text)
    if "ok" not in obj:
        raise InvalidAnswer("missing field 'ok'")
    return obj


def _answer(body: dict) -> dict:
    return {"ok": True, "q": body["messages"][-1]["content"]}


def _run(settings, journal, reqs, validate=_validate, **kw):
    async def go():
        runner = CallRunner(settings, journal, price=price_for(settings.model), **kw)
        try:
            return await asyncio.gather(*(runner.call(r, validate) for r in reqs)), runner.stats
        finally:
            await runner.aclose()
    return asyncio.run(go())


@pytest.fixture
def stub(openai_stub):
    openai_stub.answer = _answer
    return openai_stub


@pytest.fixture
def journal(tmp_path):
    with CallJournal(tmp_path / "x.duckdb.calls.sqlite") as j:
        yield j


def _rows(journal):
    return journal.con.execute("SELECT request_hash, status, attempt, raw_text, prompt_tokens, cost_usd, error "
                               "FROM calls ORDER BY call_id").fetchall()


def test_answers_are_journaled_with_cost_and_reused_on_rerun(stub, journal):
    reqs = [_request(i) for i in range(5)]
    results, stats = _run(_settings(stub.url), journal, reqs)
    assert all(r.ok for r in results) and results[3].value["q"] == "question 3"
    rows = _rows(journal)
    assert [r[1] for r in rows] == ["ok"] * 5
    assert all(r[3] and r[4] > 0 and r[5] > 0 for r in rows)
    assert stats.requests == 5 and stats.cost_usd == pytest.approx(sum(r[5] for r in rows))
    results, stats = _run(_settings(stub.url), journal, reqs)
    assert all(r.ok and r.cached for r in results) and stats.cached == 5
    assert stub.requests == 5  # nothing asked twice


def test_identical_requests_in_flight_share_one_call(stub, journal):
    stub.latency = 0.05
    results, stats = _run(_settings(stub.url), journal, [_request(1)] * 6)
    assert all(r.ok for r in results) and stub.requests == 1 and stats.settled == 1


def test_invalid_answers_are_asked_again_with_a_new_seed(stub, journal):
    stub.fault("malformed")
    stub.fault("missing")
    (result,), stats = _run(_settings(stub.url), journal, [_request()])
    assert result.ok and stats.invalid == 2 and stub.requests == 3
    assert [b["seed"] for b in stub.bodies] == [7, 8, 9]
    assert [(r[1], r[2]) for r in _rows(journal)] == [("invalid", 0), ("invalid", 1), ("ok", 2)]
    assert "not valid JSON" in _rows(journal)[0][6] and "missing field" in _rows(journal)[1][6]


def test_never_valid_is_failed_then_skipped_unless_retry_failed(stub, journal):
    stub.always = "malformed"
    (result,), stats = _run(_settings(stub.url, max_attempts=3), journal, [_request()])
    assert not result.ok and "not valid JSON" in result.error and stub.requests == 3
    assert [r[1] for r in _rows(journal)] == ["invalid", "invalid", "failed"]
    (again,), _ = _run(_settings(stub.url), journal, [_request()])
    assert not again.ok and again.cached and stub.requests == 3  # not paid for again
    stub.always = None
    (retried,), _ = _run(_settings(stub.url), journal, [_request()], retry_failed=True)
    assert retried.ok and stub.requests == 4 and stub.bodies[-1]["seed"] == 7 + 3


def test_rate_limits_and_server_errors_back_off_and_retry(stub, journal):
    stub.fault("429", times=2)
    stub.fault("500", times=2)
    started = time.perf_counter()
    (result,), stats = _run(_settings(stub.url), journal, [_request()])
    assert result.ok and stats.retries == 4
    assert stub.http_statuses[429] == 2 and stub.http_statuses[500] == 2
    assert time.perf_counter() - started >= 0.1  # two retry-after waits of 0.05 s
    assert [r[1] for r in _rows(journal)] == ["ok"]  # transport failures are not answers


def test_timeouts_are_retried(stub, journal):
    stub.slow_seconds = 1.0
    stub.fault("slow")
    (result,), stats = _run(_settings(stub.url, timeout=0.3), journal, [_request()])
    assert result.ok and stats.retries >= 1  # on a busy machine a fast answer may time out too


def test_retries_are_bounded_and_a_refused_request_fails_alone(stub, journal):
    stub.fault("500", times=10)
    stub.fault("400")
    results, stats = _run(_settings(stub.url, max_retries=2, concurrency=1), journal, [_request(1), _request(2)])
    by_q = {r.item_key: r for r in results}
    assert not by_q["k1"].ok and "HTTP 500" in by_q["k1"].error and "after 3 tries" in by_q["k1"].error
    assert stats.failed >= 1 and [r[1] for r in _rows(journal)].count("error") >= 1


def test_bad_key_aborts_the_job(stub, journal):
    stub.always = "401"
    with pytest.raises(JobAborted, match="refused the API key"):
        _run(_settings(stub.url), journal, [_request(i) for i in range(3)])


def test_no_server_aborts_quickly():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    with pytest.raises(JobAborted, match="cannot reach the server"):
        import tempfile
        with tempfile.TemporaryDirectory() as d, CallJournal(f"{d}/j.sqlite") as j:
            _run(_settings(f"http://127.0.0.1:{port}/v1"), j, [_request(i) for i in range(4)])
    assert time.perf_counter() - started < 30  # no retry storm; margin for a busy machine


def test_a_server_that_keeps_failing_trips_the_breaker(stub, journal):
    stub.always = "500"
    with pytest.raises(JobAborted, match="stopped answering"):
        _run(_settings(stub.url, max_retries=1, breaker_threshold=3, concurrency=2), journal,
             [_request(i) for i in range(10)])
    assert stub.requests < 20  # it did not go through all ten calls


def test_the_answer_is_stored_before_it_is_checked(stub, journal):
    def crash(text):
        raise RuntimeError("a bug in the parser")

    with pytest.raises(RuntimeError):
        _run(_settings(stub.url), journal, [_request()], validate=crash)
    assert [r[1] for r in _rows(journal)] == ["received"]
    (result,), stats = _run(_settings(stub.url), journal, [_request()])  # the parser is fixed
    assert result.ok and result.cached and stub.requests == 1
    assert [r[1] for r in _rows(journal)] == ["ok"]


def test_run_calls_is_one_journaled_job_that_reuses_answers(stub, tmp_path):
    from pipeline.llm.session import Call, estimate_calls, run_calls

    db = tmp_path / "x.duckdb"
    calls = [Call(_request(i), _validate) for i in range(4)]
    est = estimate_calls(calls, db=db, settings=_settings(stub.url), expected_output_tokens=10)
    assert est.calls_total == est.calls_to_make == 4 and est.est_cost_usd > 0 and stub.requests == 0
    run = run_calls(calls, job="custom:test", db=db, settings=_settings(stub.url))
    assert run.aborted is None and all(r.ok for r in run.results.values())
    assert run.results[calls[2].request.hash].value["q"] == "question 2" and stub.requests == 4
    again = estimate_calls(calls, db=db, settings=_settings(stub.url), expected_output_tokens=10)
    assert again.calls_cached == 4 and again.calls_to_make == 0 and again.est_cost_usd == 0
    run = run_calls(calls, job="custom:test", db=db, settings=_settings(stub.url))
    assert run.stats.cached == 4 and stub.requests == 4
    stub.always = "401"
    run = run_calls([Call(_request(9), _validate)], job="custom:test", db=db, settings=_settings(stub.url))
    assert "refused the API key" in run.aborted
