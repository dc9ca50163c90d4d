"""judge-llm against a small OpenAI-compatible server on 127.0.0.1 (no internet).

The server reads the two answers out of the prompt and answers as one of a few judges:
a fair one with logprobs, one that says "A" whatever the order (with or without
logprobs), one without logprobs, and one that rejects the logprobs option.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sqlite3

import duckdb
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.judges import JudgeExists
from pipeline.llm import InvalidAnswer, LLMSettings
from pipeline.judges.llm_judge import JudgeLLMError, judge_with_llm
from pipeline.judges.verdict import Verdict, combine, parse_verdict, position_consistency, to_labels
from pipeline.ingest.release_load import load_records
from journal_room import cap_journal
from openai_stub import OpenAIStub
from records_factory import make_record

N_PAIRS = 40
_ANSWER = re.compile(r"<answer_([AB])>\n(.*?)\n</answer_\1>", re.S)


# ---------------------------------------------------------------- the test server


def _better_is_a(a: str, b: str) -> bool:
    """The stub's taste: the longer answer is better (pair texts are built so one is)."""
    return len(a) > len(b)


def fair(body, a, b):
    """Right answer, confident, with logprobs: P(better) = 0.8, plus a pull towards A."""
    p_a = 0.8 if _better_is_a(a, b) else 0.2
    p_a = min(p_a + 0.1, 0.99)  # position bias: it must cancel out
    return ("A" if p_a > 0.5 else "B"), p_a


def always_a_logprobs(body, a, b):
    """Says A every time, but its probabilities still lean towards the better answer."""
    return "A", (0.9 if _better_is_a(a, b) else 0.6)


def always_a_text(body, a, b):
    return "A", None


def text_only(body, a, b):
    return ("A" if _better_is_a(a, b) else "B"), None


def garbage_first(body, a, b):
    """A useless answer on the first attempt (base seed), a good one when asked again."""
    if body.get("seed") == LLMSettings.seed:
        return "Well,", None
    return text_only(body, a, b)


def _logprobs(text: str, p_a: float | None) -> dict | None:
    """The chat-completions logprobs object for a one-token answer (None: the server gives none)."""
    if p_a is None:
        return None
    top = sorted([{"token": "A", "logprob": math.log(p_a), "bytes": None},
                  {"token": "B", "logprob": math.log(1 - p_a), "bytes": None}], key=lambda t: -t["logprob"])
    return {"content": [{"token": text, "logprob": top[0]["logprob"], "bytes": None, "top_logprobs": top}]}


class JudgeStub(OpenAIStub):
    """The shared test server answering judge prompts as `behaviour(body, a, b) -> (text, P(A) | None)`."""

    def __init__(self, behaviour):
        super().__init__(answer=self._answer, logprobs=self._logprobs)
        self.behaviour = behaviour

    def _ask(self, body):
        answers = dict(_ANSWER.findall(body["messages"][-1]["content"]))
        return self.behaviour(body, answers["A"], answers["B"])

    def _answer(self, body):
        return self._ask(body)[0]

    def _logprobs(self, body, text):
        return _logprobs(text, self._ask(body)[1])


@pytest.fixture
def serve():
    stubs = []

    def start(behaviour, *, reject_logprobs: bool = False) -> tuple[JudgeStub, str]:
        stub = JudgeStub(behaviour)
        stub.reject_logprobs = reject_logprobs
        stubs.append(stub.start())
        return stub, stub.url

    yield start
    for s in stubs:
        s.stop()


# ---------------------------------------------------------------- a small database


def _records() -> list[dict]:
    """Pairs where the longer response is the better one; response 1 is better in even pairs."""
    recs = []
    for i in range(N_PAIRS):
        long, short = f"a long and careful answer number {i} " + "detail " * 10, f"short {i}"
        rec = make_record(i)
        rec["response_1"]["content"], rec["response_2"]["content"] = (long, short) if i % 2 == 0 else (short, long)
        rec["preference_labels"] = {}
        recs.append(rec)
    return recs


