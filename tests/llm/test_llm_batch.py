"""The Batch API path of the LLM layer: rounds, reuse, and ingesting an output twice."""

from __future__ import annotations

import json

from pipeline.llm import CallJournal, InvalidAnswer, LLMRequest, LLMSettings, extract_object, price_for
from pipeline.llm.batch import BatchRunner


def _req(i: int) -> LLMRequest:
    return LLMRequest(job="test", step="echo", item_key=f"k{i}", model="gpt-4o",
                      messages=[{"role": "user", "content": f"q{i}"}], prompt_version="echo@1", seed=1)


def _validate(text: str) -> dict:
    obj = extract_object(text)
    if "ok" not in obj:
        raise InvalidAnswer("missing field 'ok'")
    return obj


def _runner(stub, journal, tmp_path, **kw) -> BatchRunner:
    s = LLMSettings(api_key="sk", base_url=stub.url, model="gpt-4o", batch_poll_interval=0.01)
    return BatchRunner(s, journal, job="test", workdir=tmp_path / "batches", price=price_for("gpt-4o"), **kw)


def test_batch_rounds_reuse_and_half_price(openai_stub, tmp_path):
    openai_stub.answer = lambda body: {"ok": True, "q": body["messages"][0]["content"]}
    openai_stub.fault("missing")  # one invalid answer: asked again in a second round
    items = [(_req(i), _validate) for i in range(6)] + [(_req(0), _validate)]  # a duplicate is asked once
    with CallJournal(tmp_path / "j.sqlite") as journal:
        runner = _runner(openai_stub, journal, tmp_path)
        results = runner.run(items)
        assert len(results) == 6 and all(r.ok for r in results.values())
        assert len(openai_stub.batches) == 2 and openai_stub.requests == 7
        lines = (tmp_path / "batches").glob("*.jsonl")
        first = sorted(lines)[0].read_text().splitlines()[0]
        assert json.loads(first)["url"] == "/v1/chat/completions"
        rows = journal.con.execute("SELECT via, cost_usd, prompt_tokens, completion_tokens FROM calls "
                                   "WHERE status = 'ok'").fetchall()
        full = price_for("gpt-4o").cost(rows[0][2], rows[0][3])
        assert all(r[0] == "batch" for r in rows) and rows[0][1] == full / 2
        again = _runner(openai_stub, journal, tmp_path).run(items)
        assert all(r.ok and r.cached for r in again.values()) and len(openai_stub.batches) == 2


def test_ingesting_the_same_output_twice_adds_nothing(openai_stub, tmp_path):
    openai_stub.answer = lambda body: {"ok": True}
    with CallJournal(tmp_path / "j.sqlite") as journal:
        runner = _runner(openai_stub, journal, tmp_path)
        todo = {r.hash: (r, _validate) for r in (_req(1), _req(2))}
        (chunk,) = list(runner._chunks(todo))
        row = runner._submit(chunk)
        runner._finish(dict(row), todo)
        runner._finish(dict(row), todo)  # as after a crash between ingesting and marking it done
        assert journal.con.execute("SELECT count(*) FROM calls").fetchone()[0] == 2
