"""A full custom-property run against the local OpenAI stub: swap undone, journal reused, batch, fitted."""

from __future__ import annotations

import json
import random
import re

import pytest
from typer.testing import CliRunner

from dbquery import rows, scalar
from openai_stub import OpenAIStub
from pipeline.cli import app
from pipeline.properties.custom import PropertyFileError, plan_rate, run_rate
from pipeline.properties.custom.prompt import PairText
from pipeline.llm import LLMSettings
from pipeline.ingest.loader import load_source

runner = CliRunner()

PROPS_TOML = '''
[[property]]
name = "humour"
question = "Which response uses more humour?"
scale = "compare"

[[property]]
name = "hedging"
question = "How much does the response hedge its claims?"
scale = "rating"
description = "Words such as maybe."
'''


def _response(rnd: random.Random) -> tuple[str, int, int]:
    jokes, hedges = rnd.randint(0, 3), rnd.randint(0, 5)
    text = "Here is my answer. " + "haha " * jokes + "maybe " * hedges + "Done."
    return text, jokes, hedges


def make_pairs(n: int, seed: int = 3) -> list[dict]:
    """Arena rows whose winner is mostly the response with more jokes (a planted humour effect)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        (a, ja, _), (b, jb, _) = _response(rnd), _response(rnd)
        if ja == jb:  # no ties in jokes, so every label says something about humour
            b, jb = b + " haha", jb + 1
        funnier = "model_a" if ja > jb else "model_b"
        other = "model_b" if funnier == "model_a" else "model_a"
        q = f"question {i}"
        out.append({"question_id": f"q{i}", "model_a": "m1", "model_b": "m2",
                    "winner": funnier if rnd.random() < 0.85 else other, "language": "de" if i % 4 == 0 else "en",
                    "conversation_a": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                    "conversation_b": [{"role": "user", "content": q}, {"role": "assistant", "content": b}]})
    return out


def _tag(text: str, name: str) -> str:
    m = re.search(rf"<{name}>\n(.*?)\n</{name}>", text, re.S)
    return m.group(1) if m else ""


def answer(body: dict) -> str | None:
    """What a careful rater would say about the responses as shown (A and B)."""
    text = body["messages"][-1]["content"]
    if "<response_A>" not in text:
        return None
    a, b = _tag(text, "response_A"), _tag(text, "response_B")
    shape = json.loads(text.strip().splitlines()[-1])
    out = {}
    for name in shape:
        if name == "humour":
            ja, jb = a.count("haha"), b.count("haha")
            out[name] = "A" if ja > jb else "B" if jb > ja else "same"
        else:
            out[name] = {"A": min(3, a.count("maybe")), "B": min(3, b.count("maybe"))}
    return json.dumps(out)


def truth(db) -> dict[tuple[int, str], int]:
    sign = lambda x: (x > 0) - (x < 0)  # noqa: E731
    out = {}
    for pid, r1, r2 in rows(db, "SELECT pair_id, response_1, response_2 FROM pairs"):
        out[(pid, "humour")] = sign(r1.count("haha") - r2.count("haha"))
        out[(pid, "hedging")] = sign(min(3, r1.count("maybe")) - min(3, r2.count("maybe")))
    return out


@pytest.fixture
def setup(tmp_path):
    db = tmp_path / "raw.duckdb"
    src = tmp_path / "arena.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in make_pairs(80)))
    load_source(str(src), db=db)
    props = tmp_path / "props.toml"
    props.write_text(PROPS_TOML)
    with OpenAIStub(answer=answer) as stub:
        settings = LLMSettings(model="stub-model", base_url=stub.url, api_key="test", batch_poll_interval=0.01,
                               concurrency=4)
        yield db, props, stub, settings


def stored_features(db) -> dict[tuple[int, str], int]:
    return {(p, n): v for p, n, v in rows(db, "SELECT f.pair_id, f.property, f.value FROM features f JOIN "
                                              "properties USING (property) WHERE property_set = 'custom'")}


def test_a_full_run_stores_features_with_the_swap_undone(setup):
    db, props, stub, settings = setup
    plan = plan_rate(props, db=db, settings=settings)
    assert plan.calls_total == 80 and plan.calls_to_make == 80
    assert any("estimated tokens" in line for line in plan.lines())
    report = run_rate(plan)
    assert report.pairs_rated == 80 and report.ratings == 160 and stub.requests == 80
    assert stored_features(db) == truth(db)
    pairs = [PairText(*r) for r in rows(db, "SELECT pair_id, pair_key, query, response_1, response_2 FROM pairs")]
    assert 20 < sum(p.swapped for p in pairs) < 60       # both orders were shown, and both were undone
    ratings = {(p, r): s for p, r, s in rows(db, "SELECT pair_id, response, score FROM custom_ratings")}
    for pid, r1, r2 in rows(db, "SELECT pair_id, response_1, response_2 FROM pairs"):
        assert (ratings[(pid, 1)], ratings[(pid, 2)]) == (min(3, r1.count("maybe")), min(3, r2.count("maybe")))
    assert rows(db, "SELECT property_index, property, source_key FROM properties WHERE property_set = 'custom' "
                    "ORDER BY 1") == [(0, "humour", "compare"), (1, "hedging", "rating")]
    assert rows(db, "SELECT property, scale, prompt_version FROM custom_properties ORDER BY property") == \
        [("hedging", "rating", "custom_properties@1"), ("humour", "compare", "custom_properties@1")]
    assert scalar(db, "SELECT count(*) FROM llm_calls WHERE job = 'custom-properties' AND status = 'ok'") == 80


def test_a_rerun_reuses_the_journal_and_asks_nothing(setup):
    db, props, stub, settings = setup
    run_rate(plan_rate(props, db=db, settings=settings))
    asked = stub.requests
    again = plan_rate(props, db=db, settings=settings)
    assert again.calls_cached == 80 and again.calls_to_make == 0 and again.est_prompt_tokens == 0
    report = run_rate(again)
    assert stub.requests == asked and report.stats.cached == 80 and report.pairs_rated == 80
    assert stored_features(db) == truth(db)


def test_invalid_answers_are_asked_again(setup):
    db, props, stub, settings = setup
    stub.fault("malformed", times=3)
    report = run_rate(plan_rate(props, db=db, settings=settings, max_pairs=10))
    assert report.pairs_rated == 10 and report.stats.invalid == 3 and stub.requests == 13
    assert scalar(db, "SELECT count(*) FROM llm_calls WHERE status = 'invalid'") == 3


def test_batch_api_gives_the_same_features(setup):
    db, props, stub, settings = setup
    report = run_rate(plan_rate(props, db=db, settings=settings, batch=True))
    assert report.pairs_rated == 80 and len(stub.batches) == 1
    assert stored_features(db) == truth(db)
    assert scalar(db, "SELECT count(*) FROM llm_calls WHERE via = 'batch' AND status = 'ok'") == 80


def test_where_picks_the_pairs(setup):
    db, props, stub, settings = setup
    plan = plan_rate(props, db=db, settings=settings, where="language = 'de'")
    assert len(plan.pairs) == 20
    run_rate(plan)
    assert {p for p, _ in stored_features(db)} == {r[0] for r in rows(
        db, "SELECT pair_id FROM pair_attributes WHERE key = 'language' AND value = 'de'")}


def test_the_custom_set_is_fitted_and_finds_the_planted_effect(setup):
    db, props, stub, settings = setup
    run_rate(plan_rate(props, db=db, settings=settings))
    from pipeline.model.fitting import fit_database

    report = fit_database(db, property_set="custom", groups=["All"], min_labels=20)
    assert report.fitted == 1
    weights = dict(rows(db, "SELECT property, weight FROM fits WHERE property_set = 'custom' AND judge = 'human' "
                            "AND group_name = 'All'"))
    assert set(weights) == {"humour", "hedging"}
    low = scalar(db, "SELECT ci_low FROM fits WHERE property_set = 'custom' AND property = 'humour'")
    assert low > 0 and abs(weights["hedging"]) < weights["humour"]


def test_a_stored_property_is_not_redefined_without_replace(setup):
    db, props, stub, settings = setup
    run_rate(plan_rate(props, db=db, settings=settings, max_pairs=5))
    props.write_text(PROPS_TOML.replace("Which response uses more humour?", "Which response is funnier?"))
    with pytest.raises(PropertyFileError, match="'humour' is stored with another question"):
        plan_rate(props, db=db, settings=settings)
    asked = stub.requests
    report = run_rate(plan_rate(props, db=db, settings=settings, max_pairs=3, replace=True))
    assert report.pairs_rated == 3 and stub.requests == asked + 3
    assert scalar(db, "SELECT count(*) FROM features WHERE property = 'humour'") == 3   # old ratings gone
    assert scalar(db, "SELECT question FROM custom_properties WHERE property = 'humour'") == \
        "Which response is funnier?"


# ------------------------------------------------------------------ the command


def _env(monkeypatch, stub):
    monkeypatch.setenv("OPENAI_BASE_URL", stub.url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")


def test_rate_command_end_to_end(setup, monkeypatch):
    db, props, stub, _ = setup
    _env(monkeypatch, stub)
    result = runner.invoke(app, ["rate", str(props), "--db", str(db), "--model", "stub-model", "--max-pairs", "8",
                                 "--yes"])
    assert result.exit_code == 0, result.output
    assert "pairs rated on every property: 8 of 8" in result.output and "fit --properties custom" in result.output
    result = runner.invoke(app, ["rate", str(props), "--db", str(db), "--model", "stub-model", "--max-pairs", "8",
                                 "--dry-run"])
    assert result.exit_code == 0 and "0 to make" in result.output


BAD_FILES = [
    ('[[property]]\nname = "x"\nquestion = "q?"\nscale = "compare"\ncolour = "red"\n', "key 'colour': unknown key"),
    ('[[property]]\nname = "x"\nquestion = "q?"\nscale = "likert"\n', "key 'scale': 'likert' is not a scale"),
    ('[[property]]\nname = "lengthy"\nquestion = "q?"\nscale = "rating"\n', "clashes with the built-in property"),
    ('[[property]]\nname = "bold spans"\nquestion = "q?"\nscale = "rating"\n', "clashes with the built-in property"),
]


@pytest.mark.parametrize("text, why", BAD_FILES)
def test_a_bad_file_is_refused_before_any_call(setup, monkeypatch, tmp_path, text, why):
    db, _, stub, _ = setup
    _env(monkeypatch, stub)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    result = runner.invoke(app, ["rate", str(bad), "--db", str(db), "--yes"])
    assert result.exit_code == 1
    assert why in result.output and str(bad) in result.output and "nothing was asked" in result.output
    assert "Traceback" not in result.output
    assert stub.requests == 0 and scalar(db, "SELECT count(*) FROM custom_properties") == 0


def test_no_server_means_one_line_and_nothing_stored(setup):
    import socket

    db, props, stub, settings = setup
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = LLMSettings(model="stub-model", base_url=f"http://127.0.0.1:{port}/v1", api_key="test",
                       max_connect_retries=0, backoff_base=0.01)
    from pipeline.properties.custom import RateError

    with pytest.raises(RateError, match="nothing was stored") as err:
        run_rate(plan_rate(props, db=db, settings=dead, max_pairs=4))
    assert "\n" not in str(err.value)
    assert scalar(db, "SELECT count(*) FROM custom_properties") == 0