@pytest.fixture(scope="module")
def small_template(tmp_path_factory):
    db = tmp_path_factory.mktemp("llm-judge") / "j.duckdb"
    load_records(_records(), source="test", db=db)
    return db


@pytest.fixture
def small_db(small_template, tmp_path, monkeypatch):
    monkeypatch.setenv("PREFDISSECT_TIKTOKEN", "off")  # no encoding download in tests
    db = tmp_path / "j.duckdb"
    shutil.copyfile(small_template, db)
    return db


def _settings(url: str) -> LLMSettings:
    return LLMSettings(model="stub-model", base_url=url, api_key="test", concurrency=8, backoff_base=0.01,
                       max_retries=2, max_connect_retries=0)


def _truth(pair_id: int) -> int:
    return 1 if pair_id % 2 == 0 else 2


def _rows(db, sql, params=()):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params).fetchall()


# ---------------------------------------------------------------- reading one answer


def _env(text, top=None):
    return json.dumps({"text": text, "top": top})


def test_verdict_from_logprobs_renormalised_over_a_and_b():
    v = parse_verdict(_env("A", [[["A", math.log(0.6)], [" B", math.log(0.2)], ["The", math.log(0.2)]]]))
    assert v.via == "logprobs" and v.p_a == pytest.approx(0.75)


def test_verdict_from_text_when_no_logprobs_name_a_letter():
    assert parse_verdict(_env(" B")) == Verdict(0.0, "text")
    assert parse_verdict(_env("**A**", [[["The", -0.1]]])) == Verdict(1.0, "text")
    assert parse_verdict("Answer: B") == Verdict(0.0, "text")  # stored without the envelope
    with pytest.raises(InvalidAnswer, match="expected the letter A or B"):
        parse_verdict(_env("Both are fine"))


def test_orders_combine_so_position_bias_cancels():
    # picks A in both orders, more surely when response 1 is A: response 1 wins, inconsistently
    j = combine(0, Verdict(0.9, "logprobs"), Verdict(0.6, "logprobs"))
    assert j.prob_1 == pytest.approx(0.65) and not j.consistent and not j.tie
    tie = combine(1, Verdict(1.0, "text"), Verdict(1.0, "text"))
    assert tie.prob_1 == 0.5 and tie.tie and not tie.consistent
    agree = combine(2, Verdict(0.0, "text"), Verdict(1.0, "text"))
    assert agree.prob_1 == 0.0 and agree.consistent
    labels, ties = to_labels([j, tie, agree])
    assert [(lab.pair_id, lab.preferred) for lab in labels] == [(0, 1), (2, 2)] and ties == 1
    assert position_consistency([j, tie, agree]) == pytest.approx(1 / 3)


# ---------------------------------------------------------------- against the server


def test_fair_judge_with_logprobs(small_db, serve):
    stub, url = serve(fair)
    report = judge_with_llm("stub-fair", model="stub-model", db=small_db, settings=_settings(url), fit=False)
    assert stub.requests == 2 * N_PAIRS and stub.by_step["judge"] == 2 * N_PAIRS
    assert all(r["logprobs"] and r["top_logprobs"] == 5 and r["max_tokens"] == 1 for r in stub.bodies)
    assert report.position_consistency == 1.0 and report.labels == N_PAIRS and report.via_logprobs == N_PAIRS
    labels = _rows(small_db, "SELECT pair_id, preferred, prob_1 FROM labels WHERE judge = 'stub-fair' ORDER BY 1")
    assert [(p, pref) for p, pref, _ in labels] == [(i, _truth(i)) for i in range(N_PAIRS)]
    # ab gives P(A)=0.9 or 0.3 (0.8/0.2 + 0.1 bias); the other order mirrors it: the bias cancels
    assert all(prob == pytest.approx(0.8 if _truth(p) == 1 else 0.2) for p, _, prob in labels)
    judge = _rows(small_db, "SELECT kind, position_consistency, source FROM judges WHERE judge = 'stub-fair'")[0]
    assert judge[0] == "llm" and judge[1] == 1.0 and "stub-model" in judge[2]
    calls = _rows(small_db, "SELECT count(*), count(DISTINCT pair_key), min(status) FROM llm_calls "
                            "WHERE job = 'judge:stub-fair'")[0]
    assert calls == (2 * N_PAIRS, N_PAIRS, "ok")


