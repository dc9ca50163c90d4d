"""`annotate` without FILE: stored raw pairs (pairs.annotated = FALSE) get the paper's annotations in place."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dbquery import rows, scalar
from pipeline.annotation import InputError, plan_stored, run_job
from pipeline.cli import app
from pipeline.ingest.release_load import load_records
from pipeline.ingest.loader import load_source
from records_factory import make_record
from test_annotation_job import SAMPLE, make_input, settings

N_RAW = 6


@pytest.fixture
def raw_db(tmp_path):
    """Three annotated release pairs, then six raw labelled pairs (an Arena-style file) without annotations."""
    db = tmp_path / "p.duckdb"
    load_records([make_record(i) for i in range(3)], source="release", db=db)
    load_source(str(make_input(tmp_path / "raw.jsonl", N_RAW)), db=db)
    assert scalar(db, "SELECT count(*) FROM pairs WHERE NOT annotated") == N_RAW
    return db


def test_stored_pairs_are_annotated_in_place(openai_stub, raw_db):
    before = rows(raw_db, "SELECT pair_id, pair_key, query FROM pairs ORDER BY pair_id")
    labels = rows(raw_db, "SELECT pair_id, judge, preferred FROM labels ORDER BY ALL")
    plan = plan_stored(db=raw_db, settings=settings(openai_stub.url))
    assert len(plan.tasks) == plan.rows == N_RAW and plan.calls_total > 0 and plan.est_cost_usd > 0
    assert openai_stub.requests == 0  # planning asks nothing
    summary = run_job(plan)
    assert summary.ok and summary.pairs_annotated == N_RAW, summary.lines()
    assert summary.requests == openai_stub.requests == plan.calls_total
    # the same pairs, now annotated: no new pair, the labels as they were, 29 properties each
    assert rows(raw_db, "SELECT pair_id, pair_key, query FROM pairs ORDER BY pair_id") == before
    assert rows(raw_db, "SELECT pair_id, judge, preferred FROM labels ORDER BY ALL") == labels
    assert scalar(raw_db, "SELECT count(*) FROM pairs WHERE NOT annotated") == 0
    stored = [pid for pid, in rows(raw_db, "SELECT pair_id FROM pairs WHERE source = 'raw.jsonl'")]
    assert scalar(raw_db, "SELECT count(*) FROM ratings WHERE pair_id IN (SELECT pair_id FROM pairs "
                          "WHERE source = 'raw.jsonl')") == N_RAW * 2 * 20
    paper = scalar(raw_db, "SELECT count(DISTINCT property) FROM features f JOIN properties p USING (property) "
                           f"WHERE p.property_set = 'paper' AND f.pair_id IN ({', '.join(map(str, stored))})")
    assert paper == 29
    # a rerun finds nothing left to annotate
    again = plan_stored(db=raw_db, settings=settings(openai_stub.url))
    assert not again.tasks and again.rows == 0


def test_where_max_pairs_and_a_seeded_sample_pick_the_pairs(openai_stub, raw_db):
    s = settings(openai_stub.url)
    odd = plan_stored("pair_id % 2 = 1", db=raw_db, settings=s)
    assert odd.rows == 3 and all(pid % 2 == 1 for pid in odd.stored_ids)
    assert plan_stored(db=raw_db, max_pairs=2, settings=s).stored_ids == sorted(odd.stored_ids + [
        pid for pid in plan_stored("pair_id % 2 = 0", db=raw_db, settings=s).stored_ids])[:2]
    one = plan_stored(db=raw_db, sample=3, seed=7, settings=s).stored_ids
    assert len(one) == 3 and one == plan_stored(db=raw_db, sample=3, seed=7, settings=s).stored_ids
    assert any(plan_stored(db=raw_db, sample=3, seed=k, settings=s).stored_ids != one for k in range(8))
    assert openai_stub.requests == 0


@pytest.mark.parametrize("where, message", [
    ("1; DROP TABLE pairs", "Refused condition"),
    ("pair_id IN (SELECT 1 FROM read_csv('/etc/passwd'))", "Refused condition"),
    ("no_such_column = 1", "cannot be used"),
])
def test_a_bad_condition_is_refused_before_any_call(openai_stub, raw_db, where, message):
    with pytest.raises(InputError, match=message):
        plan_stored(where, db=raw_db, settings=settings(openai_stub.url))
    assert openai_stub.requests == 0


def test_cli_annotates_stored_pairs(openai_stub, raw_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_stub.url)
    runner = CliRunner()
    result = runner.invoke(app, ["annotate", "--db", str(raw_db), "--where", "pair_id % 2 = 1"])
    assert result.exit_code == 1 and "add --yes" in result.output and openai_stub.requests == 0
    result = runner.invoke(app, ["annotate", "--db", str(raw_db), "--where", "pair_id % 2 = 1", "--yes"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "stored pairs without the paper's annotations where pair_id % 2 = 1: 3 match" in out
    assert scalar(raw_db, "SELECT count(*) FROM pairs WHERE NOT annotated") == N_RAW - 3
    result = runner.invoke(app, ["annotate", "--db", str(raw_db), "--where", "pair_id % 2 = 1", "--yes"])
    assert result.exit_code == 1 and "no stored pair without the paper's annotations matches" in result.output
    result = runner.invoke(app, ["annotate", str(tmp_path / "raw.jsonl"), "--db", str(raw_db), "--where", "TRUE"])
    assert result.exit_code == 1 and "give them without FILE" in result.output


def test_where_reads_pair_attributes_like_group_add(openai_stub, tmp_path):
    """`annotate --where "language = 'de'"` takes the condition `group add` and `rate --where` take:
    attribute columns work, and an unknown column is named with the columns there are."""
    import json

    db, src = tmp_path / "arena.duckdb", tmp_path / "arena.jsonl"
    battles = [{"question_id": f"q{i}", "model_a": "m1", "model_b": "m2", "winner": "model_a",
                "language": "de" if i % 3 == 0 else "en",
                "conversation_a": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": "a"}],
                "conversation_b": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": "b"}]}
               for i in range(6)]
    src.write_text("".join(json.dumps(b) + "\n" for b in battles))
    load_source(str(src), db=db)
    german = {pid for pid, in rows(db, "SELECT pair_id FROM pair_attributes WHERE key = 'language' AND value = 'de'")}
    plan = plan_stored("language = 'de'", db=db, settings=settings(openai_stub.url))
    assert set(plan.stored_ids) == german and plan.rows == len(german) == 2
    assert plan_stored("language = 'de'", db=db, max_pairs=1, settings=settings(openai_stub.url)).stored_ids == \
        [min(german)]
    with pytest.raises(InputError, match=r"cannot be used.*langage.*attribute columns: language"):
        plan_stored("langage = 'de'", db=db, settings=settings(openai_stub.url))
    assert openai_stub.requests == 0


def test_a_preview_counts_a_shared_querys_calls_once(openai_stub, tmp_path):
    """Pairs that answer the same query share its calls (reference, query facts): a preview scales
    those by the queries it stands for, the rest by the pairs, and so counts what the full plan counts.
    (Scaled by pairs alone, 12 pairs of 3 queries counted each query's calls 3 times over.)"""
    rows = []
    for i in range(12):
        row = {k: v for k, v in SAMPLE[0].items() if k != "gpt4_ref_output"}
        row.update(id=500 + i, prompt=f"{row['prompt']} (query {i // 4})", response_a=f"{row['response_a']} [{i}]",
                   response_b=f"{row['response_b']} [{i}]", winner="model_a")
        rows.append(row)
    (tmp_path / "shared.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    db = tmp_path / "shared.duckdb"
    load_source(str(tmp_path / "shared.jsonl"), db=db)
    s = settings(openai_stub.url)
    full = plan_stored(db=db, settings=s)
    preview = plan_stored(db=db, preview=4, settings=s)
    assert preview.preview_of == 12 and preview.preview_queries == 3 and len(preview.tasks) == 4
    assert preview.calls_total == full.calls_total and preview.calls_to_make == full.calls_to_make
    assert abs(preview.est_cost_usd - full.est_cost_usd) < 0.1 * full.est_cost_usd
    assert openai_stub.requests == 0


def test_a_preview_plans_a_spread_of_the_pairs_and_scales_the_cost(openai_stub, raw_db):
    """What the Annotate page shows of many pairs: a few read and planned, the calls and cost
    scaled to all, never run. The pairs here need the same calls each, so the scaled counts are
    the full plan's, and the cost is close to it."""
    s = settings(openai_stub.url)
    full = plan_stored(db=raw_db, settings=s)
    preview = plan_stored(db=raw_db, preview=2, settings=s)
    assert preview.preview_of == preview.n_pairs == full.n_pairs == N_RAW and len(preview.tasks) == 2
    assert set(preview.stored_ids) < set(full.stored_ids)
    assert preview.stored_ids[0] == full.stored_ids[0] and preview.stored_ids[1] == full.stored_ids[N_RAW // 2]
    assert preview.calls_total == full.calls_total and preview.calls_to_make == full.calls_to_make
    assert abs(preview.est_cost_usd - full.est_cost_usd) < 0.25 * full.est_cost_usd
    assert any("a preview" in line for line in preview.lines())
    with pytest.raises(ValueError, match="preview"):
        run_job(preview)
    assert openai_stub.requests == 0
    # as many pairs as the preview reads, or fewer: planned whole, as a job plans them
    assert plan_stored(db=raw_db, preview=N_RAW, settings=s).preview_of is None
    capped = plan_stored(db=raw_db, preview=2, max_pairs=4, settings=s)
    assert capped.preview_of == 4 and set(capped.stored_ids) <= set(full.stored_ids[:4])
    sampled = plan_stored(db=raw_db, sample=3, seed=7, preview=2, settings=s)
    assert set(sampled.stored_ids) <= set(plan_stored(db=raw_db, sample=3, seed=7, settings=s).stored_ids)
