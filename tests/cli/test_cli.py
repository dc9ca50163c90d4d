"""The command line: options, the database location, and one clear line on bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pipeline.store import db as dbmod
from pipeline.cli import app
from records_factory import make_record

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_load_then_info(tmp_path):
    src = tmp_path / "r.jsonl"
    src.write_text("".join(json.dumps(make_record(i)) + "\n" for i in range(3)))
    db = tmp_path / "x.duckdb"
    result = runner.invoke(app, ["load", str(src), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "3 new pairs" in result.output
    result = runner.invoke(app, ["info", "--db", str(db)])
    assert result.exit_code == 0 and "3 pairs" in result.output


def test_database_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFDISSECT_DB", str(tmp_path / "env.duckdb"))
    assert dbmod.resolve_db_path() == tmp_path / "env.duckdb"
    assert dbmod.resolve_db_path(tmp_path / "opt.duckdb") == tmp_path / "opt.duckdb"
    monkeypatch.delenv("PREFDISSECT_DB")
    assert dbmod.resolve_db_path() == Path("data/preference.duckdb")


def test_bad_record_is_one_clear_line_and_nothing_loaded(tmp_path):
    rec = make_record(0)
    rec["basic_response_2"]["friendly"] = "lots"
    src = tmp_path / "bad.jsonl"
    src.write_text(json.dumps(make_record(1)) + "\n" + json.dumps(rec) + "\n")
    db = tmp_path / "x.duckdb"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "load", str(src), "--db", str(db)],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "record 1" in proc.stderr and "basic_response_2.friendly" in proc.stderr
    assert "nothing was loaded" in proc.stderr
    assert not db.exists()  # a failed first load leaves no file behind


def test_info_without_database(tmp_path):
    result = runner.invoke(app, ["info", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 1
    assert "no database" in result.output


def test_counts_below_one_are_refused_before_anything_runs(tmp_path):
    # --concurrency 0 used to hang for ever, a negative one to crash, and judge-llm's
    # --max-pairs 0 to ask about every pair (and pay for it).
    src = tmp_path / "pairs.jsonl"
    src.write_text('{"prompt": "q", "response_a": "a", "response_b": "b"}\n')
    db = str(tmp_path / "x.duckdb")
    for args in (["annotate", str(src), "--yes", "--concurrency", "0"], ["annotate", str(src), "--max-pairs", "-1"],
                 ["judge-llm", "j", "--concurrency", "-2"], ["judge-llm", "j", "--max-pairs", "0", "--dry-run"]):
        result = runner.invoke(app, [*args, "--db", db])
        assert result.exit_code == 2 and "Invalid value" in result.output, (args, result.output)
    assert not Path(db).exists()


def test_demo_force_is_a_plain_flag():
    result = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert "--force" in result.output and "--no-force" not in result.output


def test_info_shows_whole_source_names_and_groups(tmp_path):
    src = tmp_path / "a_rather_long_source_file_name_for_the_table.jsonl"
    src.write_text("".join(json.dumps(make_record(i)) + "\n" for i in range(3)))
    db = tmp_path / "x.duckdb"
    assert runner.invoke(app, ["load", str(src), "--db", str(db)]).exit_code == 0
    result = runner.invoke(app, ["info", "--db", str(db)], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "…" not in result.output and "2 groups" in result.output  # Daily Tasks, and 'All' (every pair)
    assert "a_rather_long_source_file_name_for_the_table.jsonl" in "".join(
        line.strip("│ ").split("│")[0].strip() for line in result.output.splitlines())
