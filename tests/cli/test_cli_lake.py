"""Every command on a lake, as on a file: load, fit, answers, groups, judges, fits in and out,
annotate, migrate, and the lake's own history; each write one snapshot, no key repeated."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.demo import generate_records
from pipeline.store import db as dbmod
from pipeline.store import keys, lake
from pipeline.store.location import locate

runner = CliRunner()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lake-cli")
    release = folder / "release.jsonl"
    release.write_text("".join(json.dumps(r) + "\n"
                               for r in generate_records(seed=5, group_sizes={"Code": 90, "Advice": 90})))
    raw = folder / "raw.jsonl"
    raw.write_text("".join(json.dumps({"prompt": f"How do I fold a paper crane, step {i}?", "response_a": f"Fold it {i}.",
                                       "response_b": f"Crease it first, then fold {i}.", "model_a": "m-a",
                                       "model_b": "m-b", "winner": "model_a" if i % 2 else "model_b"}) + "\n"
                           for i in range(4)))
    return {"folder": folder, "release": release, "raw": raw}


def cli(db, *args, env=None):
    result = runner.invoke(app, [str(a) for a in args] + ["--db", db], env=env)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def _labels(db, path) -> None:
    with dbmod.reading(db) as con:
        ids = [r[0] for r in con.execute("SELECT pair_id FROM pairs WHERE annotated ORDER BY pair_id").fetchall()]
    path.write_text(json.dumps({str(i): "A" if i % 3 else "B" for i in ids}))


@pytest.mark.slow
def test_every_command_works_on_a_postgres_lake(inputs, pg_lake, tmp_path, monkeypatch, openai_stub):
    db, data = pg_lake
    monkeypatch.setenv(dbmod.ENV_DATA_PATH, str(data))
    monkeypatch.chdir(tmp_path)  # a PostgreSQL lake's local files go to ./data/lakes/
    cli(db, "load", inputs["release"], "--name", "release")
    cli(db, "fit", "--judge", "human", "--judge", "gpt-4-turbo")
    assert "pairs" in cli(db, "info")
    cli(db, "differ", "human", "gpt-4-turbo")
    cli(db, "leaderboard", "--judge", "human", "--min-battles", "1")
    cli(db, "group", "add", "short", "--where", "pair_id < 40")
    assert "short" in cli(db, "group", "list", "--custom")
    labels = tmp_path / "labels.json"
    _labels(db, labels)
    cli(db, "add-judge", "analyst", labels, "--no-fit")
    snapshot = lake.history(locate(db))[0][0]
    cli(db, "export-fits", tmp_path / "fits", "--at", snapshot)
    assert any((tmp_path / "fits").glob("model_*_fitted_paras.jsonl"))
    cli(db, "import-fits", tmp_path / "fits", "--prefix", "again-")
    cli(db, "remove-judge", "analyst")
    cli(db, "group", "remove", "short")
    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": openai_stub.url, "PREFDISSECT_TIKTOKEN": "off"}
    cli(db, "annotate", inputs["raw"], "--yes", "--concurrency", "2", env=env)
    assert "already at" in cli(db, "migrate")
    jobs = [message for _id, _when, _who, message in lake.history(locate(db))]
    # in-process (CliRunner) a commit is named by its command; `python -m pipeline` names it by
    # its whole command line (test_lake.py checks that)
    for job in ("load", "fit", "group", "add-judge", "remove-judge", "import-fits", "annotate"):
        assert job in jobs, (job, jobs)
    assert all("postgres" not in (m or "") for m in jobs)  # never the catalog string
    with dbmod.reading(db) as con:
        assert keys.duplicate_keys(con) == []
        assert con.execute("SELECT count(*) FROM judges WHERE judge = 'analyst'").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM judges WHERE judge LIKE 'again-%'").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM pairs WHERE source <> 'release'").fetchone()[0] == 4
    # the journal of paid answers sits on the local disk, next to the lake's anchor
    assert (tmp_path / dbmod.resolve_db_path(db)).with_name("lake.calls.sqlite").exists()


def test_a_duckdb_file_catalog_lake_takes_loads_and_fits(inputs, tmp_path):
    db = f"ducklake:{tmp_path}/team.ducklake"
    cli(db, "load", inputs["release"])
    cli(db, "load", inputs["release"])  # again: nothing new, no key repeated
    cli(db, "fit", "--judge", "human")
    with dbmod.reading(db) as con:
        assert keys.duplicate_keys(con) == []
        assert con.execute("SELECT count(*) FROM fit_runs WHERE judge = 'human'").fetchone()[0] > 0
    assert (tmp_path / "team.ducklake.files").is_dir() or any(tmp_path.rglob("*.parquet"))
