"""The Annotate page on stored raw pairs (pairs.annotated = FALSE): the plan and its cost before
anything is paid for, a condition / maximum / seeded sample, refused conditions in one line, and
the background job (the CLI) against the local OpenAI stub."""

from __future__ import annotations

import json
import time

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as hst
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from dbquery import scalar
from pipeline import jobs
from pipeline.annotation import job_status
from pipeline.cli import app
from pipeline.ingest.loader import load_source
from pipeline.ingest.release_load import load_records
from pipeline.queries.raw_pairs import unannotated_count
from records_factory import make_record

N_RAW = 6
PAGE = "pages/6_Annotate.py"


@pytest.fixture
def raw_db(tmp_path):
    """Two annotated release pairs, then six raw labelled pairs (Arena style) without annotations."""
    db = tmp_path / "raw.duckdb"
    load_records([make_record(i) for i in range(2)], source="release", db=db)
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps({
        "prompt": f"How long do I boil an egg, case {i}?", "response_a": f"About {i + 6} minutes.",
        "response_b": "Until it is done.", "model_a": "model-a", "model_b": "model-b",
        "winner": "model_a" if i % 2 else "model_b"}) + "\n" for i in range(N_RAW)))
    load_source(str(raw), db=db)
    assert unannotated_count(db) == N_RAW
    return db


def open_annotate(db, monkeypatch, stub_url: str) -> AppTest:
    monkeypatch.setenv("PREFDISSECT_DB", str(db))
    monkeypatch.setenv("OPENAI_BASE_URL", stub_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=90)
    at.switch_page(PAGE)
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_stored_pairs_plan_before_paying(raw_db, monkeypatch, openai_stub):
    at = open_annotate(raw_db, monkeypatch, openai_stub.url)
    assert not at.exception, [e.value for e in at.exception]
    source = at.radio(key="ann.source")
    assert source.value.startswith("Stored pairs")  # offered first: there are stored raw pairs
    m = metrics(at)
    assert m["Pairs matching"] == m["Pairs to annotate"] == f"{N_RAW:,}"
    assert m["Estimated cost"].startswith("$") and m["Calls to make"] != "0"
    assert not at.button(key="ann.start").disabled
    # a condition, then a seeded sample, then a maximum: the counts follow
    at.text_input(key="ann.where").input("pair_id % 2 = 1").run()
    odd = scalar(raw_db, "SELECT count(*) FROM pairs WHERE NOT annotated AND pair_id % 2 = 1")
    assert metrics(at)["Pairs matching"] == str(odd)
    at.text_input(key="ann.where").input("").run()
    at.number_input(key="ann.sample").set_value(4).run()
    assert metrics(at)["Pairs to annotate"] == "4"
    at.number_input(key="ann.max").set_value(3).run()
    assert metrics(at)["Pairs to annotate"] == "3"
    at.text_input(key="ann.where").input("pair_id > 100000").run()
    assert at.button(key="ann.start").disabled
    assert any("No stored pair" in i.value for i in at.info)
    assert openai_stub.requests == 0  # planning asks the server nothing


@pytest.mark.parametrize("where", ["DROP TABLE pairs", "1 = 1; DELETE FROM pairs", "no_such_column = 1",
                                   "pair_id IN (SELECT pair_id FROM read_csv('/etc/passwd'))", "((("])
def test_a_refused_condition_is_one_line(where, raw_db, monkeypatch, openai_stub):
    before = raw_db.read_bytes()
    at = open_annotate(raw_db, monkeypatch, openai_stub.url)
    at.text_input(key="ann.where").input(where).run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and warnings[0].startswith("The condition cannot be used") and "\n" not in warnings[0]
    assert "ann.start" not in [b.key for b in at.button]  # no plan, no button
    assert raw_db.read_bytes() == before


def test_upload_mode_when_nothing_is_stored_raw(demo_db, monkeypatch, openai_stub):
    at = open_annotate(demo_db, monkeypatch, openai_stub.url)
    assert not at.exception
    assert at.radio(key="ann.source").value == "A file of new pairs"
    at.radio(key="ann.source").set_value("Stored pairs without annotations").run()
    assert any("Every stored pair already has" in i.value for i in at.info)


@pytest.mark.slow
def test_stored_job_runs_in_the_background(raw_db, monkeypatch, openai_stub):
    """Start on a seeded sample of 2: the CLI job annotates exactly those in place."""
    at = open_annotate(raw_db, monkeypatch, openai_stub.url)
    at.number_input(key="ann.sample").set_value(2).run()
    at.number_input(key="ann.seed").set_value(5).run()
    at.button(key="ann.start").click().run()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        js = job_status(raw_db)
        if js.run and not js.running and js.run.get("state") not in (None, "running"):
            break
        time.sleep(0.5)
    assert unannotated_count(raw_db) == N_RAW - 2, jobs.log_tail(raw_db)
    assert openai_stub.requests > 0
    assert "Traceback" not in (jobs.log_tail(raw_db) or "")
    at.run()  # the page now shows the finished job, on stored pairs, and offers the 4 left
    assert any("Input: stored pairs" in c.value for c in at.caption), [c.value for c in at.caption]
    assert metrics(at)["State"] == "finished"
    at.number_input(key="ann.sample").set_value(None).run()
    assert metrics(at)["Pairs to annotate"] == str(N_RAW - 2)


def test_stored_job_command():
    job = jobs.AnnotateJob(None, "x.duckdb", "m", max_pairs=5, where=" language = 'de' ", sample=3, seed=9)
    cmd = job.command()
    assert cmd[3:5] == ["annotate", "--db"]  # no FILE: the stored pairs
    assert "--where=language = 'de'" in cmd and cmd[cmd.index("--sample"):cmd.index("--sample") + 4] == [
        "--sample", "3", "--seed", "9"]
    # a file job ignores the stored-pair options
    assert "--where" not in " ".join(jobs.AnnotateJob("in.jsonl", "x.duckdb", "m", where="x = 1").command())


_ANNOTATE = typer.main.get_command(app).commands["annotate"]


@settings(max_examples=150, deadline=None)
@given(where=hst.text(hst.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                      max_size=80).filter(lambda s: s.strip()),
       model=hst.text(hst.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                      max_size=20).filter(lambda s: s.strip()))
def test_any_condition_reaches_the_cli_intact(where, model):
    """Whatever the user types (a leading '-', quotes, '=' , newlines), the CLI receives it as the
    --where value, unchanged (one argv token each: no shell, no option injection)."""
    cmd = jobs.AnnotateJob(None, "x.duckdb", model, where=where).command()
    ctx = _ANNOTATE.make_context("annotate", cmd[4:], resilient_parsing=False)
    assert ctx.params["where"] == where.strip() and ctx.params["model"] == model
    assert ctx.params["file"] is None and ctx.params["yes"] is True


def test_many_stored_pairs_are_previewed(raw_db, monkeypatch, openai_stub):
    """Past PREVIEW_PAIRS the page plans a spread of the pairs (a million took minutes), says so,
    and counts every pair."""
    monkeypatch.setattr("pipeline.annotation.plan.PREVIEW_PAIRS", 2)
    at = open_annotate(raw_db, monkeypatch, openai_stub.url)
    assert not at.exception, [e.value for e in at.exception]
    m = metrics(at)
    assert m["Pairs matching"] == m["Pairs to annotate"] == f"{N_RAW:,}"
    assert m["Estimated cost"].startswith("$") and m["Calls to make"] != "0"
    assert any(f"from 2 of the {N_RAW} pairs" in c.value for c in at.caption), [c.value for c in at.caption]
    assert not at.button(key="ann.start").disabled