def test_always_a_without_logprobs_is_zero_consistency_and_adds_nothing(small_db, serve):
    stub, url = serve(always_a_text)
    with pytest.raises(JudgeLLMError, match="ties") as caught:
        judge_with_llm("stub-a", model="stub-model", db=small_db, settings=_settings(url), fit=False)
    report = caught.value.report
    assert report.position_consistency == 0.0 and report.ties == N_PAIRS and report.labels == 0
    assert _rows(small_db, "SELECT count(*) FROM judges WHERE judge = 'stub-a'")[0][0] == 0
    assert _rows(small_db, "SELECT count(*) FROM labels WHERE judge = 'stub-a'")[0][0] == 0


def test_always_a_with_logprobs_still_labels_from_probabilities(small_db, serve):
    stub, url = serve(always_a_logprobs)
    report = judge_with_llm("stub-a-lp", model="stub-model", db=small_db, settings=_settings(url), fit=False)
    assert report.position_consistency == 0.0 and report.labels == N_PAIRS
    got = _rows(small_db, "SELECT pair_id, preferred, prob_1 FROM labels WHERE judge = 'stub-a-lp' ORDER BY 1")
    assert [(p, pref) for p, pref, _ in got] == [(i, _truth(i)) for i in range(N_PAIRS)]
    assert all(prob == pytest.approx(0.65 if _truth(p) == 1 else 0.35) for p, _, prob in got)
    assert _rows(small_db, "SELECT position_consistency FROM judges WHERE judge = 'stub-a-lp'")[0][0] == 0.0


def test_server_without_logprobs_uses_the_text(small_db, serve):
    stub, url = serve(text_only)
    report = judge_with_llm("stub-text", model="stub-model", db=small_db, settings=_settings(url), fit=False)
    assert report.via_logprobs == 0 and report.position_consistency == 1.0 and report.labels == N_PAIRS
    got = _rows(small_db, "SELECT pair_id, preferred, prob_1 FROM labels WHERE judge = 'stub-text' ORDER BY 1")
    assert got == [(i, _truth(i), 1.0 if _truth(i) == 1 else 0.0) for i in range(N_PAIRS)]


def test_server_refusing_the_logprobs_option_falls_back_to_text(small_db, serve):
    stub, url = serve(text_only, reject_logprobs=True)
    report = judge_with_llm("stub-nolp", model="stub-model", db=small_db, settings=_settings(url), fit=False)
    assert not report.logprobs_used and report.labels == N_PAIRS and report.stats.failed == 0
    assert stub.http_statuses[400] == 1 and stub.requests == 1 + 2 * N_PAIRS
    assert [bool(r.get("logprobs")) for r in stub.bodies] == [True] + [False] * 2 * N_PAIRS  # the probe only


def test_invalid_answer_is_asked_again(small_db, serve):
    stub, url = serve(garbage_first)
    report = judge_with_llm("stub-retry", model="stub-model", db=small_db, settings=_settings(url), fit=False)
    assert report.labels == N_PAIRS and report.stats.invalid == 2 * N_PAIRS
    assert stub.requests == 4 * N_PAIRS  # each call: one useless answer, one good


def test_rate_limits_back_off_and_retry(small_db, serve):
    stub, url = serve(fair)
    stub.fault("429", step="judge", times=3)
    stub.fault("500", step="judge", times=2)
    settings = _settings(url).with_(max_retries=6)  # the first call alone may meet all five
    report = judge_with_llm("stub-429", model="stub-model", db=small_db, settings=settings, fit=False)
    assert report.labels == N_PAIRS and report.stats.retries == 5 and report.stats.failed == 0
    assert stub.http_statuses[429] == 3 and stub.http_statuses[500] == 2


