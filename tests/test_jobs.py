"""pipeline.jobs: what the app starts for the user (annotation job, uploads, weights zip)."""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile

from pipeline import jobs
from pipeline.llm.config import DEFAULT_MODEL


def test_annotate_command():
    job = jobs.AnnotateJob("in.jsonl", "x.duckdb", DEFAULT_MODEL)
    assert job.command() == [sys.executable, "-m", "pipeline", "annotate", "in.jsonl", "--db", "x.duckdb",
                             "--model", DEFAULT_MODEL, "--yes"]
    full = jobs.AnnotateJob("in.jsonl", "x.duckdb", "m", max_pairs=5, concurrency=3, batch=True, retry_failed=True)
    assert full.command()[-7:] == ["--yes", "--max-pairs", "5", "--concurrency", "3", "--batch", "--retry-failed"]


def test_start_annotate_runs_the_cli_and_logs_it(tmp_path):
    """A real run against a file that is not pairs: the CLI says so in one line, in the log."""
    db = tmp_path / "a.duckdb"
    bad = tmp_path / "not_pairs.jsonl"
    bad.write_text(json.dumps({"nothing": "useful"}) + "\n")
    proc = jobs.start_annotate(jobs.AnnotateJob(str(bad), str(db), DEFAULT_MODEL))
    assert proc.wait(120) != 0
    time.sleep(0.1)
    tail = jobs.log_tail(db)
    assert tail.startswith("\n$ -m pipeline annotate") or "$ -m pipeline annotate" in tail
    assert "Traceback" not in tail
    assert jobs.log_tail(tmp_path / "other.duckdb") is None


def test_save_upload_is_stable_and_stays_in_its_folder(tmp_path):
    a = jobs.save_upload(b"data", "../../etc/passwd", tmp_path / "up")
    assert a.parent == tmp_path / "up" and a.name.endswith("_passwd") and a.read_bytes() == b"data"
    assert jobs.save_upload(b"data", "../../etc/passwd", tmp_path / "up") == a
    assert jobs.save_upload(b"other", "x y.jsonl", tmp_path / "up").name.endswith("_x_y.jsonl")
    assert jobs.uploads_folder(tmp_path / "db.duckdb") == tmp_path / "uploads"


def test_weights_zip(demo_db_fitted):
    z = zipfile.ZipFile(io.BytesIO(jobs.weights_zip(demo_db_fitted, "human")))
    names = z.namelist()
    assert names and all(n.startswith("fitted_paras/model_") for n in names)
    line = json.loads(z.read(names[0]).decode().splitlines()[0])
    assert line["model_name"] == "human" and len(line["parameters"]) == 29