def test_rerun_reuses_answers_and_existing_judge_is_refused_before_any_call(small_db, serve):
    stub, url = serve(fair)
    judge_with_llm("stub-r", model="stub-model", db=small_db, settings=_settings(url), max_pairs=10, fit=False)
    assert stub.requests == 20
    with pytest.raises(JudgeExists):
        judge_with_llm("stub-r", model="stub-model", db=small_db, settings=_settings(url), fit=False)
    assert stub.requests == 20
    report = judge_with_llm("stub-r", model="stub-model", db=small_db, settings=_settings(url), replace=True,
                            fit=True)
    assert stub.requests == 2 * N_PAIRS  # only the 60 calls not answered before
    assert report.stats.cached == 20 and report.labels == N_PAIRS
    # the judge is fitted (one scenario group with 40 labelled pairs)
    assert _rows(small_db, "SELECT count(*) FROM fit_runs WHERE judge = 'stub-r' AND status = 'fitted'")[0][0] >= 1
    # a second judge name with the same model shares the answers: no new call
    judge_with_llm("stub-r2", model="stub-model", db=small_db, settings=_settings(url), fit=False)
    assert stub.requests == 2 * N_PAIRS


def _flat(text: str) -> str:
    return " ".join(text.split())  # Rich wraps long lines at the test terminal's width


def test_cli_judge_llm(small_db, serve, monkeypatch):
    stub, url = serve(fair)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    runner = CliRunner()
    args = ["judge-llm", "cli-judge", "--model", "stub-model", "--db", str(small_db), "--max-pairs", "6", "--no-fit"]
    result = runner.invoke(app, args + ["--dry-run"])
    assert result.exit_code == 0, result.output
    assert "calls: 12 needed" in _flat(result.output) and stub.requests == 0
    result = runner.invoke(app, args + ["--size", "7", "--note", "stub"])
    assert result.exit_code == 0, result.output
    assert "position consistency: 100.0%" in _flat(result.output) and stub.requests == 12
    assert _rows(small_db, "SELECT size_b, note FROM judges WHERE judge = 'cli-judge'") == [(7.0, "stub")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "already exists" in _flat(result.output)


def test_a_journal_without_room_stops_the_calls_in_one_line_and_keeps_its_answers(small_db, serve, monkeypatch):
    """SQLite's max_page_count makes the journal's file refuse to grow (SQLITE_FULL, "database or
    disk is full"), as a full disk does: the job stops asking, says so in one line, keeps what it
    stored, and a run with room goes on from there."""
    stub, url = serve(fair)
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    room = cap_journal(monkeypatch, 2)
    args = ["judge-llm", "full", "--model", "stub-model", "--db", str(small_db), "--no-fit", "--concurrency", "2"]
    result = CliRunner().invoke(app, args)
    lines = _flat(result.output).split("error: ")[1:]
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output  # no traceback
    assert len(lines) == 1 and "has no room (database or disk is full)" in lines[0], result.output
    assert lines[0].endswith("make room there and run the job again to go on (no judge was added)")
    with sqlite3.connect(str(small_db) + ".calls.sqlite") as con:
        kept = con.execute("SELECT count(*) FROM calls WHERE status = 'ok'").fetchone()[0]
    asked = stub.requests
    # it stopped: the answer that found no room, and at most one more call in flight (concurrency 2)
    assert 0 < kept < 2 * N_PAIRS and asked <= kept + 2
    room["pages"] = None
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert stub.requests - asked == 2 * N_PAIRS - kept  # what was kept is not asked again
    assert _rows(small_db, "SELECT count(*) FROM labels WHERE judge = 'full'")[0][0] == N_PAIRS


def test_cli_judge_llm_without_a_server_is_one_line(small_db, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: nothing listens
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    result = CliRunner().invoke(app, ["judge-llm", "x", "--model", "stub-model", "--db", str(small_db),
                                      "--max-pairs", "2"])
    assert result.exit_code == 1
    assert "cannot reach the server" in _flat(result.output) and "Traceback" not in result.output
    assert _rows(small_db, "SELECT count(*) FROM judges WHERE judge = 'x'")[0][0] == 0
